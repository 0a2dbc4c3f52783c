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
        "      libc.msgget(0x5EE, 0o1600) >= 0, libc.mq_open(b'/leak', os.O_CREAT | os.O_RDWR, 0o600, None) >= 0)\n"
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


def test_a_run_that_kills_its_supervisor_is_a_runtime_error_and_the_next_run_is_clean(
    sandbox: Sandbox,
) -> None:
    result = sandbox.run(
        RunRequest(source="import os\nopen('/tmp/left', 'w').write('x')\nos.kill(os.getppid(), 9)\n")
    )
    assert result.status == Status.runtime_error
    assert run(sandbox, FIND_FILES) == "['main.py'] [] []\n"
    # A series keeps going in a fresh session after the supervisor is gone.
    results = sandbox.run_tests(
        RunRequest(
            source="import os\nn = int(input())\nif n == 2:\n    os.kill(os.getppid(), 9)\nprint(n)\n"
        ),
        ["1", "2", "3"],
    )
    assert [r.status for r in results] == [Status.ok, Status.runtime_error, Status.ok]
    assert [r.stdout for r in results] == ["1\n", "", "3\n"]
