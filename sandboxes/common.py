"""What every backend shares: the `Sandbox` base class (slots, compile once, run per input), capped
output, the resource limits of a run, and turning an exit into a status."""

from __future__ import annotations

import functools
import queue
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, ClassVar, Protocol

from sandboxes.base import RunRequest, RunResult, Status
from sandboxes.languages import LANGUAGES, Language, language

INTERPRETED = {name for name, spec in LANGUAGES.items() if spec.compile is None}


class SandboxUnavailable(RuntimeError):
    """The backend cannot run anything right now (e.g. the Docker daemon is down)."""


class Slots:
    """At most `size` runs at once; the rest wait in line (a burst of 4096 queues, it does not fail).

    Each run gets a slot number, which backends use to keep concurrent runs apart (a distinct
    unprivileged uid per slot for the local backend, a distinct container for docker).
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("concurrency must be at least 1")
        self.size = size
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(size):
            self._free.put(slot)

    @contextmanager
    def acquire(self) -> Iterator[int]:
        slot = self._free.get()
        try:
            yield slot
        finally:
            self._free.put(slot)


class CappedReader(threading.Thread):
    """Drain a pipe into memory up to `limit` bytes; past it, call `on_overflow` and keep draining
    into the void so the writer never blocks on a full pipe (a flood cannot exhaust the host)."""

    def __init__(self, pipe: IO[bytes], limit: int, on_overflow: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.pipe, self.limit, self.on_overflow = pipe, limit, on_overflow
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def run(self) -> None:
        try:
            read = getattr(
                self.pipe, "read1", self.pipe.read
            )  # read1: whatever is there, without waiting for more
            while chunk := read(65536):
                self.feed(chunk)
        except (OSError, ValueError):
            pass

    def feed(self, chunk: bytes) -> None:
        if self.truncated:
            return
        room = self.limit - self.size
        self.chunks.append(chunk[:room])
        self.size += min(len(chunk), room)
        if len(chunk) > room:
            self.truncated = True
            self.on_overflow()

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


MAX_FILE_BYTES = 32 << 20
MAX_OPEN_FILES = 256


def rlimits(request: RunRequest, max_processes: int | None = None) -> dict[str, int]:
    """The resource limits of one run, by `prlimit` name: address space, file size, open files, a CPU
    backstop (the wall clock is the real limit) and no core dumps; `max_processes` where the
    backend's uid is its own."""
    limits = {
        "as": (request.memory_limit_mb + language(request.language).reserve_mb) << 20,
        "fsize": MAX_FILE_BYTES,
        "nofile": MAX_OPEN_FILES,
        "cpu": int(request.time_limit_s) + 2,
        "core": 0,
    }
    if max_processes is not None:
        limits["nproc"] = max_processes
    return limits


def prlimit_args(request: RunRequest, max_processes: int | None = None) -> list[str]:
    """`prlimit` options that start a command with the run's `rlimits`."""
    return [
        "prlimit",
        *(f"--{name}={value}" for name, value in rlimits(request, max_processes).items()),
        "--",
    ]


def exit_code_from_shell(code: int) -> int:
    """A shell's or bwrap's exit status 128+N means "killed by signal N": subprocess's -N."""
    return -(code - 128) if code > 128 else code


MEMORY_MARKERS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory")


def classify(
    request: RunRequest,
    *,
    exit_code: int | None,
    timed_out: bool,
    output_overflow: bool,
    stderr: str,
    peak_memory_mb: float | None,
) -> Status:
    """One status per run, most specific first: our own kills, then memory, then the exit. A resident
    peak past the limit is `memory_limit` even after a clean exit: the JVM, V8 and Go get address space
    beyond the limit (`Language.reserve_mb`), so `RLIMIT_AS` alone does not hold them to it."""
    if timed_out:
        return Status.timeout
    if output_overflow:
        return Status.output_limit
    if peak_memory_mb is not None and peak_memory_mb > request.memory_limit_mb:
        return Status.memory_limit
    if exit_code == 0:
        return Status.ok
    near_limit = peak_memory_mb is not None and peak_memory_mb >= 0.9 * request.memory_limit_mb
    if any(marker in stderr for marker in MEMORY_MARKERS) or near_limit:
        return Status.memory_limit
    if exit_code == -signal.SIGXCPU:
        return Status.timeout
    return Status.runtime_error


class Captured(Protocol):
    """A captured output stream: its text and whether it hit the cap."""

    truncated: bool

    def text(self) -> str: ...


def result_from(
    request: RunRequest,
    *,
    exit_code: int | None,
    timed_out: bool,
    stdout: Captured,
    stderr: Captured,
    wall_time_s: float,
    cpu_time_s: float,
    peak_memory_mb: float | None,
) -> RunResult:
    """Assemble a RunResult. `exit_code` < 0 means killed by that signal (subprocess's convention)."""
    stderr_text = stderr.text()
    status = classify(
        request,
        exit_code=exit_code,
        timed_out=timed_out,
        output_overflow=stdout.truncated or stderr.truncated,
        stderr=stderr_text,
        peak_memory_mb=peak_memory_mb,
    )
    return RunResult(
        status=status,
        exit_code=exit_code if exit_code is not None and exit_code >= 0 else None,
        signal=-exit_code if exit_code is not None and exit_code < 0 else None,
        stdout=stdout.text(),
        stderr=stderr_text,
        stdout_truncated=stdout.truncated,
        stderr_truncated=stderr.truncated,
        wall_time_s=round(wall_time_s, 4),
        cpu_time_s=round(cpu_time_s, 4),
        peak_memory_mb=round(peak_memory_mb, 1) if peak_memory_mb is not None else None,
    )


def compile_failure(result: RunResult) -> RunResult:
    """A failed compile, reported as the result of every run that depended on it."""
    status = Status.compile_error if result.status in (Status.runtime_error, Status.ok) else result.status
    return RunResult(
        status=status,
        exit_code=result.exit_code,
        signal=result.signal,
        compile_output=(result.stdout + result.stderr)[-20000:],
        wall_time_s=result.wall_time_s,
        cpu_time_s=result.cpu_time_s,
        error=result.error,
    )


def compile_request(spec: Language, request: RunRequest) -> RunRequest:
    """The compile step of `request`: the language's own time and memory limits, no stdin."""
    return request.model_copy(
        update={"time_limit_s": spec.compile_time_s, "memory_limit_mb": spec.compile_memory_mb, "stdin": ""}
    )


def compile_argv(spec: Language, request: RunRequest) -> tuple[str, ...]:
    assert spec.compile is not None
    return spec.command(spec.compile, request.source, spec.compile_memory_mb)


def run_argv(spec: Language, request: RunRequest) -> tuple[str, ...]:
    """The language's run command; with `stdio_files`, wrapped so that stdin is saved as the input
    file first and the output file is printed after: a program that reads `input.txt` and writes
    `output.txt` is judged like any other (what it prints itself goes to stderr)."""
    argv = spec.command(spec.run, request.source, request.memory_limit_mb)
    if request.stdio_files is None:
        return argv
    script = 'i=$1 o=$2; shift 2; cat >"$i" || exit 125; "$@" >&2; s=$?; [ -f "$o" ] && cat "$o"; exit $s'
    return ("/bin/sh", "-c", script, "sh", *request.stdio_files, *argv)


StopRule = Callable[[int, RunResult], bool]
"""`stop(index, result)` returning True ends a series of runs early."""


@dataclass(frozen=True)
class Job:
    """One `run_tests` call: the program with its language, the inputs, and when to stop early."""

    spec: Language
    request: RunRequest
    stdins: list[str]
    stop: StopRule | None = None

    @property
    def files(self) -> dict[str, str]:
        """The source file and the request's extra files, by name."""
        return {self.spec.source_file(self.request.source): self.request.source, **self.request.files}


Execute = Callable[[RunRequest, tuple[str, ...], bool], RunResult]
"""A backend's way to run one command: (request with limits and stdin, argv, is it the compile step)."""


class SessionRunner(Protocol):
    """A slot's warm sandbox (`sandboxes.warm.WarmRunner`): a submission's runs in one session."""

    def run_job(self, job: Job) -> list[RunResult]: ...

    def run_programs(self, requests: list[RunRequest], stop: StopRule | None = None) -> list[RunResult]: ...


class Sandbox(ABC):
    """A backend. The flow they all share: look up the language, take a slot, compile once, run per
    input. `run` and `run_tests` are thread-safe; the slots bound the concurrency."""

    name: ClassVar[str]
    slots: Slots

    def run(self, request: RunRequest) -> RunResult:
        return self.run_tests(request, [request.stdin])[0]

    def run_tests(
        self, request: RunRequest, stdins: list[str], stop: StopRule | None = None
    ) -> list[RunResult]:
        """Run one program on several inputs, compiling it once (for compiled languages).

        `stop(index, result)` returning True ends the series early (the results so far are returned).
        """
        try:
            spec = language(request.language)
        except ValueError as exc:
            return [RunResult(status=Status.sandbox_error, error=str(exc))] * len(stdins)
        if request.language not in self.languages():
            missing = f"{request.language} is not installed for the {self.name} sandbox"
            return [RunResult(status=Status.sandbox_error, error=missing)] * len(stdins)
        with self.slots.acquire() as slot:
            runner = self._warm_runner(slot)
            job = Job(spec, request, stdins, stop)
            return runner.run_job(job) if runner is not None else self._run_in_slot(slot, job)

    def languages(self) -> frozenset[str]:
        return self._installed

    @functools.cached_property
    def _installed(self) -> frozenset[str]:
        """The languages whose toolchains this backend has, looked up once (every run asks): the
        host's, as the local sandbox sees /usr."""
        return frozenset(name for name, spec in LANGUAGES.items() if spec.available())

    def run_programs(self, requests: list[RunRequest], stop: StopRule | None = None) -> list[RunResult]:
        """Several programs one after another, e.g. one per assert-style test of a submission. A warm
        backend runs programs of one interpreted language in one session, set up once."""
        languages = {request.language for request in requests}
        if len(languages) == 1 and languages <= INTERPRETED:
            with self.slots.acquire() as slot:
                runner = self._warm_runner(slot)
                if runner is not None:
                    return runner.run_programs(requests, stop)
        results: list[RunResult] = []
        for index, request in enumerate(requests):
            results.append(self.run(request))
            if stop is not None and stop(index, results[-1]):
                break
        return results

    def _warm_runner(self, slot: int) -> SessionRunner | None:
        """The slot's warm sandbox, for backends that keep one (`sandboxes.warm`)."""
        return None

    @abstractmethod
    def _run_in_slot(self, slot: int, job: Job) -> list[RunResult]:
        """Put `job.files` where the program runs, then `compile_then_run` with this backend's way to
        execute one command."""

    @abstractmethod
    def close(self) -> None: ...

    @staticmethod
    def compile_then_run(job: Job, execute: Execute) -> list[RunResult]:
        spec, request = job.spec, job.request
        if spec.compile is not None:
            limits = compile_request(spec, request)
            compiled = execute(limits, compile_argv(spec, request), True)
            if compiled.status != Status.ok:
                return [compile_failure(compiled)] * len(job.stdins)
        results: list[RunResult] = []
        for index, stdin in enumerate(job.stdins):
            results.append(
                execute(request.model_copy(update={"stdin": stdin}), run_argv(spec, request), False)
            )
            if job.stop is not None and job.stop(index, results[-1]):
                break
        return results
