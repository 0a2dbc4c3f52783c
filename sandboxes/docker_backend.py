"""The `docker` backend: warm, locked-down containers, reused across runs and wiped between them.

Each slot owns one container started with no network, a memory+swap limit, a pids limit, a
read-only root, tmpfs work dir and /tmp, a non-root user, no capabilities and no-new-privileges,
with docker-init as PID 1 (it reaps zombies). A run is an exec as uid 65534 in that container; after it every
process of the sandbox user is killed and the tmpfs are wiped, and a container that cannot be
cleaned is replaced. Creating containers once instead of `docker run` per program saves ~0.5 s a run.
"""

from __future__ import annotations

import contextlib
import functools
import io
import shlex
import struct
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from sandboxes import common
from sandboxes.base import RunRequest, RunResult, Status
from sandboxes.common import CappedReader, Job, Sandbox, SandboxUnavailable, Slots
from sandboxes.languages import LANGUAGES
from sandboxes.warm import RunnerGone, Transport, WarmRunner, runner_command

SANDBOX_UID = 65534
SANDBOX_USER = f"{SANDBOX_UID}:{SANDBOX_UID}"
CONTAINER_MEMORY_MB = 2048  # the ceiling; each run gets its own lower limit through prlimit
PIDS_LIMIT = 128
WIPE = "kill -9 -1 2>/dev/null; find /box /tmp /dev/shm -mindepth 1 -delete 2>/dev/null; true"


def _frames(sock: Any) -> Iterator[tuple[int, bytes]]:
    """Docker's multiplexed exec stream, as (stream, payload): 8-byte headers (stream, size) then the
    payload, until the stream ends."""
    buffer = b""
    while chunk := sock.recv(1 << 20):
        buffer += chunk
        while len(buffer) >= 8:
            stream, size = struct.unpack(">BxxxL", buffer[:8])
            if len(buffer) < 8 + size:
                break
            payload, buffer = buffer[8 : 8 + size], buffer[8 + size :]
            yield stream, payload


class _Frames:
    """Feeds an exec's stdout and stderr frames to their capped readers."""

    def __init__(self, sock: Any, stdout: CappedReader, stderr: CappedReader) -> None:
        self.sock, self.targets = sock, {1: stdout, 2: stderr}

    def pump(self) -> None:
        try:
            for stream, payload in _frames(self.sock):
                target = self.targets.get(stream)
                if target is not None:
                    target.feed(payload)
        except OSError:
            return


class _ExecStream(Transport):
    """The runner's `docker exec` stream: stdin as is, stdout and stderr multiplexed in frames."""

    def __init__(self, sock: Any, discard: Callable[[], None]) -> None:
        self.sock, self._discard = sock, discard
        self._frames = _frames(sock)
        self._stderr = _sink(1 << 16, lambda: None)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> bytes:
        for stream, payload in self._frames:
            if stream == 1:
                return payload
            self._stderr.feed(payload)
        return b""

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        self._discard()  # the container goes, and the runner with it

    def diagnostics(self) -> str:
        return self._stderr.text()


def _sink(limit: int, on_overflow: Callable[[], None]) -> CappedReader:
    """A CappedReader fed by the frame pump (`feed`) instead of reading a pipe itself."""
    return CappedReader(io.BytesIO(), limit, on_overflow)


class DockerSandbox(Sandbox):
    name = "docker"

    def __init__(
        self,
        concurrency: int | None = None,
        *,
        image: str = "referee-sandbox:latest",
        client: Any = None,
        runner: bool = True,
    ) -> None:
        try:
            import docker
        except ImportError as exc:
            raise SandboxUnavailable(
                "the docker backend needs the docker SDK: pip install 'referee[docker]'"
            ) from exc
        try:
            self.client = client or docker.from_env(timeout=30)
            self.client.ping()
        except Exception as exc:
            raise SandboxUnavailable(f"docker daemon unavailable: {exc}") from exc
        try:
            self.client.images.get(image)
        except Exception as exc:
            raise SandboxUnavailable(
                f"sandbox image {image!r} not found (build it with `make sandbox-image`)"
            ) from exc
        self.image = image
        self.slots = Slots(concurrency or 1)
        self._containers: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._owner = uuid.uuid4().hex  # labels our containers, to find those a daemon restart left stopped
        self.runner = runner
        self._runners = {
            slot: WarmRunner(functools.partial(self._start_runner, slot), None)
            for slot in range(self.slots.size)
        }

    def _warm_runner(self, slot: int) -> WarmRunner | None:
        return self._runners[slot] if self.runner else None

    @functools.cached_property
    def _installed(self) -> frozenset[str]:
        """The languages of the table whose toolchains the image has (all of them, unless it was built
        with `make sandbox-image LANGUAGES=core`), probed once in a throwaway container."""
        tools = {tool for spec in LANGUAGES.values() for tool in spec.tools}
        script = "".join(
            f"[ -x {shlex.quote(tool)} ] && echo {shlex.quote(tool)}; " for tool in sorted(tools)
        )
        output = self.client.containers.run(
            self.image, ["sh", "-c", script + "true"], remove=True, network_disabled=True, user=SANDBOX_USER
        )
        found = set(output.decode().split())
        return frozenset(name for name, spec in LANGUAGES.items() if set(spec.tools) <= found)

    def languages(self) -> frozenset[str]:
        try:
            return self._installed
        except Exception as exc:  # the daemon went away: run() reports it the usual way
            if not self._daemon_alive():
                raise SandboxUnavailable(f"docker daemon unavailable: {exc}") from exc
            raise

    def _run_in_slot(self, slot: int, job: Job) -> list[RunResult]:
        try:
            container = self._container(slot)
            self._upload(container, job.files)

            def execute(run: RunRequest, argv: tuple[str, ...], compiling: bool) -> RunResult:
                result = self._execute(container, run, argv)
                self._exec(container, "kill -9 -1 2>/dev/null; true")  # nothing of one test outlives it
                return result

            return self.compile_then_run(job, execute)
        except Exception as exc:  # the daemon went away mid-run, the container died, ...
            self._discard(slot)
            if not self._daemon_alive():
                raise SandboxUnavailable(f"docker daemon unavailable: {exc}") from exc
            return [RunResult(status=Status.sandbox_error, error=f"docker: {exc}")] * len(job.stdins)
        finally:
            self._wipe(slot)

    def _daemon_alive(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def close(self) -> None:
        for runner in self._runners.values():
            runner.reset()
        with self._lock:
            for slot in list(self._containers):
                self._discard(slot)

    def _start_runner(self, slot: int) -> Transport:
        """The runner in the slot's container, as root without other capabilities than switching to
        the sandbox user: each session's supervisor and program run as 65534 and cannot signal it."""
        try:
            container = self._container(slot)
            api = self.client.api
            exec_id = api.exec_create(
                container.id,
                runner_command({"run_uid": SANDBOX_UID}),
                stdin=True,
                stdout=True,
                stderr=True,
                user="0:0",
                workdir="/box",
            )["Id"]
            sock = api.exec_start(exec_id, socket=True)
        except Exception as exc:
            with self._lock:
                self._discard(slot)
            if not self._daemon_alive():
                raise SandboxUnavailable(f"docker daemon unavailable: {exc}") from exc
            raise RunnerGone(f"docker: {exc}") from exc
        return _ExecStream(getattr(sock, "_sock", sock), functools.partial(self._discard_locked, slot))

    def _discard_locked(self, slot: int) -> None:
        with self._lock:
            self._discard(slot)

    # Containers -------------------------------------------------------------------------------

    def _container(self, slot: int) -> Any:
        """The slot's warm container; a new one if it is gone (e.g. dockerd restarted since)."""
        with self._lock:
            container = self._containers.get(slot)
            if container is not None and not self._running(container):
                self._discard(slot)
                container = None
            if container is None:
                container = self.client.containers.run(
                    self.image,
                    ["sleep", "infinity"],
                    detach=True,
                    init=True,
                    network_disabled=True,
                    network_mode="none",
                    mem_limit=f"{CONTAINER_MEMORY_MB}m",
                    memswap_limit=f"{CONTAINER_MEMORY_MB}m",
                    # The keeper process (docker-init + sleep) runs as root without capabilities, so
                    # the programs (uid 65534) can neither kill it nor be left behind by `kill -9 -1`.
                    pids_limit=PIDS_LIMIT,
                    read_only=True,
                    user="0:0",
                    working_dir="/box",
                    tmpfs={
                        "/box": "size=64m,mode=1777,exec",
                        "/tmp": "size=64m,mode=1777",
                        "/dev/shm": "size=16m",
                    },
                    cap_drop=["ALL"],
                    # Only for the runner (root) to act as the sandbox user and kill its processes;
                    # 65534 keeps none of them.
                    cap_add=["SETUID", "SETGID", "KILL"] if self.runner else [],
                    security_opt=["no-new-privileges"],
                    environment={"HOME": "/box"},
                    labels={"referee.sandbox": "1", "referee.sandbox.owner": self._owner},
                    auto_remove=False,
                )
                self._remove_stopped()
                self._containers[slot] = container
            return container

    def _remove_stopped(self) -> None:
        """Containers of ours that died while the daemon was away could not be removed then."""
        with contextlib.suppress(Exception):
            for stale in self.client.containers.list(
                all=True, filters={"label": f"referee.sandbox.owner={self._owner}", "status": "exited"}
            ):
                stale.remove(force=True)

    @staticmethod
    def _running(container: Any) -> bool:
        """An unreachable daemon raises: the caller reports that."""
        from docker.errors import NotFound

        try:
            container.reload()
        except NotFound:
            return False
        return container.status == "running"

    def _discard(self, slot: int) -> None:
        container = self._containers.pop(slot, None)
        if container is not None:
            with contextlib.suppress(Exception):  # already gone, or the daemon is down
                container.remove(force=True)

    def _wipe(self, slot: int) -> None:
        container = self._containers.get(slot)
        if container is None:
            return
        try:
            exit_code = self._exec(container, WIPE)
            leftover = self._exec(
                container, "find /box /tmp -mindepth 1 | head -1 | grep -q . && exit 1; exit 0"
            )
            if exit_code != 0 or leftover != 0:
                raise RuntimeError("could not wipe")
        except Exception:
            with self._lock:
                self._discard(slot)

    def _exec(self, container: Any, script: str) -> int:
        return container.exec_run(["sh", "-c", script], user=SANDBOX_USER).exit_code

    def _upload(self, container: Any, files: dict[str, str]) -> None:
        """Send the files as a tar stream on stdin: the root is read-only, /box is a tmpfs."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for name, text in files.items():
                if name.startswith("/") or ".." in name.split("/"):
                    raise ValueError(f"file name {name!r} leaves the work dir")
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        result = self._stream(container, ["tar", "-x", "-C", "/box"], archive.getvalue(), 30, 1 << 20)
        if result[0] != 0:
            raise RuntimeError(f"could not copy the program into the container: {result[2].text()[-500:]}")

    def _stream(
        self, container: Any, argv: list[str], stdin: bytes, time_limit_s: float, output_limit: int
    ) -> tuple[int | None, CappedReader, CappedReader, bool, bool, float]:
        """Exec `argv` with `stdin`; returns (exit code, stdout, stderr, timed out, overflowed, wall)."""
        api = self.client.api
        overflow = threading.Event()
        stdout, stderr = _sink(output_limit, overflow.set), _sink(output_limit, overflow.set)
        exec_id = api.exec_create(
            container.id, argv, stdin=True, stdout=True, stderr=True, user=SANDBOX_USER, workdir="/box"
        )["Id"]
        sock = api.exec_start(exec_id, socket=True)
        raw = getattr(sock, "_sock", sock)
        started = time.monotonic()
        pump = threading.Thread(target=_Frames(raw, stdout, stderr).pump, daemon=True)
        pump.start()

        def feed() -> None:
            try:
                raw.sendall(stdin)
                raw.shutdown(1)  # SHUT_WR: the program sees end of input
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()
        deadline = started + time_limit_s
        timed_out = False
        while pump.is_alive():
            pump.join(0.01)
            if overflow.is_set():
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
        wall = time.monotonic() - started
        if pump.is_alive():
            self._exec(container, "kill -9 -1 2>/dev/null; true")
            pump.join(5)
        with contextlib.suppress(OSError):
            raw.close()
        exit_code = None
        for _ in range(50):
            info = api.exec_inspect(exec_id)
            if not info["Running"]:
                exit_code = info["ExitCode"]
                break
            time.sleep(0.02)
        return exit_code, stdout, stderr, timed_out, overflow.is_set(), wall

    def _execute(self, container: Any, request: RunRequest, argv: tuple[str, ...]) -> RunResult:
        command = [*common.prlimit_args(request), *argv, *request.argv]
        exit_code, stdout, stderr, timed_out, _, wall = self._stream(
            container, command, request.stdin.encode(), request.time_limit_s, request.output_limit_bytes
        )
        if exit_code is not None:
            exit_code = common.exit_code_from_shell(exit_code)
        return common.result_from(
            request,
            exit_code=exit_code,
            timed_out=timed_out,
            stdout=stdout,
            stderr=stderr,
            wall_time_s=wall,
            cpu_time_s=0.0,
            peak_memory_mb=None,
        )
