"""Test data in the shapes code-RL datasets ship, read into one `Suite` per problem.

One parser per dataset family, chosen by the item's own field names (the datasets' column names):

- APPS / TACO: `input_output` (JSON text or object); with `fn_name` calls, else stdin/stdout.
- LiveCodeBench: `public_test_cases`, `private_test_cases` (JSON, or base64 of zlib of pickle of
  JSON), `metadata.func_name`; `testtype` `functional` (calls) or `stdin`.
- CodeContests: `public_tests`, `private_tests`, `generated_tests`, `time_limit`, `memory_limit_bytes`.
- open-r1 Codeforces: `official_tests`, `generated_checker`, `time_limit`, `memory_limit`, `input_mode`.
- MultiPL-E: `prompt`, `tests` (program text), `stop_tokens`: the program must exit 0.
- Referee: `tests` (a list, or JSON text of one): stdin/stdout, calls, asserts, HumanEval checks.

Every parser raises `ValueError` with a message naming the field when the data cannot be used.
"""

from __future__ import annotations

import base64
import io
import json
import math
import pickle
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from service.grading.code.compare import Comparison, parse_json
from service.grading.code.suite import Case, Checker, Suite

Fields = Mapping[str, Any]
MAX_DECODED_BYTES = 256 << 20
_LIMIT_NUMBER = re.compile(r"\d+(?:\.\d+)?")

# The dataset judges' own comparison rules.
TOKENS_EXACT = Comparison("tokens")  # testlib's default checker
CODECONTESTS = Comparison("tokens", case_sensitive=False, abs_tol=1e-5)
FLOATS = Comparison("tokens", abs_tol=1e-6, rel_tol=1e-6)
LINES_FLOATS = Comparison("lines", abs_tol=1e-6, rel_tol=1e-6)


def read_suite(fields: Fields) -> Suite:
    """The suite of an item, from whichever family's fields it has (first match in this order)."""
    for marker, parse in PARSERS:
        if fields.get(marker) is not None:
            return parse(fields)
    names = ", ".join(marker for marker, _ in PARSERS)
    raise ValueError(f"the item has no test data: give one of the fields {names}")


# APPS / TACO ------------------------------------------------------------------------------------


def parse_apps(fields: Fields) -> Suite:
    data = _json_field(fields, "input_output")
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
        raise ValueError("`input_output` must be an object with `inputs` and `outputs` lists")
    inputs, outputs = data["inputs"], data.get("outputs")
    if not isinstance(outputs, list) or len(outputs) != len(inputs) or not inputs:
        raise ValueError("`input_output` needs as many `outputs` as `inputs` (at least one)")
    seconds, megabytes = _positive(fields.get("time_limit")), _megabytes(fields.get("memory_limit"))
    fn_name = data.get("fn_name")
    if fn_name:
        cases = tuple(
            Case(args=_arguments(args, f"input_output.inputs[{i}]"), expected=_apps_expected(out))
            for i, (args, out) in enumerate(zip(inputs, outputs, strict=True))
        )
        return Suite(
            "call",
            cases,
            "apps",
            FLOATS,
            fn_name=str(fn_name),
            time_limit_s=seconds,
            memory_limit_mb=megabytes,
        )
    cases = tuple(
        Case(input=_text(given), expected=(_text(out),)) for given, out in zip(inputs, outputs, strict=True)
    )
    return Suite("stdio", cases, "apps", FLOATS, time_limit_s=seconds, memory_limit_mb=megabytes)


def _apps_expected(output: Any) -> tuple[Any, ...]:
    """APPS/TACO store a call's return value as itself or wrapped in a one-element list."""
    if isinstance(output, list) and len(output) == 1:
        return (output, output[0])
    return (output,)


# LiveCodeBench ----------------------------------------------------------------------------------


def parse_livecodebench(fields: Fields) -> Suite:
    cases_data = [
        *_lcb_cases(fields, "public_test_cases"),
        *(_lcb_cases(fields, "private_test_cases") if fields.get("private_test_cases") else []),
    ]
    if not cases_data:
        raise ValueError("`public_test_cases` and `private_test_cases` hold no test")
    metadata = _json_field(fields, "metadata") if fields.get("metadata") is not None else {}
    fn_name = metadata.get("func_name") if isinstance(metadata, dict) else None
    functional = [case.get("testtype") == "functional" for case in cases_data]
    if any(functional) and not all(functional):
        raise ValueError("LiveCodeBench tests mix `functional` and `stdin` test types")
    if all(functional):
        if not fn_name:
            raise ValueError("functional LiveCodeBench tests need `metadata.func_name`")
        cases = tuple(
            Case(
                args=tuple(_json_lines(str(case.get("input", "")), f"test {i + 1} input")),
                expected=(_json_text(str(case.get("output", "")), f"test {i + 1} output"),),
            )
            for i, case in enumerate(cases_data)
        )
        return Suite("call", cases, "livecodebench", FLOATS, fn_name=str(fn_name))
    cases = tuple(
        Case(input=str(case.get("input", "")), expected=(str(case.get("output", "")),)) for case in cases_data
    )
    return Suite("stdio", cases, "livecodebench", LINES_FLOATS)


def _lcb_cases(fields: Fields, name: str) -> list[dict[str, Any]]:
    value = fields.get(name)
    if isinstance(value, str):
        stripped = value.lstrip()
        value = json.loads(value) if stripped.startswith("[") else json.loads(decode_lcb_private(value))
    if not isinstance(value, list) or not all(isinstance(case, dict) for case in value):
        raise ValueError(f"`{name}` must be a list of {{input, output, testtype}} objects")
    return value


class _TextOnly(pickle.Unpickler):
    """LiveCodeBench pickles a JSON string; anything that needs a class is refused (no code runs)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def decode_lcb_private(text: str) -> str:
    """base64 -> zlib -> pickle of a str, as LiveCodeBench stores `private_test_cases`."""
    try:
        packed = base64.b64decode(text, validate=False)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_DECODED_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError(f"decompresses to more than {MAX_DECODED_BYTES >> 20} MB")
        value = _TextOnly(io.BytesIO(raw)).load()
    except Exception as exc:  # a pickle can fail in any way; the restricted loader runs nothing
        raise ValueError(
            f"`private_test_cases` is neither JSON nor LiveCodeBench's encoding: {exc}"
        ) from None
    if not isinstance(value, str | bytes):
        raise ValueError("`private_test_cases` decodes to something other than JSON text")
    return value.decode() if isinstance(value, bytes) else value


# CodeContests -----------------------------------------------------------------------------------


def parse_codecontests(fields: Fields) -> Suite:
    cases: list[Case] = []
    for name in ("public_tests", "private_tests", "generated_tests"):
        block = fields.get(name)
        if block is None:
            continue
        block = _json_field(fields, name)
        if not isinstance(block, dict) or not isinstance(block.get("input", []), list):
            raise ValueError(f"`{name}` must be an object with `input` and `output` lists")
        inputs, outputs = block.get("input", []), block.get("output", [])
        if len(inputs) != len(outputs):
            raise ValueError(f"`{name}` has {len(inputs)} inputs and {len(outputs)} outputs")
        cases += [Case(input=str(i), expected=(str(o),)) for i, o in zip(inputs, outputs, strict=True)]
    if not cases:
        raise ValueError("`public_tests`, `private_tests` and `generated_tests` hold no test")
    limit = fields.get("time_limit")
    seconds = None
    if isinstance(limit, dict):
        whole, nanos = _positive(limit.get("seconds")) or 0.0, _positive(limit.get("nanos")) or 0.0
        seconds = (whole + nanos / 1e9) or None
    memory = _positive(fields.get("memory_limit_bytes"))
    megabytes = int(memory) >> 20 if memory else None
    return Suite(
        "stdio", tuple(cases), "codecontests", CODECONTESTS, time_limit_s=seconds, memory_limit_mb=megabytes
    )


# open-r1 Codeforces -----------------------------------------------------------------------------


def parse_codeforces(fields: Fields) -> Suite:
    tests = _json_field(fields, "official_tests")
    generated = fields.get("generated_tests")
    if generated:
        tests = [*tests, *_json_field(fields, "generated_tests")]
    if (
        not isinstance(tests, list)
        or not tests
        or not all(isinstance(t, dict) and "input" in t for t in tests)
    ):
        raise ValueError("`official_tests` must be a non-empty list of {input, output} objects")
    mode = fields.get("input_mode") or "stdio"
    if mode not in ("stdio", "file"):
        raise ValueError(f"`input_mode` is `stdio` or `file`, not {mode!r}")
    checker_source = fields.get("generated_checker")
    checker = Checker(str(checker_source), "python", "codeforces") if checker_source else None
    return Suite(
        "stdio",
        tuple(Case(input=str(t["input"]), expected=(str(t.get("output", "")),)) for t in tests),
        "codeforces",
        TOKENS_EXACT,
        checker=checker,
        time_limit_s=_positive(fields.get("time_limit")),
        memory_limit_mb=_megabytes(fields.get("memory_limit")),
        stdio_files=("input.txt", "output.txt") if mode == "file" else None,
    )


# MultiPL-E --------------------------------------------------------------------------------------


def parse_multipl_e(fields: Fields) -> Suite:
    tests, prompt = fields.get("tests"), fields.get("prompt")
    if not isinstance(tests, str) or not isinstance(prompt, str):
        raise ValueError("MultiPL-E items need `prompt` and `tests` as program text")
    stops = fields.get("stop_tokens") or []
    return Suite(
        "script", (Case(input=tests),), "multipl_e", stub=prompt, stop_tokens=tuple(str(s) for s in stops)
    )


# Referee's own `tests` --------------------------------------------------------------------------


def parse_tests(fields: Fields) -> Suite:
    """`tests` as a list (or JSON text of one, as DeepCoder stores it): `{input, output}` pairs,
    `{args, output}` calls of the item's `fn_name`, assert strings / `{assert}`, `{check, entry_point}`;
    a `tests` string that is not JSON is test code run after the solution (exits 0 = pass)."""
    tests = fields.get("tests")
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except ValueError:
            return Suite("script", (Case(input=tests),), "tests", stub="")
    if isinstance(tests, dict) and "inputs" in tests:  # APPS's object, given as `tests`
        return parse_apps({**fields, "input_output": tests})
    if not isinstance(tests, list) or not tests:
        raise ValueError("item field `tests` must be a non-empty list")
    metadata = fields.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    fn_name = fields.get("fn_name") or (metadata.get("func_name") if isinstance(metadata, dict) else None)
    seconds, megabytes = _positive(fields.get("time_limit_s")), _megabytes(fields.get("memory_limit_mb"))
    if all(isinstance(t, dict) and "args" in t for t in tests):
        if not fn_name:
            raise ValueError("call tests `{args, output}` need the item field `fn_name`")
        cases = tuple(
            Case(args=_arguments(t["args"], f"tests[{i}].args"), expected=(t.get("output"),))
            for i, t in enumerate(tests)
        )
        return Suite(
            "call", cases, "tests", fn_name=str(fn_name), time_limit_s=seconds, memory_limit_mb=megabytes
        )
    if all(isinstance(t, dict) and t.get("testtype") == "functional" for t in tests):  # DeepCoder's LCB rows
        return parse_livecodebench({**fields, "public_test_cases": tests, "metadata": {"func_name": fn_name}})
    if all(isinstance(t, dict) and "input" in t for t in tests):
        cases = tuple(Case(input=_text(t["input"]), expected=(_text(t.get("output", "")),)) for t in tests)
        return Suite("stdio", cases, "tests", time_limit_s=seconds, memory_limit_mb=megabytes)
    cases = tuple(Case(input=_script_test(test)) for test in tests)
    return Suite("script", cases, "tests", time_limit_s=seconds, memory_limit_mb=megabytes)


def _script_test(test: Any) -> str:
    if isinstance(test, str):
        return test
    if isinstance(test, dict) and "assert" in test:
        return str(test["assert"])
    if isinstance(test, dict) and "check" in test and "entry_point" in test:
        return f"{test['check']}\n\ncheck({test['entry_point']})"
    raise ValueError(
        "each test is {input, output}, {args, output}, an assert string, {assert} or {check, entry_point}"
    )


PARSERS: tuple[tuple[str, Callable[[Fields], Suite]], ...] = (
    ("input_output", parse_apps),
    ("public_test_cases", parse_livecodebench),
    ("official_tests", parse_codeforces),
    ("public_tests", parse_codecontests),
    ("private_tests", parse_codecontests),
    ("stop_tokens", parse_multipl_e),
    ("tests", parse_tests),
)


# Shared readers ---------------------------------------------------------------------------------


def _json_field(fields: Fields, name: str) -> Any:
    """A field that datasets store as JSON text or as the object itself (Arrow needs one schema)."""
    value = fields.get(name)
    if isinstance(value, str):
        try:
            return parse_json(value)
        except ValueError as exc:
            raise ValueError(f"`{name}` is not valid JSON: {exc}") from None
    return value


def _json_text(text: str, where: str) -> Any:
    try:
        return parse_json(text)
    except ValueError as exc:
        raise ValueError(f"{where} is not JSON: {exc}") from None


def _json_lines(text: str, where: str) -> list[Any]:
    """LiveCodeBench's functional input: one JSON value per argument, one per line."""
    return [_json_text(line, where) for line in text.split("\n") if line.strip()]


def _arguments(value: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be the list of arguments")
    return tuple(value)


def _text(value: Any) -> str:
    """APPS sometimes stores an input or output as a list of lines."""
    if isinstance(value, list):
        return "\n".join(str(line) for line in value)
    return str(value)


def _positive(value: Any) -> float | None:
    """3, 2.5, "2 seconds", "256.0 MB" -> the number, if positive and finite; anything else -> None
    (the request's limit applies)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        match = _LIMIT_NUMBER.search(str(value))
        number = float(match.group()) if match else 0.0
    return number if 0 < number < math.inf else None


def _megabytes(value: Any) -> int | None:
    """256, "256 megabytes", "256.0 MB" -> MB."""
    number = _positive(value)
    return int(number) if number else None
