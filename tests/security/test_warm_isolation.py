"""Warm sandboxes start every run from the same started runner: nothing of run N may reach run N+1.

Each test runs a program that leaves something behind (files, processes, IPC objects, module
state, data in memory) and then, in the same slot, a program that looks for it. Positive controls
show that each probe does find what it looks for when it is there.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from sandboxes import RunRequest, Sandbox, Status
from tests.helpers import sandbox_or_skip


@pytest.fixture(scope="module", params=["local", "docker"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    backend = sandbox_or_skip(request.param, concurrency=1)  # one slot: every run reuses the same runner
    yield backend
    backend.close()


def run(sandbox: Sandbox, source: str, stdin: str = "") -> str:
    result = sandbox.run(RunRequest(source=source, stdin=stdin, time_limit_s=20))
    assert result.status == Status.ok, (result.status, result.stderr[-2000:])
    return result.stdout


LEAVE_FILES = """
import os
for folder in ('/box', '/tmp', '/dev/shm'):
    open(f'{folder}/left', 'w').write('x')
    path = f'{folder}/deep'
    for _ in range(50):
        path += '/d'
    os.makedirs(path)
    os.chmod(f'{folder}/deep', 0)
os.symlink('/box/left', '/tmp/link')
os.mkfifo('/tmp/fifo')
print('left')
"""

FIND_FILES = """
import os
print(sorted(os.listdir('/box')), os.listdir('/tmp'), os.listdir('/dev/shm'))
"""


def test_files_of_a_run_are_gone(sandbox: Sandbox) -> None:
    assert run(sandbox, LEAVE_FILES) == "left\n"
    assert run(sandbox, FIND_FILES) == "['main.py'] [] []\n"


def test_processes_of_a_run_are_gone(sandbox: Sandbox) -> None:
    leave = (
        "import os, subprocess, signal\n"
        "subprocess.Popen(['/usr/bin/sleep', '1000'], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    os.kill(os.getpid(), signal.SIGSTOP)\n"
        "print('left')\n"
    )
    find = (
        "import os\nfound = []\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n        cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
        "    except OSError:\n        continue\n"
        "    found += [cmd] if b'1000' in cmd else []\n"
        "print(found)\n"
    )
    assert run(sandbox, leave) == "left\n"
    assert run(sandbox, find) == "[]\n"


def test_module_state_and_environment_are_fresh(sandbox: Sandbox) -> None:
    leave = (
        "import builtins, collections, json, os, sys\n"
        "json.LEAK = collections.LEAK = builtins.LEAK = 1\n"
        "sys.path.append('/tmp/leak')\nos.environ['LEAK'] = '1'\nsys.setrecursionlimit(50)\n"
        "print('left')\n"
    )
    find = (
        "import builtins, collections, json, os, sys\n"
        "print([hasattr(m, 'LEAK') for m in (json, collections, builtins)], '/tmp/leak' in sys.path,\n"
        "      'LEAK' in os.environ, sys.getrecursionlimit(), sorted(os.environ))\n"
    )
    assert run(sandbox, leave) == "left\n"
    found = run(sandbox, find)
    assert found.startswith("[False, False, False] False False 1000 "), found


def test_random_state_is_not_shared(sandbox: Sandbox) -> None:
    draws = {run(sandbox, "import random\nprint(random.getrandbits(64))") for _ in range(4)}
    assert len(draws) == 4


SCAN_MEMORY = """
import re, sys
found = set()
with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:
    for line in maps:
        span, perms = line.split()[:2]
        if not perms.startswith('r') or '[vvar]' in line or '[vsyscall]' in line:
            continue
        start, end = (int(x, 16) for x in span.split('-'))
        try:
            mem.seek(start)
            found.update(m.decode() for m in re.findall(rb'SECRET-[0-9a-f]{32}', mem.read(end - start)))
        except (OSError, ValueError, OverflowError):
            pass
print(sorted(found))
"""


def test_memory_of_a_run_is_not_inherited(sandbox: Sandbox) -> None:
    secret = f"SECRET-{secrets.token_hex(16)}"
    keep = "import sys\ndata = sys.stdin.read()\nprint(len(data))\n"
    assert run(sandbox, keep, stdin=secret * 1000) == f"{len(secret) * 1000}\n"
    assert secret not in run(sandbox, SCAN_MEMORY)
    # Positive control: the scan finds a secret that is in the run's own memory.
    assert secret in run(sandbox, f"held = {secret!r}.encode().decode()\n" + SCAN_MEMORY, stdin=secret)


def test_system_v_ipc_and_message_queues_are_removed(sandbox: Sandbox) -> None:
    leave = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.shmget(0x5EC, 4096, 0o1600) >= 0, libc.semget(0x5ED, 1, 0o1600) >= 0,\n"
        "      libc.msgget(0x5EE, 0o1600) >= 0,\n"
        "      libc.mq_open(b'/leak', os.O_CREAT | os.O_RDWR, 0o600, None) >= 0)\n"
    )
    find = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.shmget(0x5EC, 0, 0), libc.semget(0x5ED, 0, 0), libc.msgget(0x5EE, 0),\n"
        "      libc.mq_open(b'/leak', os.O_RDWR))\n"
    )
    assert run(sandbox, leave) == "True True True True\n"
    assert run(sandbox, find) == "-1 -1 -1 -1\n"


def test_a_program_cannot_reach_the_runners_control_channel(sandbox: Sandbox) -> None:
    """The supervisor and the zygote are not dumpable: their /proc fds are closed to the program."""
    forge = (
        "import os, json, struct\nreached, listed = [], []\n"
        "for pid in {int(p) for p in os.listdir('/proc') if p.isdigit()} - {os.getpid()}:\n"
        "    try:\n        listed.append((pid, os.listdir(f'/proc/{pid}/fd')))\n"
        "    except OSError:\n        pass\n"
        "    for fd in (0, 1):\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/fd/{fd}', 'wb', 0) as channel:\n"
        "                body = json.dumps({'exit_code': 0, 'stdout': 'FORGED'}).encode()\n"
        "                channel.write(struct.pack('>I', len(body)) + body)\n"
        "                reached.append((pid, fd))\n"
        "        except OSError:\n            pass\n"
        "print('reached', reached, 'listed', listed)\n"
    )
    assert run(sandbox, forge) == "reached [] listed []\n"
    assert run(sandbox, "print('next')") == "next\n"


def test_a_run_that_attacks_its_supervisor_leaves_the_next_run_clean(sandbox: Sandbox) -> None:
    result = sandbox.run(
        RunRequest(
            source="import os\nopen('/tmp/left', 'w').write('x')\nos.kill(os.getppid(), 9)\nprint('alive')"
        )
    )
    # The session's PID 1 ignores the signal (local); a container's supervisor is another uid (EPERM).
    assert result.status in (Status.ok, Status.runtime_error)
    assert run(sandbox, FIND_FILES) == "['main.py'] [] []\n"


def test_a_series_goes_on_in_a_fresh_session_when_the_supervisor_is_lost(sandbox: Sandbox) -> None:
    """Test 2 leaves its supervisor no file descriptors: the supervisor fails at test 3, which is a
    runtime error, and tests 4 and 5 run in a new session (where the supervisor is out of reach,
    nothing changes)."""
    source = (
        "import os, resource\nn = int(input())\n"
        "if n == 2:\n    try:\n        resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (3, 3))\n"
        "    except OSError:\n        pass\nprint(n)\n"
    )
    results = sandbox.run_tests(RunRequest(source=source), ["1", "2", "3", "4", "5"])
    statuses = [r.status for r in results]
    assert statuses in ([Status.ok] * 5, [Status.ok, Status.ok, Status.runtime_error, Status.ok, Status.ok])
    assert [r.stdout for r in results if r.status == Status.ok] == [
        f"{n}\n" for n in range(1, 6) if statuses[n - 1] == Status.ok
    ]


# Found by a review of the warm path: a program attacking its supervisor (same uid in a container's
# runs; PID 1 of the session in the local backend) must not reach later runs or escape its limits.


def test_a_supervisor_killed_between_requests_never_shifts_later_answers(sandbox: Sandbox) -> None:
    """The program makes its supervisor die while it wipes for an `end` the host expects no answer to;
    every later job still gets its own output (answers carry their request's id)."""
    desync = (
        "import os, resource\nn = int(input())\nif n == 1:\n"
        "    for i in range(20000):\n        os.mkdir(f'/tmp/{i}')\n"
        "    try:\n        resource.prlimit(os.getppid(), resource.RLIMIT_CPU, (1, 1))\n"
        "    except OSError:\n        pass\n"
        "    print('wrong')\nelse:\n    print('n', n)\n"
    )
    sandbox.run_tests(RunRequest(source=desync, time_limit_s=10), ["1", "2"], stop=lambda i, r: True)
    for name in ("B", "C", "D"):
        results = sandbox.run_tests(RunRequest(source=f"print('{name}', input())"), [f"{name}1", f"{name}2"])
        assert [r.stdout for r in results] == [f"{name} {name}1\n", f"{name} {name}2\n"]


PROCESS_STATE = (
    "import os, resource\n"
    "print(os.getpriority(os.PRIO_PROCESS, 0), sorted(os.sched_getaffinity(0)),\n"
    "      [resource.getrlimit(r) for r in (resource.RLIMIT_STACK, resource.RLIMIT_CPU)])\n"
)


def test_a_run_cannot_change_the_limits_priority_or_cpus_of_later_runs(sandbox: Sandbox) -> None:
    clean = run(sandbox, PROCESS_STATE)
    tamper = (
        "import os, resource\n"
        "for pid in {os.getppid(), 1}:\n"
        "    for change in (lambda: resource.prlimit(pid, resource.RLIMIT_STACK, (1 << 18, 1 << 18)),\n"
        "                   lambda: resource.prlimit(pid, resource.RLIMIT_CPU, (5, 5)),\n"
        "                   lambda: os.setpriority(os.PRIO_PROCESS, pid, 19),\n"
        "                   lambda: os.sched_setaffinity(pid, {0})):\n"
        "        try:\n            change()\n        except OSError:\n            pass\n"
        "print('done')\n"
    )
    assert run(sandbox, tamper) == "done\n"
    assert run(sandbox, PROCESS_STATE) == clean


def test_stopping_the_supervisor_does_not_buy_time(sandbox: Sandbox) -> None:
    """SIGSTOP to the parent, work past the limit, then SIGCONT from a helper: still a timeout."""
    source = (
        "import os, signal, time\nparent = os.getppid()\n"
        "if os.fork() == 0:\n    time.sleep(2.5)\n    os.kill(parent, signal.SIGCONT)\n    os._exit(0)\n"
        "try:\n    os.kill(parent, signal.SIGSTOP)\nexcept OSError:\n    pass\n"
        "time.sleep(2)\nprint('finished late')\n"
    )
    result = sandbox.run(RunRequest(source=source, time_limit_s=1))
    assert result.status == Status.timeout and "finished late" not in result.stdout


def test_signals_to_pid_1_and_the_parent_do_not_break_the_sandbox(sandbox: Sandbox) -> None:
    source = (
        "import os, signal\n"
        "for pid in (1, os.getppid()):\n"
        "    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):\n"
        "        try:\n            os.kill(pid, number)\n        except OSError:\n            pass\n"
        "print(1 / 0)\n"
    )
    result = sandbox.run(RunRequest(source=source))
    assert result.status == Status.runtime_error and "ZeroDivisionError" in result.stderr
    assert run(sandbox, "print('next')") == "next\n"


def test_dev_is_read_only(sandbox: Sandbox) -> None:
    probe = (
        "import os\ntry:\n    open('/dev/left', 'w').write('x' * 100)\n    print('LEAK')\n"
        "except OSError as exc:\n    print('BLOCKED', exc.errno)\nprint(os.path.exists('/dev/left'))\n"
    )
    assert run(sandbox, probe).startswith("BLOCKED")
    assert run(sandbox, probe).endswith("False\n")
