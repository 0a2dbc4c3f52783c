"""Hostile programs and the outcome each must get. Shared by the local and docker backend suites.

Each attack prints what it managed to do; `expect` checks the RunResult. Programs that probe for
access print "BLOCKED" when the sandbox stops them and "LEAK ..." when it does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandboxes import RunResult, Status

MARKER = "referee-attack-7f3a"  # in every attack's command line or files, to find leftovers


@dataclass(frozen=True)
class Attack:
    name: str
    source: str
    expect: Callable[[RunResult], bool]
    language: str = "python"
    limits: dict[str, Any] = field(default_factory=dict)
    stdin: str = ""


def host_digest(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def blocked(result: RunResult) -> bool:
    return result.status == Status.ok and "BLOCKED" in result.stdout and "LEAK" not in result.stdout


def status_is(*statuses: Status) -> Callable[[RunResult], bool]:
    return lambda result: result.status in statuses


def probe(statement: str) -> str:
    """A program that runs `statement` and reports whether it was stopped."""
    return (
        f"# {MARKER}\ntry:\n    result = {statement}\n    print('LEAK', repr(result)[:200])\n"
        f"except Exception as exc:\n    print('BLOCKED', type(exc).__name__, exc)\n"
    )


JAVA_MAIN = "public class Main { public static void main(String[] a) throws Exception {\n"
# The same four attacks in each language beyond Python and C++ (whose runtimes bring their own ways in).
OTHER_LANGUAGES: dict[str, dict[str, str]] = {
    "java": {
        "network": f"import java.net.*;\n{JAVA_MAIN}"
        '  try { new Socket().connect(new InetSocketAddress("1.1.1.1", 80), 3000);'
        ' System.out.println("LEAK"); }\n'
        '  catch (Exception e) { System.out.println("BLOCKED " + e); } } }',
        "read_service_files": f"import java.nio.file.*;\n{JAVA_MAIN}"
        '  try { System.out.println("LEAK " + Files.readString(Path.of("{canary}"))); }\n'
        '  catch (Exception e) { System.out.println("BLOCKED " + e); } } }',
        "process_bomb": f"{JAVA_MAIN}"
        '  while (true) new ProcessBuilder("/usr/lib/jvm/default-java/bin/java", "-version").start(); } }',
        "memory_bomb": f"import java.util.*;\n{JAVA_MAIN}"
        "  List<long[]> keep = new ArrayList<>(); while (true) keep.add(new long[1 << 20]); } }",
    },
    "javascript": {
        "network": "require('net').connect(80, '1.1.1.1')\n"
        "  .on('connect', () => { console.log('LEAK'); process.exit(0); })\n"
        "  .on('error', (e) => console.log('BLOCKED ' + e.code));",
        "read_service_files": "try { console.log('LEAK ' + require('fs').readFileSync('{canary}')); }\n"
        "catch (e) { console.log('BLOCKED ' + e.code); }",
        "process_bomb": "const { spawn } = require('child_process');\n"
        "for (;;) spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);",
        "memory_bomb": "const keep = []; for (;;) keep.push(Buffer.alloc(64 << 20, 1));",
    },
    "go": {
        "network": 'package main\nimport ("fmt"; "net"; "time")\nfunc main() {\n'
        '  if _, err := net.DialTimeout("tcp", "1.1.1.1:80", 3*time.Second); err != nil {'
        ' fmt.Println("BLOCKED", err) } else { fmt.Println("LEAK") } }',
        "write_outside_workdir": 'package main\nimport ("fmt"; "os")\nfunc main() {\n'
        '  if err := os.WriteFile("/usr/bin/evil", []byte("x"), 0o755); err != nil {'
        ' fmt.Println("BLOCKED", err) } else { fmt.Println("LEAK") } }',
        "process_bomb": 'package main\nimport "syscall"\nfunc main() {\n'
        '  for { syscall.ForkExec("/proc/self/exe", []string{"main"}, nil) } }',
        "memory_bomb": "package main\nvar keep [][]byte\nfunc main() {\n  for {\n"
        "    b := make([]byte, 64<<20); for i := range b { b[i] = 1 }; keep = append(keep, b) } }",
    },
    "rust": {
        "network": "use std::net::TcpStream;\nfn main() {\n"
        '  match TcpStream::connect("1.1.1.1:80") { Ok(_) => println!("LEAK"),'
        ' Err(e) => println!("BLOCKED {e}") } }',
        "read_service_files": "fn main() {\n"
        '  match std::fs::read_to_string("{canary}") { Ok(t) => println!("LEAK {t}"),'
        ' Err(e) => println!("BLOCKED {e}") } }',
        "process_bomb": "fn main() {\n"
        '  loop { let _ = std::process::Command::new("/proc/self/exe").spawn(); } }',
        "memory_bomb": "fn main() {\n"
        "  let mut keep = Vec::new();\n  loop { keep.push(vec![1u8; 64 << 20]); } }",
    },
}
OUTCOMES: dict[str, tuple[Callable[[RunResult], bool], dict[str, Any]]] = {
    "process_bomb": (
        status_is(Status.runtime_error, Status.timeout, Status.memory_limit),
        {"time_limit_s": 3},
    ),
    "memory_bomb": (status_is(Status.memory_limit, Status.runtime_error), {}),
}
"""What an attack of OTHER_LANGUAGES must get (and its limits) when it is not `blocked`."""


ATTACKS: list[Attack] = [
    Attack(
        "tcp_connect_internet",
        probe("__import__('socket').create_connection(('1.1.1.1', 80), timeout=3)"),
        blocked,
    ),
    Attack(
        "tcp_connect_host_loopback",
        probe("__import__('socket').create_connection(('127.0.0.1', int(input())), timeout=3)"),
        blocked,
        stdin="{service_port}\n",
    ),
    Attack("resolve_name", probe("__import__('socket').getaddrinfo('pypi.org', 443)"), blocked),
    Attack("udp_send", probe("__import__('socket').socket(2, 2).sendto(b'x', ('8.8.8.8', 53))"), blocked),
    Attack("read_etc_shadow", probe("open('/etc/shadow').read()"), blocked),
    # The docker image has an /etc of its own; what must not be visible is the host's.
    Attack(
        "read_host_etc_passwd",
        f"# {MARKER}\nimport hashlib\ntry:\n"
        "    print('DIGEST', hashlib.sha256(open('/etc/passwd', 'rb').read()).hexdigest())\n"
        "except OSError as exc:\n    print('BLOCKED', exc)\n",
        lambda r: (
            r.status == Status.ok and ("BLOCKED" in r.stdout or host_digest("/etc/passwd") not in r.stdout)
        ),
    ),
    Attack("list_service_home", probe("__import__('os').listdir('{home}')"), blocked),
    Attack("read_service_files", probe("open('{canary}').read()"), blocked),
    Attack(
        "read_service_environment",
        f"# {MARKER}\nimport os\nprint('LEAK' if 'REFEREE_TEST_SECRET' in os.environ or "
        "any('secret' in v for v in os.environ.values()) else 'BLOCKED', sorted(os.environ))\n",
        blocked,
    ),
    Attack("write_outside_workdir", probe("open('/usr/bin/evil', 'w').write('x')"), blocked),
    Attack("write_root_filesystem", probe("open('/evil-" + MARKER + "', 'w').write('x')"), blocked),
    Attack(
        "leave_file_for_next_run",
        f"# {MARKER}\nopen('/tmp/{MARKER}', 'w').write('x')\n"
        f"open('/box/{MARKER}', 'w').write('x')\nprint('BLOCKED')\n",
        blocked,
    ),
    Attack(
        "find_previous_runs_file",
        f"# {MARKER}\nimport os\n"
        f"print('LEAK' if os.path.exists('/tmp/{MARKER}') or os.path.exists('/box/{MARKER}') "
        "else 'BLOCKED')\n",
        blocked,
    ),
    Attack(
        "fork_bomb",
        f"# {MARKER}\nimport os\nwhile True:\n    os.fork()\n",
        status_is(Status.runtime_error, Status.timeout, Status.memory_limit),
        limits={"time_limit_s": 3},
    ),
    Attack(
        "thread_bomb",
        f"# {MARKER}\nimport threading, time\nwhile True:\n"
        "    threading.Thread(target=time.sleep, args=(60,)).start()\n",
        status_is(Status.runtime_error, Status.timeout, Status.memory_limit),
        limits={"time_limit_s": 3},
    ),
    Attack(
        "allocate_10_gb",
        f"# {MARKER}\nx = bytearray(10 * 1024 ** 3)\nprint('LEAK')\n",
        status_is(Status.memory_limit),
    ),
    Attack(
        "allocate_in_chunks",
        f"# {MARKER}\nchunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n",
        status_is(Status.memory_limit),
    ),
    Attack(
        "spin_forever",
        f"# {MARKER}\nwhile True:\n    pass\n",
        status_is(Status.timeout),
        limits={"time_limit_s": 1},
    ),
    Attack(
        "sleep_forever",
        f"# {MARKER}\nimport time\ntime.sleep(10 ** 6)\n",
        status_is(Status.timeout),
        limits={"time_limit_s": 1},
    ),
    Attack(
        "ignore_sigterm",
        f"# {MARKER}\nimport signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n",
        status_is(Status.timeout),
        limits={"time_limit_s": 1},
    ),
    Attack(
        "double_fork_daemon",
        f"# {MARKER}\nimport os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        time.sleep(30)\n        open('/tmp/{MARKER}-daemon', 'w').write('alive')\n    os._exit(0)\n"
        "print('parent done')\n",
        status_is(Status.ok, Status.timeout),
        limits={"time_limit_s": 2},
    ),
    Attack(
        "flood_stdout",
        f"# {MARKER}\nimport sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
        lambda r: r.status == Status.output_limit and r.stdout_truncated and len(r.stdout) <= 1 << 20,
    ),
    Attack(
        "flood_stderr",
        f"# {MARKER}\nimport sys\nwhile True:\n    sys.stderr.write('y' * 65536)\n",
        lambda r: r.status == Status.output_limit and r.stderr_truncated and len(r.stderr) <= 1 << 20,
    ),
    Attack(
        "fill_the_disk",
        f"# {MARKER}\nimport os\nn = 0\ntry:\n    for d in ('/tmp', '/box', '/dev/shm'):\n"
        "        for i in range(10 ** 6):\n"
        "            with open(f'{d}/fill{i}', 'wb') as f:\n                f.write(b'0' * (8 << 20))\n"
        "            n += 8\nexcept OSError as exc:\n    print('BLOCKED after', n, 'MiB', exc)\n",
        lambda r: "BLOCKED" in r.stdout or r.status in (Status.runtime_error, Status.timeout),
    ),
    Attack(
        "kill_parent",
        f"# {MARKER}\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('sent')\n",
        lambda r: r.status != Status.sandbox_error,
    ),
    Attack(
        "kill_everything",
        f"# {MARKER}\nimport os, signal\nos.kill(-1, signal.SIGKILL)\n",
        lambda r: r.status != Status.sandbox_error,
    ),
    Attack(
        "signal_the_service",
        probe("__import__('os').kill(int(input()), 15)"),
        blocked,
        stdin="{service_pid}\n",
    ),
    Attack(
        "see_host_processes",
        f"# {MARKER}\nimport os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "print('LEAK' if len(pids) > 5 else 'BLOCKED', pids)\n",
        blocked,
    ),
    # ptrace reaches only the run's own processes (its pid namespace); the service is not among them.
    Attack(
        "ptrace_attach_service",
        f"# {MARKER}\nimport ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('LEAK' if libc.ptrace(16, int(input()), 0, 0) == 0 else 'BLOCKED', ctypes.get_errno())\n",
        blocked,
        stdin="{service_pid}\n",
    ),
    Attack(
        "mount_tmpfs",
        f"# {MARKER}\nimport ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "os.makedirs('/tmp/m', exist_ok=True)\n"
        "print('LEAK' if libc.mount(b'none', b'/tmp/m', b'tmpfs', 0, None) == 0 else 'BLOCKED')\n",
        blocked,
    ),
    Attack("setuid_root", probe("__import__('os').setuid(0)"), blocked),
    Attack(
        "new_user_namespace",
        f"# {MARKER}\nimport ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('LEAK' if libc.unshare(0x10000000) == 0 else 'BLOCKED')\n",
        blocked,
    ),
    Attack(
        "deep_recursion",
        f"# {MARKER}\nimport sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
        status_is(Status.runtime_error, Status.memory_limit),
    ),
    Attack(
        "invalid_utf8_output",
        f"# {MARKER}\nimport sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\x80 end')\n",
        lambda r: r.status == Status.ok and r.stdout.startswith("ok ") and "\ufffd" in r.stdout,
    ),
    Attack(
        "cpp_fork_bomb",
        "// " + MARKER + "\n#include <unistd.h>\nint main(){ while(true) fork(); }\n",
        status_is(Status.runtime_error, Status.timeout, Status.memory_limit),
        language="cpp",
        limits={"time_limit_s": 3},
    ),
    Attack(
        "cpp_memory_bomb",
        "// "
        + MARKER
        + "\n#include <cstdlib>\n#include <cstring>\nint main(){ while(true){ char* p=(char*)malloc(1<<26);"
        " if(!p) return 137; memset(p, 1, 1<<26);} }\n",
        status_is(Status.memory_limit, Status.runtime_error),
        language="cpp",
    ),
    *(
        Attack(f"{language}_{name}", f"// {MARKER}\n{source}", expect, language, limits)
        for language, programs in OTHER_LANGUAGES.items()
        for name, source in programs.items()
        for expect, limits in [OUTCOMES.get(name, (blocked, {}))]
    ),
]
