"""The warm runner: one long-lived Python process inside a sandbox that starts every run by fork.

Standard library only: the host sends this file's source to `/usr/bin/python3 -I -B` inside the
sandbox (a bubblewrap namespace or a container) and then talks to it over its stdin/stdout with
length-prefixed JSON frames. Three kinds of process, so that no run can see or disturb another:

- the **zygote** (PID 1 of the sandbox's pid namespace, or root in a container) never reads a
  byte of any run: it forks a *supervisor*, waits for it, kills whatever is left and wipes the
  work dirs, then forks the next supervisor. A run cannot signal it (namespace init, or another
  uid), so every run starts from the same clean state, and memory of earlier runs is never in it.
- a **supervisor** serves one session: it reads the session's files and one request per run
  (a compile step, then each test), starts the program, enforces the wall clock and output caps,
  kills the program's whole tree, wipes and restores the files, and answers. A program may kill
  its supervisor; the zygote then answers `{"lost": ...}` for it.
- the **program**, forked from the supervisor: fresh stdio pipes, rlimits, the run's environment;
  then `exec` of the command, or, for `/usr/bin/python3 -I -B script.py` (how the runner itself was
  started), the script run in the already-started interpreter with the standard library imported.

Runs of one session share the supervisor, so a test could find earlier tests' inputs of the same
submission in its inherited memory; never another submission's.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import io
import json
import os
import resource
import select
import signal
import struct
import sys
import time
import types
from typing import Any

# Imported once, so that programs start with them warm. Never `random` (its state would be shared by
# every fork) or anything that imports it.
WARM_MODULES = (
    "bisect",
    "collections",
    "dataclasses",
    "decimal",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "math",
    "re",
    "string",
    "typing",
)
WORK_DIRS = ("/box", "/tmp", "/dev/shm", "/dev/mqueue")  # POSIX message queues live in /dev/mqueue
SYSV_IPC = ("shm", "sem", "msg")
IPC_RMID = 0
HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30
CLOSED, DIRTY, LOST = 10, 11, 12  # a supervisor's exit statuses besides 0
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
LIBC = ctypes.CDLL(None, use_errno=True)


# Frames on the control channel (fd 0 in, fd 1 out) -------------------------------------------


def read_exactly(size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(0, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive() -> dict[str, Any] | None:
    header = read_exactly(HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError("frame too large")
    body = read_exactly(size)
    return None if body is None else json.loads(body)


def send(message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(1, view) :]


# Cleaning up ---------------------------------------------------------------------------------


def kill_everything_else() -> dict[int, tuple[int, Any]]:
    """SIGKILL every process this one may signal except itself and the namespace's init, and reap
    what comes back to us (we are a subreaper) until we have no child left. Returns the reaped
    (pid -> wait status, rusage)."""
    reaped: dict[int, tuple[int, Any]] = {}
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        try:
            pid, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return reaped
        reaped[pid] = (status, usage)


def remove(path: str) -> None:
    try:
        os.unlink(path)
        return
    except IsADirectoryError:
        pass
    except FileNotFoundError:
        return
    os.chmod(path, 0o700)  # a program may have left a directory unreadable
    with os.scandir(path) as entries:
        for entry in entries:
            remove(entry.path)
    os.rmdir(path)


def wipe() -> bool:
    """Empty the work dirs and remove System V IPC objects; False if anything is left (the host then
    replaces the sandbox)."""
    try:
        for root in WORK_DIRS:
            used = False
            with contextlib.suppress(FileNotFoundError), os.scandir(root) as entries:
                for entry in entries:
                    remove(entry.path)
                    used = True
            if used and os.listdir(root):
                return False
    except (OSError, RecursionError):
        return False
    return remove_ipc()


def remove_ipc() -> bool:
    """Shared memory segments, semaphore sets and message queues outlive the processes that made
    them (the IPC namespace is the warm sandbox's, not the run's): remove every one we may."""
    left = {kind: ipc_ids(kind) for kind in SYSV_IPC}
    if not any(left.values()):
        return True
    for kind, idents in left.items():
        for ident in idents:
            if kind == "sem":
                LIBC.semctl(ident, 0, IPC_RMID)
            else:
                getattr(LIBC, f"{kind}ctl")(ident, IPC_RMID, None)
    return not any(ipc_ids(kind) for kind in SYSV_IPC)


def ipc_ids(kind: str) -> list[int]:
    try:
        with open(f"/proc/sysvipc/{kind}") as table:
            return [int(line.split()[1]) for line in table.readlines()[1:]]
    except OSError:  # no /proc (a container that masks it): nothing we can list
        return []


def snapshot() -> dict[str, tuple[int, bytes]]:
    """The work dir's regular files (path -> mode, bytes): a compiled session's files."""
    files = {}
    for folder, _, names in os.walk("/box"):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    files[path] = (os.stat(path).st_mode & 0o777, handle.read())
    return files


def restore(files: dict[str, tuple[int, bytes]]) -> None:
    for path, (mode, data) in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(fd, "wb") as handle:
            handle.write(data)


# One run ---------------------------------------------------------------------------------------


def start_program(run: dict[str, Any], env: dict[str, str]) -> tuple[int, int, int, int]:
    """Fork the program; returns (pid, stdin fd, stdout fd, stderr fd) of the supervisor's side."""
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(stdin_r, 0)
            os.dup2(stdout_w, 1)
            os.dup2(stderr_w, 2)
            os.closerange(3, 65536)
            os.setsid()
            LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # only the supervisor hides its fds
            with open("/proc/self/oom_score_adj", "w") as adj:  # the program dies first on OOM
                adj.write("1000")
        except OSError:
            pass
        try:
            set_limits(run)
            os.chdir("/box")
        except OSError:
            os._exit(126)
        os._exit(run_program(list(run["argv"]), env))
    for fd in (stdin_r, stdout_w, stderr_w):
        os.close(fd)
    return pid, stdin_w, stdout_r, stderr_r


RLIMITS = {
    "as": resource.RLIMIT_AS,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "cpu": resource.RLIMIT_CPU,
    "core": resource.RLIMIT_CORE,
    "nproc": resource.RLIMIT_NPROC,
}


def set_limits(run: dict[str, Any]) -> None:
    """The run's rlimits, by `prlimit` name (`sandboxes.common.rlimits`)."""
    for name, value in run["limits"].items():
        resource.setrlimit(RLIMITS[name], (value, value))


def supervise(run: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run one program to its end, its time limit or its output cap; then kill its whole tree."""
    started = time.monotonic()
    pid, stdin_fd, stdout_fd, stderr_fd = start_program(run, env)
    deadline = started + float(run["time_limit_s"])
    streams = {
        stdout_fd: Capped(int(run["output_limit_bytes"])),
        stderr_fd: Capped(int(run["output_limit_bytes"])),
    }
    for fd in streams:
        os.set_blocking(fd, False)
    feeder = Feeder(stdin_fd, str(run.get("stdin", "")).encode())
    exited = exit_watch(pid)
    timed_out = False
    exit: tuple[int, Any] | None = None
    while exit is None:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        readable = [fd for fd, stream in streams.items() if stream.open]
        if exited is not None:
            readable.append(exited)
        ready, writable, _ = select.select(
            readable, feeder.waiting(), [], min(left, 0.005 if exited is None else left)
        )
        for fd in ready:
            if fd in streams:
                streams[fd].read_from(fd)
        if writable:
            feeder.feed()
        if any(stream.truncated for stream in streams.values()):
            break
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            exit = (status, usage)
    wall = time.monotonic() - started
    reaped = kill_everything_else()  # background processes die with the run; a timeout ends here
    exit = exit or reaped.get(pid)
    for fd, stream in streams.items():
        while stream.open and not stream.truncated:
            stream.read_from(fd)
        os.close(fd)
    feeder.close()
    if exited is not None:
        os.close(exited)
    rusage = exit[1] if exit else None
    return {
        "exit_code": os.waitstatus_to_exitcode(exit[0]) if exit else None,
        "timed_out": timed_out,
        "stdout": streams[stdout_fd].text(),
        "stderr": streams[stderr_fd].text(),
        "stdout_truncated": streams[stdout_fd].truncated,
        "stderr_truncated": streams[stderr_fd].truncated,
        "wall_time_s": wall,
        "cpu_time_s": rusage.ru_utime + rusage.ru_stime if rusage else 0.0,
        "peak_memory_mb": rusage.ru_maxrss / 1024 if rusage else None,
    }


def exit_watch(pid: int) -> int | None:
    """A pidfd that becomes readable when `pid` exits, so the exit wakes `select` at once."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class Capped:
    """One output stream, kept up to `limit` bytes; past it `truncated` (the run is then stopped)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.data, self.truncated, self.open = limit, bytearray(), False, True

    def read_from(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            self.open = False
            return
        room = self.limit - len(self.data)
        self.data += chunk[:room]
        self.truncated = self.truncated or len(chunk) > room

    def text(self) -> str:
        return self.data.decode(errors="replace")


class Feeder:
    """Writes the run's stdin as the program reads it, without ever blocking the supervisor."""

    def __init__(self, fd: int, data: bytes) -> None:
        self.fd, self.pending = fd, memoryview(data)
        os.set_blocking(fd, False)
        if not data:
            self.close()

    def waiting(self) -> list[int]:
        return [self.fd] if self.fd != -1 else []

    def feed(self) -> None:
        try:
            self.pending = self.pending[os.write(self.fd, self.pending[: 1 << 16]) :]
        except BlockingIOError:
            return
        except BrokenPipeError:  # the program stopped reading
            self.pending = self.pending[:0]
        if not self.pending:
            self.close()

    def close(self) -> None:
        if self.fd != -1:
            os.close(self.fd)
            self.fd = -1


# The session loop (supervisor) and the zygote ----------------------------------------------------


def serve_session(env: dict[str, str]) -> int:
    """Answer one request per run until the session's `last` run (or `end`); the first request
    brings the session's files, and a `save` run (the compile step) replaces them by its results.
    Returns the supervisor's exit status: 0, or CLOSED when the host closed the channel."""
    files: dict[str, tuple[int, bytes]] = {}
    first = True
    while True:
        request = receive()
        if request is None:
            return CLOSED
        if request.get("end"):
            return 0 if first or wipe() else DIRTY
        if "files" in request:
            files = {
                os.path.join("/box", name): (0o644, text.encode()) for name, text in request["files"].items()
            }
        if not first and not wipe():  # the zygote left the dirs empty for the first run
            send({"dirty": True, "error": "could not empty the work dirs"})
            return DIRTY
        first = False
        restore(files)
        result = supervise(request["run"], env)
        if request.get("save") and result["exit_code"] == 0:
            files = snapshot()
        last = bool(request.get("last"))
        del request
        if last:
            result["dirty"] = not wipe()
        send(result)
        if last:
            return 0


def zygote(run_uid: int | None) -> None:
    """Fork one supervisor per session until the host closes the channel (or a wipe fails)."""
    env = dict(os.environ)
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the same uid reads our fds via /proc
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # gone with the process that started us
    send({"ready": True})
    gc.freeze()  # what is here now is never collected: forks do not copy it when a collection runs
    while True:
        pid = os.fork()
        if pid == 0:
            drop_to(run_uid)
            LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
            LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            try:
                os._exit(serve_session(env))
            except BaseException:
                os._exit(LOST)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            reap_all()
            continue
        if code == CLOSED:
            return
        clean = clean_up(run_uid)
        if code != DIRTY:  # killed, or failed, while a run was pending: answer for it
            send({"lost": "the program killed its supervisor", "dirty": not clean})
        if not clean:
            return


def reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def drop_to(uid: int | None) -> None:
    if uid is not None and os.getuid() != uid:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def clean_up(run_uid: int | None) -> bool:
    """After a lost supervisor: a helper of the runs' uid kills what is left and wipes the dirs."""
    pid = os.fork()
    if pid == 0:
        try:
            drop_to(run_uid)
            kill_everything_else()
            os._exit(0 if wipe() else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    reap_all()
    return os.waitstatus_to_exitcode(status) == 0


# The program, at the top level -------------------------------------------------------------------


def run_program(argv: list[str], env: dict[str, str]) -> int:
    """exec the command, or run a Python script in this interpreter as `python3 -I -B` would."""
    os.environ.clear()
    os.environ.update(env)
    if not is_inline_python(argv):
        try:
            os.execve(argv[0], argv, env)
        except OSError as exc:
            os.write(2, f"cannot execute {argv[0]}: {exc.strerror}\n".encode())
            return 127
    script = os.path.abspath(argv[3])
    rebind_stdio()
    sys.argv = [argv[3], *argv[4:]]
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=__builtins__)
    sys.modules["__main__"] = main
    if "random" in sys.modules:
        sys.modules["random"].seed()
    try:
        with open(script, "rb") as handle:
            code = compile(handle.read(), script, "exec")
        exec(code, main.__dict__)
        status = 0
    except SystemExit as stop:
        status = exit_status(stop)
    except BaseException as error:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next  # the traceback starts at the script, as `python3 script.py` prints it
        sys.excepthook(type(error), error.with_traceback(tb), tb)
        status = 130 if isinstance(error, KeyboardInterrupt) else 1
    return shut_down(status, main)


def shut_down(status: int, main: types.ModuleType) -> int:
    """What the interpreter's exit does that a program can observe: wait for its non-daemon
    threads, run its atexit functions, release its objects (their `__del__` flush unclosed files),
    flush stdout and stderr. The teardown of every module (~12 ms, most of a short run) is skipped."""
    threading = sys.modules.get("threading")
    if threading is not None:
        getattr(threading, "_shutdown", lambda: None)()
    atexit = importlib.import_module("atexit")
    atexit._run_exitfuncs()
    main.__dict__.clear()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = 120  # as the interpreter exits when it cannot flush
    return status


def is_inline_python(argv: list[str]) -> bool:
    return (
        len(argv) >= 4
        and argv[0] == sys.executable
        and argv[1:3] == ["-I", "-B"]
        and not argv[3].startswith("-")
    )


def exit_status(stop: SystemExit) -> int:
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code & 0xFF
    print(stop.code, file=sys.stderr)
    return 1


def rebind_stdio() -> None:
    """Fresh text streams on fds 0-2, configured as the interpreter configured the runner's own."""
    for name, fd, mode in (("stdin", 0, "rb"), ("stdout", 1, "wb"), ("stderr", 2, "wb")):
        original = getattr(sys, f"__{name}__")
        binary = open(fd, mode, closefd=False)  # noqa: SIM115 (it lives as long as the program)
        stream = io.TextIOWrapper(
            binary,
            encoding=original.encoding,
            errors=original.errors,
            line_buffering=original.line_buffering,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def main() -> None:
    for name in WARM_MODULES:
        importlib.import_module(name)
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    zygote(options.get("run_uid"))


if __name__ == "__main__":
    main()
