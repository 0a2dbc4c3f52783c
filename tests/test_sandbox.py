"""The sandbox contract, on every backend that runs here (docker skipped loudly when it cannot)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sandboxes import RunRequest, Sandbox, Status
from tests.helpers import sandbox_or_skip


@pytest.fixture(scope="module", params=["local", "local-cold", "docker", "docker-exec"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    backend = sandbox_or_skip(request.param)
    yield backend
    backend.close()


def run(sandbox: Sandbox, source: str, **fields: object) -> object:
    return sandbox.run(RunRequest(source=source, **fields))


def test_ok_with_stdin_argv_and_files(sandbox: Sandbox) -> None:
    result = run(
        sandbox,
        "import sys\nprint(input()[::-1], sys.argv[1:], open('data/x.txt').read())",
        stdin="abc",
        argv=["-v", "2"],
        files={"data/x.txt": "payload"},
    )
    assert result.status == Status.ok, result
    assert result.stdout == "cba ['-v', '2'] payload\n" and result.exit_code == 0
    assert result.wall_time_s > 0


def test_runtime_error_exit_code_and_stderr(sandbox: Sandbox) -> None:
    result = run(sandbox, "import sys\nprint('oops', file=sys.stderr)\nsys.exit(7)")
    assert (result.status, result.exit_code, result.stderr) == (Status.runtime_error, 7, "oops\n")
    crashed = run(sandbox, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert crashed.status == Status.runtime_error and crashed.signal == 11


def test_timeout_is_enforced_on_wall_clock(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = run(sandbox, "import time\ntime.sleep(60)", time_limit_s=1)
    assert result.status == Status.timeout
    assert time.monotonic() - started < 1 + 1.5


def test_memory_limit(sandbox: Sandbox) -> None:
    result = run(sandbox, "x = bytearray(600 * 1024 * 1024)\nprint(len(x))", memory_limit_mb=256)
    assert result.status == Status.memory_limit
    fits = run(sandbox, "x = bytearray(64 * 1024 * 1024)\nprint(len(x))", memory_limit_mb=256)
    assert fits.status == Status.ok


@pytest.fixture(scope="module", params=["local", "docker"])
def warm_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    backend = sandbox_or_skip(request.param)
    yield backend
    backend.close()


def test_peak_memory_is_the_runs_own(warm_sandbox: Sandbox) -> None:
    """Measured from wait4 of the run's own process on the warm paths (the cold ones report null): a
    program that touches 200 MiB peaks above it, a trivial one far below; never the service's memory."""
    sandbox = warm_sandbox
    big = run(sandbox, "x = bytearray(200 * 1024 * 1024)\nprint(len(x))", memory_limit_mb=512)
    small = run(sandbox, "print(1)")
    assert big.status == Status.ok and 200 <= big.peak_memory_mb < 260, big.peak_memory_mb
    assert small.peak_memory_mb is not None and small.peak_memory_mb < 40
    cpp = sandbox.run(
        RunRequest(
            language="cpp",
            source="#include <vector>\nint main(){std::vector<char> v(100 << 20, 1); return v[7] - 1;}",
        )
    )
    assert cpp.status == Status.ok and 100 <= cpp.peak_memory_mb < 160, cpp.peak_memory_mb


def test_output_cap(sandbox: Sandbox) -> None:
    result = run(sandbox, "print('x' * 10_000_000)", output_limit_bytes=4096)
    assert result.status == Status.output_limit and result.stdout_truncated and len(result.stdout) == 4096


def test_cpp_compiles_once_for_all_tests(sandbox: Sandbox) -> None:
    source = "#include <iostream>\nint main(){long a,b; std::cin>>a>>b; std::cout<<a*b<<std::endl;}"
    started = time.monotonic()
    results = sandbox.run_tests(RunRequest(language="cpp", source=source), ["2 3", "4 5", "6 7", "8 9"])
    elapsed = time.monotonic() - started
    assert [r.stdout for r in results] == ["6\n", "20\n", "42\n", "72\n"]
    single = time.monotonic()
    sandbox.run(RunRequest(language="cpp", source=source, stdin="1 1"))
    one_compile = time.monotonic() - single
    assert elapsed < 2.5 * one_compile  # four runs cost far less than four compiles
    broken = sandbox.run_tests(RunRequest(language="cpp", source="int main( {"), ["1", "2"])
    assert [r.status for r in broken] == [Status.compile_error] * 2 and "error" in broken[0].compile_output


def test_run_tests_can_stop_early(sandbox: Sandbox) -> None:
    results = sandbox.run_tests(
        RunRequest(source="print(int(input()) * 2)"),
        ["1", "x", "3"],
        stop=lambda index, result: result.status != Status.ok,
    )
    assert [r.status for r in results] == [Status.ok, Status.runtime_error]


@pytest.fixture(scope="module", params=["local", "local-cold", "docker"])
def served_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The backends the service runs (`sandbox_warm` on or off), not the `docker exec` baseline of
    the benchmark, which only kills processes between the tests of a submission and takes ~0.3 s a run."""
    backend = sandbox_or_skip(request.param)
    yield backend
    backend.close()


def test_tests_of_one_submission_do_not_see_each_others_files(served_sandbox: Sandbox) -> None:
    """A session restores the submission's files before each test: what a test writes is gone."""
    sandbox = served_sandbox
    source = (
        "import os\nn = input()\n"
        "print(n, sorted(os.listdir('.')), os.listdir('/tmp'), open('data.txt').read())\n"
        "open('data.txt', 'w').write('changed')\n"
        "open(f'/tmp/{n}', 'w').write(n)\nopen(f'out{n}', 'w').write(n)\n"
    )
    results = sandbox.run_tests(RunRequest(source=source, files={"data.txt": "given"}), ["1", "2"])
    assert [r.stdout for r in results] == [f"{n} ['data.txt', 'main.py'] [] given\n" for n in (1, 2)]


def test_run_programs_runs_each_program_on_its_own(sandbox: Sandbox) -> None:
    programs = [
        RunRequest(
            source="open('/tmp/mark', 'w').write('1')\nprint('first', open('a.txt').read())",
            files={"a.txt": "A"},
        ),
        RunRequest(source="import os\nprint('second', os.listdir('/tmp'), sorted(os.listdir('.')))"),
        RunRequest(source="raise SystemExit(3)"),
        RunRequest(source="print('never')"),
    ]
    results = sandbox.run_programs(programs, stop=lambda index, result: result.status != Status.ok)
    assert [r.stdout for r in results] == ["first A\n", "second [] ['main.py']\n", ""]
    assert results[2].status == Status.runtime_error and results[2].exit_code == 3


def test_unknown_language_is_a_sandbox_error(sandbox: Sandbox) -> None:
    result = run(sandbox, "x", language="cobol")
    assert result.status == Status.sandbox_error and "unknown language" in result.error


def test_a_burst_queues_instead_of_failing(served_sandbox: Sandbox) -> None:
    sandbox = served_sandbox
    count = 120
    results: list[object] = [None] * count

    def one(index: int) -> None:
        results[index] = run(sandbox, f"print({index})")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(count)]
    assert all(r.status == Status.ok for r in results)
    assert sandbox.slots.size == 2


def test_local_sandboxes_never_share_a_uid() -> None:
    """Two local sandboxes on one host (say two uvicorn workers) must not sweep each other's runs."""
    import os

    from sandboxes.local import LocalSandbox

    if os.geteuid() != 0:
        pytest.skip("uids per slot are used only when the service runs as root")
    first, second = LocalSandbox(2), LocalSandbox(2)
    try:
        assert not set(first.uids) & set(second.uids)
        slow = threading.Thread(
            target=lambda: results.append(
                first.run(
                    RunRequest(source="import time\ntime.sleep(1.5)\nprint('survived')", time_limit_s=5)
                )
            )
        )
        results: list = []
        slow.start()
        time.sleep(0.5)
        for _ in range(5):
            second.run(RunRequest(source="print(1)"))  # each run sweeps its own uid
        slow.join(10)
        assert results[0].status == Status.ok and results[0].stdout == "survived\n"
    finally:
        first.close()
        second.close()


def test_sandbox_processes_left_to_the_service_are_collected() -> None:
    """A warm runner whose bwrap died first is re-parented to the service (a subreaper): it must be
    reaped, or every later cold run waits for its uid's "processes" to go."""
    import os

    from sandboxes.local import FIRST_UID, UID_RANGE, _reap_orphans

    if os.geteuid() != 0:
        pytest.skip("sandbox uids are used only when the service runs as root")
    child = os.fork()
    if child == 0:
        os.setuid(FIRST_UID + UID_RANGE - 1)
        os._exit(0)
    time.sleep(0.2)  # a zombie now, as a sandbox uid
    _reap_orphans()
    with pytest.raises(ChildProcessError):
        os.waitpid(child, os.WNOHANG)
