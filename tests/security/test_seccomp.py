"""The system-call filter: every denied call fails with EPERM inside the local sandbox (from Python and
C++, 32-bit and x32 entry points too), ordinary programs still work, and the docker backend runs under
Docker's default seccomp profile."""

from __future__ import annotations

from collections.abc import Iterator

import pyseccomp
import pytest

from sandboxes import RunRequest, Sandbox, Status
from sandboxes.seccomp import DENIED, NAMESPACE_FLAGS
from tests.helpers import sandbox_or_skip


@pytest.fixture(scope="module", params=["local", "local-cold"])
def local(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    backend = sandbox_or_skip(request.param)
    yield backend
    backend.close()


def run(sandbox: Sandbox, source: str, language: str = "python") -> str:
    result = sandbox.run(RunRequest(language=language, source=source, time_limit_s=30))
    assert result.status == Status.ok, (result.status, result.stderr[-2000:], result.compile_output[-2000:])
    return result.stdout


def number(name: str) -> int:
    return pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)


def test_every_denied_call_is_eperm_from_python(local: Sandbox) -> None:
    calls = {name: number(name) for name in DENIED}
    calls |= {f"clone {flag}": number("clone") for flag in NAMESPACE_FLAGS}
    source = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.syscall.restype = ctypes.c_long\n"
        f"flags = {dict(NAMESPACE_FLAGS)!r}\n"
        f"for name, nr in {calls!r}.items():\n"
        "    ctypes.set_errno(0)\n"
        "    arg = flags[name.split()[1]] | 17 if name.startswith('clone ') else 0\n"
        "    result = libc.syscall(nr, ctypes.c_long(arg), 0, 0, 0, 0)\n"
        "    print(name, result, ctypes.get_errno())\n"
    )
    lines = run(local, source).splitlines()
    assert len(lines) == len(calls)
    for line in lines:
        name, result, error = line.rsplit(" ", 2)
        assert (result, error) == ("-1", "1"), line  # EPERM


def test_the_filter_not_missing_privileges_denies(local: Sandbox) -> None:
    """Calls any unprivileged process may make (so EPERM can only come from the filter), and the
    kernel's own word that a filter is installed."""
    source = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('traceme', libc.ptrace(0, 0, 0, 0), ctypes.get_errno())\n"
        "print('attach_parent', libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())\n"
        "print('unshare0', libc.unshare(0), ctypes.get_errno())\n"
        "print('no_aslr', libc.personality(0x0040000), ctypes.get_errno())\n"
        "print('linux', libc.personality(0), ctypes.get_errno())\n"
        "status = open('/proc/self/status').read().splitlines()\n"
        "print('mode', [line.split()[1] for line in status if line.startswith('Seccomp:')][0])\n"
    )
    found = dict(line.split(" ", 1) for line in run(local, source).splitlines())
    assert found["traceme"] == "-1 1" and found["attach_parent"] == "-1 1"
    assert found["unshare0"] == "-1 1" and found["no_aslr"] == "-1 1"
    assert found["linux"].startswith("0 ") and found["mode"] == "2"


def test_denied_from_cpp_and_other_abis(local: Sandbox) -> None:
    source = r"""
#include <cerrno>
#include <cstdio>
#include <sched.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
static void report(const char* name, long result) {
    std::printf("%s %ld %d\n", name, result, errno);
    errno = 0;
}
int main() {
    report("ptrace", syscall(SYS_ptrace, 16, getppid(), 0, 0));
    report("bpf", syscall(SYS_bpf, 0, 0, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, 0));
    report("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
    report("clone_newnet", syscall(SYS_clone, CLONE_NEWNET | 17, 0, 0, 0, 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
    long i386_getpid, x32_getpid;
    asm volatile("int $0x80" : "=a"(i386_getpid) : "a"(20) : "memory");
    asm volatile("syscall" : "=a"(x32_getpid) : "a"(0x40000000L + 39) : "rcx", "r11", "memory");
    std::printf("i386_getpid %ld 0\nx32_getpid %ld 0\n", i386_getpid, x32_getpid);
    int value = 0;
    std::thread worker([&] { value = 42; });
    worker.join();
    std::printf("thread %d 0\n", value);
}
"""
    found = {line.split()[0]: line.split()[1:] for line in run(local, source, "cpp").splitlines()}
    denied = ("ptrace", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "unshare", "clone_newnet")
    for name in (*denied, "kexec_load"):
        assert found[name] == ["-1", "1"], (name, found[name])
    assert found["i386_getpid"] == ["-1", "0"] and found["x32_getpid"] == ["-1", "0"]  # -EPERM, raw
    assert found["thread"] == ["42", "0"]


def test_ordinary_programs_still_work(local: Sandbox) -> None:
    source = (
        "import mmap, os, subprocess, threading\n"
        "out = []\n"
        "threads = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "m = mmap.mmap(-1, 64 << 20); m[-1] = 7\n"
        "pid = os.fork()\n"
        "if pid == 0:\n    os._exit(3)\n"
        "code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n"
        "echo = subprocess.run(['/usr/bin/echo', 'child'], capture_output=True, text=True).stdout.strip()\n"
        "print(sorted(out) == list(range(8)), m[-1], code, echo)\n"
    )
    assert run(local, source).strip() == "True 7 3 child"


# Each language's runtime prints its own `Seccomp:` line: the filter holds on every language's path.
SECCOMP_MODE = {
    "java": "import java.nio.file.*;\n"
    "public class Probe { public static void main(String[] a) throws Exception {\n"
    '  for (String l : Files.readAllLines(Path.of("/proc/self/status")))'
    ' if (l.startsWith("Seccomp:")) System.out.println(l.split("\\\\s+")[1]); } }',
    "javascript": "const l = require('fs').readFileSync('/proc/self/status', 'utf8').split('\\n')"
    ".find((x) => x.startsWith('Seccomp:'));\nconsole.log(l.split(/\\s+/)[1]);",
    "go": 'package main\nimport ("fmt"; "os"; "strings"; "syscall")\nfunc main() {\n'
    '  b, _ := os.ReadFile("/proc/self/status")\n'
    '  for _, l := range strings.Split(string(b), "\\n") { if strings.HasPrefix(l, "Seccomp:") {'
    " fmt.Println(strings.Fields(l)[1]) } }\n"
    "  _, _, errno := syscall.Syscall(syscall.SYS_UNSHARE, syscall.CLONE_NEWUSER, 0, 0)\n"
    "  fmt.Println(errno == syscall.EPERM) }",
    "rust": 'fn main() {\n  let s = std::fs::read_to_string("/proc/self/status").unwrap();\n'
    '  let l = s.lines().find(|l| l.starts_with("Seccomp:")).unwrap();\n'
    '  println!("{}", l.split_whitespace().nth(1).unwrap()); }',
}


@pytest.mark.parametrize("language", sorted(SECCOMP_MODE))
def test_every_language_runs_under_the_filter(local: Sandbox, language: str) -> None:
    if language not in local.languages():
        pytest.skip(f"{language} is not installed here")
    lines = run(local, SECCOMP_MODE[language], language).split()
    assert lines[0] == "2"
    if language == "go":
        assert lines[1] == "true"  # unshare(CLONE_NEWUSER) denied from a Go program


def test_docker_backend_runs_under_dockers_default_profile() -> None:
    docker = sandbox_or_skip("docker")
    try:
        source = (
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "status = open('/proc/self/status').read()\n"
            "print([l.split()[1] for l in status.splitlines() if l.startswith('Seccomp:')][0])\n"
            "print(libc.syscall(250, 0, 0, 0), ctypes.get_errno())\n"  # keyctl: denied by Docker's profile
        )
        mode, keyctl = run(docker, source).splitlines()
    finally:
        docker.close()
    assert mode == "2" and keyctl == "-1 1"


def test_the_catalog_says_how_runs_are_confined(live_server: str) -> None:
    import httpx

    rewards = {r["name"]: r for r in httpx.get(f"{live_server}/v1/rewards", timeout=30).json()["rewards"]}
    info = rewards["code"]["info"]
    assert info["sandbox_backend"] == "local" and info["sandbox_memory_limit"] == "RLIMIT_AS"
    assert info["sandbox_warm"] is True and info["sandbox_peak_memory"].startswith("wait4")
    assert info["sandbox_syscall_filter"].startswith("seccomp-bpf")
