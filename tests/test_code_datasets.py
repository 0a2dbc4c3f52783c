"""The `code` reward on test data in each dataset's own shape, with verdicts checked by hand: right,
wrong, raising, timing-out and alternative-correct submissions, and the peers' known bugs."""

from __future__ import annotations

import base64
import dataclasses
import decimal
import json
import pickle
import zlib
from collections.abc import Iterator

import pytest

from sandboxes.languages import LANGUAGES
from service.grading.code.compare import Comparison, outputs_match, parse_json, values_equal
from service.grading.code.datasets import decode_lcb_private, read_suite
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.rewards.code import CodeParams, code_reward
from service.runtime.resources import Resources
from service.runtime.sandbox_pool import SandboxPool


@pytest.fixture(scope="module")
def ctx() -> Iterator[RewardContext]:
    pool = SandboxPool("local", 2)
    yield RewardContext(resources=Resources(sandboxes=pool))
    pool.close()


def fenced(code: str, language: str = "python") -> str:
    return f"My solution:\n```{language}\n{code}\n```\n"


def score(ctx: RewardContext, code: str, language: str = "python", **fields: object) -> Score:
    params = fields.pop("params", CodeParams(time_limit_s=2))
    assert isinstance(params, CodeParams)
    item = Item(completion=fenced(code, language), language=language, **fields)
    return code_reward([item], params, ctx)[0]


# APPS / TACO --------------------------------------------------------------------------------------

APPS_CALL = json.dumps(
    {"fn_name": "add", "inputs": [[1, 2], [5, -3], [10**30, 1]], "outputs": [[3], [2], [10**30 + 1]]}
)
APPS_STDIO = json.dumps(
    {"inputs": ["3\n1 2 3\n", "2\n5 5\n"], "outputs": ["6\n1 2 3\n", "10\n5 5\n"]}
)  # the sum, then the numbers again on a second line


def test_apps_call_based_right_wrong_raising_looping(ctx: RewardContext) -> None:
    assert score(ctx, "def add(a, b):\n    return a + b", input_output=APPS_CALL).value == 1.0
    wrong = score(ctx, "def add(a, b):\n    return a - b", input_output=APPS_CALL)
    assert wrong.value == 0.0 and "wrong return value" in str(wrong.error)
    raising = score(ctx, "def add(a, b):\n    raise ValueError('nope')", input_output=APPS_CALL)
    assert raising.value == 0.0 and "raised ValueError: nope" in str(raising.error)
    looping = score(
        ctx,
        "def add(a, b):\n    while True: pass",
        input_output=APPS_CALL,
        params=CodeParams(time_limit_s=0.5),
    )
    assert looping.value == 0.0 and "timeout" in str(looping.error)
    wrong_type = score(ctx, "def add(a, b):\n    return str(a + b)", input_output=APPS_CALL)
    assert wrong_type.value == 0.0  # "3" is not 3


def test_apps_call_based_leetcode_class_and_tuples(ctx: RewardContext) -> None:
    data = json.dumps(
        {
            "fn_name": "twoSum",
            "inputs": [[[2, 7, 11, 15], 9], [[3, 2, 4], 6]],
            "outputs": [[[0, 1]], [[1, 2]]],
        }
    )
    solution = (
        "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
        "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                return (seen[target - x], i)\n            seen[x] = i\n"
    )
    assert score(ctx, solution, input_output=data).value == 1.0  # a tuple is the data's list
    printing = "def add(a, b):\n    print('debug', a, b)\n    return a + b"
    assert score(ctx, printing, input_output=APPS_CALL).value == 1.0  # its prints do not count


def test_raising_function_fails_even_when_nothing_is_expected(ctx: RewardContext) -> None:
    """verl's call wrapper scores a function that raises 1.0 when the expected output is empty."""
    data = json.dumps({"fn_name": "log", "inputs": [["x"]], "outputs": [[]]})
    assert score(ctx, "def log(s):\n    return []", input_output=data).value == 1.0
    assert score(ctx, "def log(s):\n    raise RuntimeError()", input_output=data).value == 0.0
    assert score(ctx, "def log(s):\n    import os; os._exit(0)", input_output=data).value == 0.0


def test_apps_stdio_and_the_first_line_only_bug(ctx: RewardContext) -> None:
    right = "n = int(input()); xs = input().split()\nprint(sum(map(int, xs)))\nprint(' '.join(xs))"
    assert score(ctx, right, input_output=APPS_STDIO).value == 1.0
    first_line_only = "n = int(input()); xs = input().split()\nprint(sum(map(int, xs)))"
    assert score(ctx, first_line_only, input_output=APPS_STDIO).value == 0.0  # open-r1's zip() passes it
    spaced = (
        "n = int(input()); xs = input().split()\nprint(sum(map(int, xs)), end='   \\n')\nprint('  '.join(xs))"
    )
    assert score(ctx, spaced, input_output=APPS_STDIO).value == 1.0  # APPS compares tokens


def test_taco_limits_and_huge_integers(ctx: RewardContext) -> None:
    with decimal.localcontext() as exact:
        exact.prec = 6000
        big = decimal.Decimal(7) ** 6000  # past CPython's 4300-digit int/str limit
        data = json.dumps({"inputs": ["6000\n"], "outputs": [f"{big:f}\n"]})
    code = "import sys\nsys.set_int_max_str_digits(0)\nprint(7 ** int(input()))"
    assert (
        score(ctx, code, input_output=data, time_limit="2 seconds", memory_limit="256 megabytes").value == 1.0
    )
    off_by_one = "import sys\nsys.set_int_max_str_digits(0)\nprint(7 ** int(input()) + 1)"
    assert score(ctx, off_by_one, input_output=data).value == 0.0
    slow = "import time\ntime.sleep(1.5)\nprint(7)"
    tight = score(ctx, slow, input_output=json.dumps({"inputs": [""], "outputs": ["7"]}), time_limit=1)
    assert tight.value == 0.0 and "timeout" in str(tight.error)  # the item's 1 s, not the default 2 s


# LiveCodeBench ----------------------------------------------------------------------------------


def lcb_private(cases: list[dict[str, str]]) -> str:
    """LiveCodeBench's own encoding of `private_test_cases`."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


def test_livecodebench_functional_with_private_tests(ctx: RewardContext) -> None:
    public = json.dumps([{"input": "[1, 2, 3]\n2", "output": "[3, 4, 5]", "testtype": "functional"}])
    private = lcb_private([{"input": "[]\n5", "output": "[]", "testtype": "functional"}])
    fields = {
        "public_test_cases": public,
        "private_test_cases": private,
        "metadata": json.dumps({"func_name": "shift"}),
    }
    solution = (
        "class Solution:\n    def shift(self, nums: list[int], k: int) -> list[int]:\n"
        "        return [x + k for x in nums]"
    )
    assert score(ctx, solution, **fields).value == 1.0
    partial = "class Solution:\n    def shift(self, nums, k):\n        return [x + k for x in nums] or [0]"
    assert score(ctx, partial, **fields).value == 0.5


def test_livecodebench_stdin_floats_and_decimal_forms(ctx: RewardContext) -> None:
    cases = json.dumps([{"input": "1 3\n", "output": "0.3333333333\n", "testtype": "stdin"}])
    fields = {"public_test_cases": cases, "private_test_cases": lcb_private([]), "metadata": "{}"}
    assert score(ctx, "a, b = map(int, input().split())\nprint(a / b)", **fields).value == 1.0
    assert score(ctx, "print('%.12f' % (1 / 3))", **fields).value == 1.0  # LCB's exact Decimal fails it
    assert score(ctx, "print(0.34)", **fields).value == 0.0


def test_the_lcb_decoder_runs_no_pickled_code() -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    hostile = base64.b64encode(zlib.compress(pickle.dumps(Boom()))).decode()
    with pytest.raises(ValueError, match="refused"):
        decode_lcb_private(hostile)
    bomb = base64.b64encode(zlib.compress(b"\0" * (300 << 20))).decode()
    with pytest.raises(ValueError, match="more than"):
        decode_lcb_private(bomb)


# CodeContests -----------------------------------------------------------------------------------


CODECONTESTS = {
    "public_tests": {"input": ["2\n"], "output": ["YES\n0.500000\n"]},
    "private_tests": {"input": ["3\n"], "output": ["NO\n0.333333\n"]},
    "generated_tests": {"input": ["4\n", "5\n"], "output": ["YES\n0.250000\n", "NO\n0.200000\n"]},
    "time_limit": {"seconds": 1, "nanos": 500000000},
    "memory_limit_bytes": 268435456,
}


def test_codecontests_tokens_case_and_tolerance(ctx: RewardContext) -> None:
    right = (
        "n = int(input())\nprint('yes' if n % 2 == 0 else 'no', 1 / n)"  # lower case, one line, more digits
    )
    assert score(ctx, right, **CODECONTESTS).value == 1.0
    assert read_suite(CODECONTESTS).time_limit_s == 1.5 and read_suite(CODECONTESTS).memory_limit_mb == 256
    off = "n = int(input())\nprint('YES' if n % 2 == 0 else 'NO', 1 / n + 1e-3)"
    assert score(ctx, off, **CODECONTESTS).value == 0.0
    cpp = '#include <cstdio>\nint main(){int n;scanf("%d",&n);printf("%s\\n%.6f\\n", n%2?"NO":"YES", 1.0/n);}'
    assert score(ctx, cpp, "cpp", **CODECONTESTS).value == 1.0


# open-r1 Codeforces ----------------------------------------------------------------------------

# Any pair (a, b) with a + b = n and 1 <= a, b is accepted; the checker checks it.
CHECKER = """
import sys
inp, correct, out = (open(p).read().split() for p in sys.argv[1:4])
n = int(inp[0])
try:
    a, b = map(int, out)
    print(1 if a + b == n and a >= 1 and b >= 1 else 0)
except ValueError:
    print(0)
"""
CODEFORCES = {
    "official_tests": [{"input": "5\n", "output": "1 4\n"}, {"input": "2\n", "output": "1 1\n"}],
    "generated_checker": CHECKER,
    "time_limit": 1.0,
    "memory_limit": 256,
    "input_mode": "stdio",
}


def test_codeforces_checker_accepts_another_right_answer(ctx: RewardContext) -> None:
    reference = "n = int(input())\nprint(1, n - 1)"
    other = "n = int(input())\nprint(n // 2, n - n // 2)"
    wrong = "n = int(input())\nprint(0, n)"
    assert score(ctx, reference, **CODEFORCES).value == 1.0
    assert score(ctx, other, **CODEFORCES).value == 1.0  # differs from the reference, still right
    rejected = score(ctx, wrong, **CODEFORCES)
    assert rejected.value == 0.0 and "rejected by the checker" in str(rejected.error)


def test_a_crashing_checker_is_an_error_never_a_pass(ctx: RewardContext) -> None:
    broken = {**CODEFORCES, "generated_checker": "import sys\nraise SystemExit(5)"}
    verdict = score(ctx, "n = int(input())\nprint(1, n - 1)", **broken)
    assert verdict.value is None and str(verdict.error).startswith("checker_error")
    silent = {**CODEFORCES, "generated_checker": "pass"}
    assert score(ctx, "print(1, 4)", **silent).value is None


def test_codeforces_file_io(ctx: RewardContext) -> None:
    files = {**CODEFORCES, "input_mode": "file"}
    code = "n = int(open('input.txt').read())\nopen('output.txt', 'w').write(f'1 {n - 1}\\n')\nprint('noise')"
    assert score(ctx, code, **files).value == 1.0
    cpp = (
        '#include <cstdio>\nint main(){freopen("input.txt","r",stdin);freopen("output.txt","w",stdout);'
        'int n;scanf("%d",&n);printf("1 %d\\n",n-1);}'
    )
    assert score(ctx, cpp, "cpp", **files).value == 1.0


def test_testlib_checker_in_cpp(ctx: RewardContext) -> None:
    checker = (
        "#include <cstdio>\nint main(int argc, char** argv) {\n"
        '  FILE* in = fopen(argv[1], "r"); FILE* out = fopen(argv[2], "r");\n'
        '  long n, a, b; fscanf(in, "%ld", &n);\n'
        '  if (fscanf(out, "%ld %ld", &a, &b) != 2) return 2;\n'
        "  return (a + b == n && a >= 1 && b >= 1) ? 0 : 1;\n}\n"
    )
    fields = {"tests": [{"input": "5\n", "output": "1 4\n"}, {"input": "9\n", "output": "1 8\n"}]}
    item_checker = {"source": checker, "language": "cpp"}
    assert score(ctx, "n = int(input())\nprint(2, n - 2)", checker=item_checker, **fields).value == 1.0
    assert score(ctx, "n = int(input())\nprint(2, n)", checker=item_checker, **fields).value == 0.0
    assert score(ctx, "print('x')", checker=item_checker, **fields).value == 0.0  # exit 2: presentation


# MultiPL-E --------------------------------------------------------------------------------------


MULTIPL_E_JS = {
    "prompt": "//Add two numbers\nfunction add(x, y){\n",
    "tests": "const assert = require('node:assert');\n\nfunction test() {\n  let candidate = add;\n"
    "  assert.deepEqual(candidate(2, 3),5);\n  assert.deepEqual(candidate(-1, 1),0);\n}\n\ntest();\n",
    "stop_tokens": ["\nfunction ", "\n/*", "\n//", "\nconsole.log"],
    "language": "js",
}


def test_multipl_e_completion_and_fenced_forms(ctx: RewardContext) -> None:
    completion = Item(completion="  return x + y;\n}\n\nconsole.log(add(1, 2));", **MULTIPL_E_JS)
    assert code_reward([completion], CodeParams(), ctx)[0].value == 1.0
    whole = Item(completion=fenced("function add(x, y){\n  return x + y;\n}", "javascript"), **MULTIPL_E_JS)
    assert code_reward([whole], CodeParams(), ctx)[0].value == 1.0
    wrong = Item(completion="  return x - y;\n}\n", **MULTIPL_E_JS)
    assert code_reward([wrong], CodeParams(), ctx)[0].value == 0.0
    early_exit = Item(completion="  process.exit(0);\n}\n", **MULTIPL_E_JS)
    assert code_reward([early_exit], CodeParams(), ctx)[0].value == 0.0


def test_multipl_e_python_answer_with_its_own_docstring(ctx: RewardContext) -> None:
    item = {
        "prompt": 'def add(x: int, y: int) -> int:\n    """Add two numbers.\n'
        '    >>> add(2, 3)\n    5\n    """\n',
        "tests": "\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n\ncheck(add)\n",
        "stop_tokens": ["\ndef ", "\nif __name__"],
        "language": "python",
    }
    answer = fenced('def add(x: int, y: int) -> int:\n    """Add x and y."""\n    return x + y', "python")
    assert code_reward([Item(completion=answer, **item)], CodeParams(), ctx)[0].value == 1.0
    rewritten = fenced('def add(x, y):\n    """Add x and y."""\n    return x + y', "python")
    assert code_reward([Item(completion=rewritten, **item)], CodeParams(), ctx)[0].value == 1.0


def test_multipl_e_rust_and_java(ctx: RewardContext) -> None:
    rust = {
        "prompt": "fn add(x: isize, y: isize) -> isize {\n",
        "tests": "}\n\nfn main() {\n    let candidate = add;\n    assert_eq!(candidate(2, 3), 5);\n}\n",
        "stop_tokens": ["\n}"],
        "language": "rs",
    }
    assert code_reward([Item(completion="    x + y\n}\n", **rust)], CodeParams(), ctx)[0].value == 1.0
    assert code_reward([Item(completion="    x * y\n}\n", **rust)], CodeParams(), ctx)[0].value == 0.0
    java = {
        "prompt": "import java.util.*;\nclass Problem {\n    public static long add(long x, long y) {\n",
        "tests": "    }\n    public static void main(String[] args) {\n"
        "    if (add(2, 3) != 5) throw new AssertionError();\n    }\n\n}\n",
        "stop_tokens": ["\n    }\n"],
        "language": "java",
    }
    assert (
        code_reward([Item(completion="        return x + y;\n    }\n", **java)], CodeParams(), ctx)[0].value
        == 1.0
    )
    assert (
        code_reward([Item(completion="        return x;\n    }\n", **java)], CodeParams(), ctx)[0].value
        == 0.0
    )


# Languages, stdin/stdout ------------------------------------------------------------------------

SUM_TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "40 2\n", "output": "42\n"}]
SUM_PROGRAMS = {
    "java": "import java.util.*;\npublic class Whatever {\n  public static void main(String[] a) {\n"
    "    Scanner s = new Scanner(System.in);\n    System.out.println(s.nextLong() + s.nextLong());\n  }\n}",
    "javascript": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
    "console.log(a + b);",
    "go": 'package main\nimport "fmt"\nfunc main() { var a, b int64; fmt.Scan(&a, &b); fmt.Println(a + b) }',
    "rust": "use std::io::Read;\nfn main() {\n  let mut s = String::new();\n"
    "  std::io::stdin().read_to_string(&mut s).unwrap();\n"
    "  let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
    '  println!("{}", v[0] + v[1]);\n}',
}


@pytest.mark.parametrize("language", sorted(SUM_PROGRAMS))
def test_new_languages_right_wrong_and_broken(ctx: RewardContext, language: str) -> None:
    program = SUM_PROGRAMS[language]
    assert score(ctx, program, language, tests=SUM_TESTS).value == 1.0
    wrong = program.replace("a + b", "a - b").replace(
        "s.nextLong() + s.nextLong()", "s.nextLong() - s.nextLong()"
    )
    wrong = wrong.replace("v[0] + v[1]", "v[0] - v[1]")
    assert score(ctx, wrong, language, tests=SUM_TESTS).value == 0.0
    if language != "javascript":
        broken = score(ctx, program.replace("main", "mian", 1) + " }{", language, tests=SUM_TESTS)
        assert broken.value == 0.0 and str(broken.error).startswith("compile_error")


def test_a_language_the_backend_lacks_is_null_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = dataclasses.replace(LANGUAGES["rust"], compile=("/nonexistent/rustc", "main.rs"))
    monkeypatch.setitem(LANGUAGES, "rust", missing)
    pool = SandboxPool("local", 1)  # a backend looks its toolchains up once: a new one sees the gap
    try:
        ctx = RewardContext(resources=Resources(sandboxes=pool))
        result = score(ctx, SUM_PROGRAMS["rust"], "rust", tests=SUM_TESTS)
        assert result.value is None and "rust is not installed for the local sandbox" in str(result.error)
        assert score(ctx, SUM_PROGRAMS["go"], "go", tests=SUM_TESTS).value == 1.0  # the others still run
    finally:
        pool.close()


GO_HALF_GIGABYTE = (
    'package main\nimport "fmt"\nvar keep [][]byte\nfunc main() {\n  for i := 0; i < 8; i++ {\n'
    "    b := make([]byte, 64<<20); for j := range b { b[j] = 1 }; keep = append(keep, b) }\n"
    "  fmt.Println(len(keep)) }"
)


def test_runtimes_with_a_reserve_are_held_to_the_memory_limit(ctx: RewardContext) -> None:
    """Go gets address space past the limit (its runtime reserves it); its resident peak may not."""
    tests = [{"input": "", "output": "8"}]
    over = score(ctx, GO_HALF_GIGABYTE, "go", tests=tests, memory_limit_mb=256)
    assert over.value == 0.0 and "memory_limit" in str(over.error)
    assert score(ctx, GO_HALF_GIGABYTE, "go", tests=tests, memory_limit_mb=1024).value == 1.0


def test_java_with_a_nested_helper_class_before_main(ctx: RewardContext) -> None:
    program = (
        "import java.util.*;\nimport java.io.*;\npublic class Solution {\n"
        "  static class FastReader {\n"
        "    BufferedReader r = new BufferedReader(new InputStreamReader(System.in));\n"
        "    long next() throws IOException {\n"
        '      return Long.parseLong(r.readLine().trim().split(" ")[0]);\n    }\n  }\n'
        "  // class Decoy { in a comment\n"
        "  public static void main(String[] args) throws IOException {\n"
        "    FastReader in = new FastReader();\n    System.out.println(in.next() * 2);\n  }\n}\n"
    )
    assert score(ctx, program, "java", tests=[{"input": "21 x\n", "output": "42"}]).value == 1.0


def test_javascript_call_based(ctx: RewardContext) -> None:
    data = json.dumps({"fn_name": "add", "inputs": [[1, 2], [2, 2]], "outputs": [[3], [4]]})
    assert score(ctx, "function add(a, b) { return a + b; }", "js", input_output=data).value == 1.0
    cls = "class Solution { add(a, b) { console.log('dbg'); return a + b; } }"
    assert score(ctx, cls, "js", input_output=data).value == 1.0
    assert score(ctx, "function add(a, b) { throw new Error('x'); }", "js", input_output=data).value == 0.0


# Limits and long suites ---------------------------------------------------------------------------


def test_max_tests_samples_the_same_tests_for_every_rollout(ctx: RewardContext) -> None:
    tests = [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(40)]
    only_even = "n = int(input())\nprint(n if n % 2 == 0 else -1)"
    params = CodeParams(max_tests=10)
    first = score(ctx, only_even, tests=tests, params=params)
    second = score(ctx, only_even, tests=tests, params=params, id="another-rollout")
    assert first.value == second.value and first.value is not None and 0 < first.value < 1
    assert str(first.error).count("wrong answer") == round((1 - first.value) * 10)


def test_a_looping_submission_stops_after_a_few_timeouts(ctx: RewardContext) -> None:
    tests = [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(30)]
    params = CodeParams(time_limit_s=0.3, parallel_tests=False)
    looping = score(ctx, "while True: pass", tests=tests, params=params)
    assert looping.value == 0.0 and "stopped after 3 timed-out tests" in str(looping.error)
    strict = score(
        ctx, "while True: pass", tests=tests, params=CodeParams(time_limit_s=0.3, all_or_nothing=True)
    )
    assert strict.value == 0.0 and "stopped after test" in str(strict.error)


def test_memory_limit_from_the_item(ctx: RewardContext) -> None:
    hog = "x = bytearray(300 << 20)\nprint(len(x) > 0)"
    tests = [{"input": "", "output": "True"}]
    assert score(ctx, hog, tests=tests, memory_limit_mb=1024).value == 1.0
    limited = score(ctx, hog, tests=tests, memory_limit_mb=128)
    assert limited.value == 0.0 and "memory_limit" in str(limited.error)


def test_items_without_usable_tests_get_null_and_a_reason(ctx: RewardContext) -> None:
    for fields in (
        {"input_output": "not json"},
        {"input_output": json.dumps({"inputs": [1], "outputs": []})},
        {"public_test_cases": "%%%"},
        {"official_tests": [], "input_mode": "stdio"},
        {"tests": [{"args": [1]}]},
        {"input_output": "[" * 100_000 + "]" * 100_000},  # deeper than any JSON parser recurses
        {"public_test_cases": base64.b64encode(zlib.compress(b"X\x01\0\0\0aX\x01\0\0\0ba.")).decode()},
    ):
        verdict = score(ctx, "print(1)", **fields)
        assert verdict.value is None and str(verdict.error).startswith("invalid_item"), fields
    huge_limits = {"public_tests": {"input": ["1\n"], "output": ["1\n"]}, "memory_limit_bytes": 1e999}
    assert score(ctx, "print(input())", **huge_limits, time_limit={"seconds": 1e999}).value == 1.0


def test_a_forged_call_result_fails_the_test_not_the_batch(ctx: RewardContext) -> None:
    """The submission may learn the result marker and print a value nested too deep to decode."""
    forger = (
        "import sys, json\nmarker = json.loads(sys.stdin.read())['marker']\n"
        "print('\\n' + marker + '[' * 100000 + ']' * 100000)\nraise SystemExit(0)"
    )
    assert score(ctx, forger, input_output=APPS_CALL).value == 0.0
    assert score(ctx, "def add(a, b):\n    return a + b", input_output=APPS_CALL).value == 1.0


# Comparison ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected", "comparison", "match"),
    [
        ("1 2\n3", "1 2 3", Comparison("tokens"), True),
        ("1 2\n3", "1 2 3", Comparison("lines"), False),
        ("1000000001", "1000000000", Comparison("tokens", rel_tol=1e-6), False),  # integers are exact
        ("1000000001.0", "1000000000", Comparison("tokens", rel_tol=1e-6), False),  # nor loosened by a `.0`
        ("1000000000.0", "1000000000", Comparison("tokens", rel_tol=1e-6), True),
        ("1.0000001", "1.0", Comparison("tokens", rel_tol=1e-6), True),
        ("1.0001", "1.0", Comparison("tokens", rel_tol=1e-6), False),
        ("007", "7", Comparison("tokens", abs_tol=1e-5), True),  # numbers, when there is a tolerance
        ("0110", "110", Comparison("tokens"), False),  # text, as testlib's default checker compares
        ("+5", "5", Comparison("lines"), False),
        ("YES", "yes", Comparison("tokens"), False),
        ("YES", "yes", Comparison("tokens", case_sensitive=False), True),
        ("1 2", "1 2 3", Comparison("tokens"), False),
    ],
)
def test_outputs_match(actual: str, expected: str, comparison: Comparison, match: bool) -> None:
    assert outputs_match(actual, expected, comparison) is match


def test_values_equal() -> None:
    loose = Comparison(abs_tol=1e-6, rel_tol=1e-6)
    assert values_equal([1, (2, 3)], [1, [2, 3]], loose)
    assert values_equal(0.1 + 0.2, 0.3, loose) and values_equal(2, 2.0, loose)
    assert not values_equal(True, 1, loose) and not values_equal("1", 1, loose)
    assert not values_equal([1, 2], [1, 2, 3], loose) and not values_equal({"a": 1}, {"b": 1}, loose)
    assert not values_equal(1000000500.0, 1000000000, loose) and values_equal(3.0, 3, loose)
    assert not values_equal(0.5, 10**400, loose) and not values_equal(10**400, 0.5, loose)  # no overflow
    huge = parse_json("1" * 5000)
    assert not values_equal("1" * 5000, huge, loose)  # a string of the digits is not the integer
    assert values_equal(huge, parse_json("1" * 5000), loose) and not values_equal(
        huge, parse_json("1" * 4999 + "2"), loose
    )
