"""The warm runner: one long-lived Python process inside a sandbox that starts every run by fork.

Standard library only: the host sends this file's source to `/usr/bin/python3 -I -B` inside the
sandbox (a bubblewrap namespace or a container) and then talks to it over its stdin/stdout with
length-prefixed JSON frames, each answer carrying the id of its request. Three kinds of process, so
that no run can see or disturb another:

- the **zygote** never reads a byte of any run. Per session it starts a *supervisor*, waits for it
  and starts the next. Programs cannot see it: in the local backend each session is cloned into
  new user, pid, mount and IPC namespaces (the zygote is outside them); in a container it runs as
  root and programs as 65534. So every session starts from the same clean state.
- a **supervisor** serves one session (one submission): it reads the files and one request per run
  (a compile step, then each test), forks the program, enforces the wall clock and output caps,
  kills the run's whole tree, wipes and restores the files, and answers. In the local backend it is
  the session's PID 1 (programs cannot stop or kill it), drops its capabilities and installs the
  full seccomp filter before it reads anything. If it dies anyway, the zygote answers `lost` for
  the request it was serving and wipes what is left.
- the **program**, forked from the supervisor: fresh stdio pipes, rlimits, default signal handlers,
  the run's environment; then `exec` of the command, or, for `/usr/bin/python3 -I -B script.py`
  (how the runner itself was started), the script run in the already-started interpreter.

Runs of one session share the supervisor, so a test could find earlier tests' inputs of the same
submission in its inherited memory; never another submission's. Runs of one runner share the hash
seed of `str` (set once per interpreter).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import dataclasses
import gc
import importlib
import io
import json
import mmap
import os
import platform
import resource
import select
import signal
import struct
import sys
import time
import traceback
import types
from collections.abc import Iterator
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
SERVING = struct.Struct("q")
MAX_FRAME = 1 << 30
CLOSED, DIRTY, LOST, SETUP_FAILED = 10, 11, 12, 13  # a supervisor's exit statuses besides 0
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
PR_SET_CHILD_SUBREAPER = 36
SESSION_NAMESPACES = 0x10000000 | 0x20000000 | 0x00020000 | 0x08000000  # user, pid, mount, IPC
SYS_CLONE = {"x86_64": 56, "aarch64": 220}
MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x4000, 0x40000, 0x2, 0x4, 0x8
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
    data = json.dumps(message, ensure_ascii=False).encode(errors="replace")
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(1, view) :]


# A session's confinement (local backend) ---------------------------------------------------------


def clone_session() -> int:
    """fork(), with the child in new user, pid, mount and IPC namespaces: the first process of its pid
    namespace. A raw clone, because unshare() of a pid namespace works once per process."""
    number = SYS_CLONE.get(platform.machine())
    if number is None:
        raise OSError(f"no clone system call number known for {platform.machine()}")
    LIBC.syscall.restype = ctypes.c_long
    pid = LIBC.syscall(number, SESSION_NAMESPACES | signal.SIGCHLD, 0, 0, 0, 0)
    if pid < 0:
        raise OSError(ctypes.get_errno(), "clone of a session failed")
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
    return int(pid)


def enter_namespaces(uid: int, gid: int) -> None:
    """Map our own uid and gid into the new user namespace and mount the session's own /proc."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as table:
            table.write(text)
    if LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot make the mounts private")
    if LIBC.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot mount the session's /proc")


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """The capabilities a new user namespace gives its first process: none of them for the runs."""
    if LIBC.capset(ctypes.byref(CapHeader(0x20080522, 0)), (CapData * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(bpf: bytes) -> None:
    """The full seccomp filter (built by libseccomp on the host), for this process and its children."""
    program = ctypes.create_string_buffer(bpf, len(bpf))
    fprog = SockFprog(len(bpf) // 8, ctypes.cast(program, ctypes.c_void_p))
    if LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs failed")
    if LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


# Cleaning up ---------------------------------------------------------------------------------


def kill_everything_else() -> dict[int, tuple[int, Any]]:
    """SIGKILL every process this one may signal except itself and its namespace's init, and reap
    what comes back to us until we have no child left. Returns the reaped (pid -> status, rusage)."""
    reaped: dict[int, tuple[int, Any]] = {}
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        try:
            pid, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return reaped
        reaped[pid] = (status, usage)


def reap_all() -> dict[int, tuple[int, Any]]:
    reaped: dict[int, tuple[int, Any]] = {}
    while True:
        try:
            pid, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return reaped
        reaped[pid] = (status, usage)


def drop_to(uid: int | None) -> None:
    """Become the runs' user for good (in a container, where the runner is root)."""
    if uid is not None and os.getuid() != uid:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)


@contextlib.contextmanager
def as_user(uid: int | None) -> Iterator[None]:
    """File work as the runs' user, so they own what they may change; only the effective ids move,
    so a program can still not signal us (its uid matches neither our real nor our saved uid)."""
    if uid is None:
        yield
        return
    os.setegid(uid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def end_run(run_uid: int | None) -> dict[int, tuple[int, Any]]:
    """Kill what is left of a run and reap it all: returns the reaped (pid -> status, rusage)."""
    if run_uid is None:  # the session's PID 1: kill(-1) reaches exactly the run's processes
        return kill_everything_else()
    kill_all_of(run_uid)
    return reap_all()  # we are a subreaper: the whole tree comes back to us


def kill_all_of(uid: int) -> None:
    """In a container, as root with CAP_KILL: SIGKILL every process of the runs' uid until none is
    left (without forking: a fork bomb may have used up the container's pids). Done after two scans
    in a row find none alive: a process listed in /proc before it forked may be a zombie by the time
    its status is read, and its child only shows in the next listing."""
    quiet_scans = 0
    for _ in range(10_000):
        alive = live_processes_of(uid)
        quiet_scans = 0 if alive else quiet_scans + 1
        if quiet_scans == 2:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def clean_up_after(run_uid: int | None) -> bool:
    """After a supervisor died: kill what is left, reap it, and let a helper of the runs' uid empty
    the dirs (in the local backend the session's namespaces died with it)."""
    if run_uid is not None:
        kill_all_of(run_uid)
    reap_all()
    helper = os.fork()
    if helper == 0:
        try:
            drop_to(run_uid)
            os._exit(0 if wipe() else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(helper, 0)
    return os.waitstatus_to_exitcode(status) == 0


def status_of(pid: int | str) -> dict[str, str] | None:
    """The fields of /proc/<pid>/status (None once it is gone): its real uid is there even when the
    process is not dumpable and its /proc directory belongs to root."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return {
                name: value.strip() for name, value in (line.split(":", 1) for line in status if ":" in line)
            }
    except OSError:
        return None


def processes_of(uid: int) -> list[tuple[int, bool]]:
    """(pid, is a zombie) of the processes whose real uid is `uid`."""
    found = []
    for name in os.listdir("/proc"):
        fields = status_of(name) if name.isdigit() else None
        if fields is not None and int(fields.get("Uid", "-1").split()[0]) == uid:
            found.append((int(name), fields.get("State", "").split()[:1] == ["Z"]))
    return found


def live_processes_of(uid: int) -> list[int]:
    """Other processes of `uid` that are not zombies (the namespace's init excluded)."""
    return [pid for pid, zombie in processes_of(uid) if not zombie and pid not in (1, os.getpid())]


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


def start_program(run: dict[str, Any], session: Session) -> tuple[int, int, int, int]:
    """Fork the program; returns (pid, stdin fd, stdout fd, stderr fd) of the supervisor's side."""
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    pid = os.fork()
    if pid != 0:
        for fd in (stdin_r, stdout_w, stderr_w):
            os.close(fd)
        return pid, stdin_w, stdout_r, stderr_r
    try:
        os.dup2(stdin_r, 0)
        os.dup2(stdout_w, 1)
        os.dup2(stderr_w, 2)
        os.closerange(3, 65536)
        os.setsid()
        session.serving.close()  # the program must not write the zygote's word
        drop_to(session.run_uid)
        LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # only the runner hides its fds
        with open("/proc/self/oom_score_adj", "w") as adj:  # the program dies first on OOM
            adj.write("1000")
        set_limits(run)
        os.chdir("/box")
    except (OSError, ValueError):
        os._exit(126)
    os._exit(run_program(list(run["argv"]), session.env))


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


def supervise(run: dict[str, Any], session: Session) -> dict[str, Any]:
    """Run one program to its end, its time limit or its output cap; then kill its whole tree."""
    started = time.monotonic()
    pid, stdin_fd, stdout_fd, stderr_fd = start_program(run, session)
    deadline = started + float(run["time_limit_s"])
    cap = int(run["output_limit_bytes"])
    streams = {stdout_fd: Capped(cap), stderr_fd: Capped(cap)}
    for fd in streams:
        os.set_blocking(fd, False)
    feeder = Feeder(stdin_fd, str(run.get("stdin", "")).encode())
    exited = exit_watch(pid)
    exit: tuple[int, Any] | None = None
    while exit is None and time.monotonic() < deadline:
        readable = [fd for fd, stream in streams.items() if stream.open]
        if exited is not None:
            readable.append(exited)
        left = deadline - time.monotonic()
        poll = max(0.0, left if exited is not None else min(left, 0.005))  # no pidfd: poll the exit
        ready, writable, _ = select.select(readable, feeder.waiting(), [], poll)
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
    timed_out = wall >= float(run["time_limit_s"])  # also when the exit came after the deadline
    reaped = end_run(session.run_uid)  # background processes die with the run; a timeout ends here
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


@dataclasses.dataclass
class Session:
    """What a supervisor knows besides the requests: the runs' environment and user (in a container),
    and the shared word where it keeps the id of the request it is serving (-1: none) for the zygote."""

    env: dict[str, str]
    run_uid: int | None
    serving: mmap.mmap

    def mark(self, request_id: int) -> None:
        self.serving[:8] = SERVING.pack(request_id)


def serve_session(session: Session) -> int:
    """Answer one request per run until the session's `last` run (or `end`); the first request
    brings the session's files, and a `save` run (the compile step) replaces them by its results.
    Returns the exit status: 0, DIRTY, or CLOSED when the host closed the channel."""
    run_uid = session.run_uid
    files: dict[str, tuple[int, bytes]] = {}
    first = True
    while True:
        request = receive()
        if request is None:
            return CLOSED
        if request.get("end"):
            with as_user(run_uid):
                return 0 if first or wipe() else DIRTY
        session.mark(request["id"])
        if "files" in request:
            files = {
                os.path.join("/box", name): (0o644, text.encode()) for name, text in request["files"].items()
            }
        with as_user(run_uid):
            if not first and not wipe():  # the zygote left the dirs empty for the first run
                send({"id": request["id"], "dirty": True, "error": "could not empty the work dirs"})
                return DIRTY
            restore(files)
        first = False
        result = supervise(request["run"], session)
        last = bool(request.get("last"))
        with as_user(run_uid):
            if request.get("save") and result["exit_code"] == 0:
                files = snapshot()
            if last:
                result["dirty"] = not wipe()
        result["id"] = request["id"]
        del request
        send(result)
        session.mark(-1)
        if last:
            return 0


def start_session(options: dict[str, Any], session: Session, uid: int, gid: int) -> int:
    """Start a supervisor; returns its pid."""
    session.mark(-1)
    pid = clone_session() if options.get("namespaces") else os.fork()
    if pid != 0:
        return pid
    try:
        if options.get("namespaces"):  # the local backend: the session's own namespaces and filter
            LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # our /proc files are ours again, to write the maps
            enter_namespaces(uid, gid)
            drop_capabilities()
        if options.get("seccomp"):
            install_filter(base64.b64decode(options["seccomp"]))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the same uid reads our fds via /proc
        LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except BaseException:
        traceback.print_exc()
        os._exit(SETUP_FAILED)
    try:
        os._exit(serve_session(session))
    except BaseException:
        os._exit(LOST)


def zygote(options: dict[str, Any]) -> None:
    """Start one supervisor per session until the host closes the channel (or cleaning fails)."""
    uid, gid = os.getuid(), os.getgid()
    run_uid = options.get("run_uid")
    session = Session(dict(os.environ), run_uid, mmap.mmap(-1, SERVING.size))
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # gone with the process that started us
    send({"ready": True})
    gc.freeze()  # what is here now is never collected: forks do not copy it when a collection runs
    while True:
        pid = start_session(options, session, uid, gid)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        (serving,) = SERVING.unpack(session.serving[:8])
        if code == 0:
            reap_all()
            continue
        if code in (CLOSED, SETUP_FAILED):  # the host reads why on our stderr
            return
        clean = clean_up_after(run_uid)
        if serving != -1:  # it died while serving a request: answer for it
            send({"id": serving, "lost": "the program stopped its supervisor", "dirty": not clean})
        if not clean:
            return


# The program --------------------------------------------------------------------------------------


def run_program(argv: list[str], env: dict[str, str]) -> int:
    """exec the command, or run a Python script in this interpreter as `python3 -I -B` would."""
    os.environ.clear()
    os.environ.update(env)
    if not is_inline_python(argv):
        for number in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):  # as a fresh process has them
            signal.signal(number, signal.SIG_DFL)
        try:
            os.execve(argv[0], argv, env)
        except OSError as exc:
            os.write(2, f"cannot execute {argv[0]}: {exc.strerror}\n".encode())
            return 127
    signal.signal(signal.SIGINT, signal.default_int_handler)
    script = os.path.abspath(argv[3])
    rebind_stdio()
    sys.argv = [argv[3], *argv[4:]]
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=__builtins__)
    sys.modules["__main__"] = main
    interrupted = False
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
        status, interrupted = 1, isinstance(error, KeyboardInterrupt)
    status = shut_down(status, main)
    if interrupted:  # as CPython ends after an uncaught KeyboardInterrupt: killed by SIGINT
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return status


def shut_down(status: int, main: types.ModuleType) -> int:
    """What the interpreter's exit does that a program can observe: wait for its non-daemon
    threads, run its atexit functions, release the objects of `__main__` (their `__del__` flush
    unclosed files), flush stdout and stderr. Skipped: the teardown of every other module and the
    final collection (~12 ms, most of a short run)."""
    threading = sys.modules.get("threading")
    if threading is not None:
        getattr(threading, "_shutdown", lambda: None)()
    atexit = importlib.import_module("atexit")
    atexit._run_exitfuncs()
    main.__dict__.clear()
    for stream in (sys.stdout, sys.stderr):
        if stream is None or getattr(stream, "closed", True):
            continue
        try:
            stream.flush()
        except Exception:
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
            newline="\n",
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def main() -> None:
    for name in WARM_MODULES:
        importlib.import_module(name)
    zygote(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})


if __name__ == "__main__":
    main()
