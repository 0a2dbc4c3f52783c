"""The host side of a warm sandbox: start the runner (`sandboxes/runner.py`) in a sandbox once, then
send it one session per job (the submission's files, the compile step, each test) over one open
stream. Backends only say how to start the runner's process and how to kill it (`Transport`).

A runner that stops answering (past the run's time limit plus a grace), dies, or cannot empty its
work dirs is killed and replaced before the next job; a run whose program killed its supervisor is
a `runtime_error`, and the session's remaining tests go to a fresh session.
"""

from __future__ import annotations

import json
import queue
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandboxes import common
from sandboxes.base import RunRequest, RunResult, Status
from sandboxes.common import Job, StopRule
from sandboxes.languages import Language, language

RUNNER_SOURCE = (Path(__file__).parent / "runner.py").read_bytes()
PYTHON = "/usr/bin/python3"
# Reads exactly the runner's source from stdin, then runs it with the options as its argv.
BOOTSTRAP = (
    "import os, sys\n"
    "size = int(sys.argv[1])\n"
    "source = b''\n"
    "while len(source) < size:\n"
    "    chunk = os.read(0, size - len(source))\n"
    "    if not chunk:\n"
    "        raise SystemExit(1)\n"
    "    source += chunk\n"
    "sys.argv = ['referee-runner', sys.argv[2]]\n"
    "del size, chunk\n"
    "exec(compile(source, 'referee-runner', 'exec'))\n"
)
HEADER = struct.Struct(">I")
ANSWER_GRACE_S = 10.0
START_TIMEOUT_S = 30.0


def runner_command(options: dict[str, Any]) -> list[str]:
    """The argv that starts a runner inside a sandbox (the same `-I -B` as Python programs get)."""
    return [PYTHON, "-I", "-B", "-c", BOOTSTRAP, str(len(RUNNER_SOURCE)), json.dumps(options)]


class Transport(ABC):
    """The runner's process: its stdin (`write`) and stdout (`read`), and a way to kill it."""

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def read(self) -> bytes:
        """The next bytes of the runner's stdout; b"" once it is gone."""

    @abstractmethod
    def kill(self) -> None:
        """Kill the runner and everything it started; wait until they are gone."""

    def diagnostics(self) -> str:
        """What the runner wrote to stderr, for error messages."""
        return ""


class RunnerGone(RuntimeError):
    """The runner died, did not answer in time, or could not clean up."""


@dataclass
class Captured:
    """One output stream as the runner captured it (`common.Captured`)."""

    value: str
    truncated: bool

    def text(self) -> str:
        return self.value


class WarmRunner:
    """One warm sandbox: a transport to a runner, started on first use and replaced when broken."""

    def __init__(self, start: Callable[[], Transport], max_processes: int | None) -> None:
        self._start = start
        self.max_processes = max_processes
        self._transport: Transport | None = None
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._gone = threading.Event()
        self._last_id = 0

    # The stream -------------------------------------------------------------------------------

    def _connect(self) -> Transport:
        if self._transport is not None and self._gone.is_set():  # died while idle
            self.reset()
        if self._transport is not None:
            return self._transport
        transport: Transport = self._start()
        self._messages, self._gone = queue.Queue(), threading.Event()
        threading.Thread(target=_pump, args=(transport, self._messages, self._gone), daemon=True).start()
        try:
            transport.write(RUNNER_SOURCE)
            hello = self._messages.get(timeout=START_TIMEOUT_S)
        except (OSError, queue.Empty):
            hello = None
        if not hello or not hello.get("ready"):
            detail = transport.diagnostics()
            transport.kill()
            raise RunnerGone(f"the warm sandbox did not start: {detail[-2000:]}")
        self._transport = transport
        return transport

    def _ask(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a request and wait for the answer with its id (an answer to an earlier request that
        was given up on is dropped)."""
        transport = self._connect()
        self._last_id += 1
        deadline = time.monotonic() + timeout
        answer: dict[str, Any] | None = None
        try:
            transport.write(frame({**message, "id": self._last_id}))
            while answer is None or answer.get("id") != self._last_id:
                answer = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
                if answer is None:
                    break
        except (OSError, queue.Empty):
            answer = None
        if answer is None:
            detail = transport.diagnostics()[-2000:]
            self.reset()
            raise RunnerGone(f"the warm sandbox stopped answering{': ' + detail if detail else ''}")
        if answer.get("dirty"):
            self.reset()  # answered, but could not clean up: replace it before the next run
        return answer

    def _tell(self, message: dict[str, Any]) -> None:
        """A message without an answer (`end` of a session)."""
        if self._transport is None:
            return
        try:
            self._transport.write(frame(message))
        except OSError:
            self.reset()

    def reset(self) -> None:
        if self._transport is not None:
            self._transport.kill()
            self._transport = None

    # Jobs -------------------------------------------------------------------------------------

    def run_job(self, job: Job) -> list[RunResult]:
        """Compile once (if the language needs it), then run each input, all in one session."""
        runs = [job.request.model_copy(update={"stdin": stdin}) for stdin in job.stdins]
        files = job.files
        return self._series(job.spec, runs, [files] * len(runs), job.stop)

    def run_programs(self, requests: list[RunRequest], stop: StopRule | None = None) -> list[RunResult]:
        """Several programs of one interpreted language, one after another in one session."""
        spec = language(requests[0].language)
        files = [{spec.source_file(request.source): request.source, **request.files} for request in requests]
        return self._series(spec, requests, files, stop)

    def _series(
        self,
        spec: Language,
        requests: list[RunRequest],
        files: list[dict[str, str]],
        stop: StopRule | None,
    ) -> list[RunResult]:
        results: list[RunResult] = []
        try:
            while len(results) < len(requests) and self._session(spec, requests, files, stop, results):
                pass
        except RunnerGone as exc:
            error = RunResult(status=Status.sandbox_error, error=str(exc))
            results += [error] * (len(requests) - len(results))
        except BaseException:  # e.g. a stop rule that raised: never leave a session open
            self.reset()
            raise
        return results

    def _session(
        self,
        spec: Language,
        requests: list[RunRequest],
        files: list[dict[str, str]],
        stop: StopRule | None,
        results: list[RunResult],
    ) -> bool:
        """Run the remaining requests in one session, appending to `results`; False when the series
        is over (run to the end, stopped early, or a compile failure), True when the session was lost
        midway. Files go to the runner only when they differ from the session's."""
        held: dict[str, str] | None = None
        if spec.compile is not None:
            limits = common.compile_request(spec, requests[len(results)])
            compile_argv = common.compile_argv(spec, requests[len(results)])
            answer = self._run(limits, compile_argv, files[len(results)], save=True, last=False)
            held = files[len(results)]
            compiled = self._result(limits, answer)
            if compiled.status != Status.ok:
                if "exit_code" in answer:
                    self._tell({"end": True})
                results += [common.compile_failure(compiled)] * (len(requests) - len(results))
                return False
        for index in range(len(results), len(requests)):
            last = index == len(requests) - 1
            sent = None if files[index] is held else files[index]
            run_argv = common.run_argv(spec, requests[index])
            answer = self._run(requests[index], run_argv, sent, save=False, last=last)
            held = files[index]
            results.append(self._result(requests[index], answer))
            if "exit_code" not in answer:  # the supervisor is gone: a fresh session for the rest
                return True
            if stop is not None and stop(index, results[-1]):
                if not last:
                    self._tell({"end": True})
                return False
        return False

    def _run(
        self,
        request: RunRequest,
        argv: tuple[str, ...],
        files: dict[str, Any] | None,
        *,
        save: bool,
        last: bool,
    ) -> dict[str, Any]:
        run = {
            "argv": [*argv, *request.argv],
            "stdin": request.stdin,
            "time_limit_s": request.time_limit_s,
            "output_limit_bytes": request.output_limit_bytes,
            "limits": common.rlimits(request, self.max_processes),
        }
        message: dict[str, Any] = {"run": run, "save": save, "last": last}
        if files is not None:
            message["files"] = files
        return self._ask(message, request.time_limit_s + ANSWER_GRACE_S)

    @staticmethod
    def _result(request: RunRequest, answer: dict[str, Any]) -> RunResult:
        if "exit_code" not in answer:  # a hostile program killed its supervisor or its files stuck
            reason = answer.get("lost") or answer.get("error") or "no result"
            return RunResult(status=Status.runtime_error, stderr=f"[sandbox] {reason}")
        return common.result_from(
            request,
            exit_code=answer["exit_code"],
            timed_out=answer["timed_out"],
            stdout=Captured(answer["stdout"], answer["stdout_truncated"]),
            stderr=Captured(answer["stderr"], answer["stderr_truncated"]),
            wall_time_s=answer["wall_time_s"],
            cpu_time_s=answer["cpu_time_s"],
            peak_memory_mb=answer["peak_memory_mb"],
        )


def frame(message: dict[str, Any]) -> bytes:
    """A message as the runner reads it: its length, then its JSON."""
    data = json.dumps(message).encode()
    return HEADER.pack(len(data)) + data


def _pump(transport: Transport, messages: queue.Queue[dict[str, Any] | None], gone: threading.Event) -> None:
    """Cut the runner's stdout into frames; None once the stream ends."""
    buffer = bytearray()
    try:
        while chunk := transport.read():
            buffer += chunk
            while len(buffer) >= HEADER.size:
                (size,) = HEADER.unpack_from(buffer)
                if len(buffer) < HEADER.size + size:
                    break
                messages.put(json.loads(bytes(buffer[HEADER.size : HEADER.size + size])))
                del buffer[: HEADER.size + size]
    except (OSError, ValueError):
        pass
    gone.set()
    messages.put(None)
