"""Build `math_verify_cases.jsonl`: math-verify's own regression cases, as data for the math grader.

Source: the test-suite of huggingface/Math-Verify (Apache-2.0, see its LICENCE file), `tests/*.py` at
commit 5d148cfaaf99214c2e4ffb4bc497ab042c592a7a (package version 0.8.0 in its pyproject). Only data is
taken: the gold and prediction strings of each parametrized case and the label its test asserts. The
test files are read with `ast`, never imported or run, and none of their code is copied here.

A case is kept when its test calls `verify(parse(gold), parse(pred))` or the suite's helper
`compare_strings(gold, pred, match_types=[...], ...)` with every verify setting at its default
(precision/float_rounding 6, strict True, allow_set_relation_comp False; an explicit default counts).
Cases with other settings, or with custom extraction configs passed to `parse` directly, are left out.
Strings are recorded exactly as the test passes them to `parse`; no test wraps them.

Fields: `source` ("tests/<file>::<function>"), `gold`, `prediction`, `expected` (true = should match),
`upstream_targets` ("default" for a direct `verify(parse(...))`, else the helper's `match_types`, e.g.
"latex+expr"; note the helper parses with `LatexExtractionConfig(boxed_match_priority=0)`, so its label
holds for those settings), and `math_verify_ok`: whether plain
`verify(parse(gold), parse(prediction))` gives `expected`, measured with math-verify 0.9.0
(latex2sympy2_extended 1.11.0, sympy 1.14.0).

Usage: python tests/data/build_math_verify_cases.py MATH_VERIFY_CHECKOUT [--check]
(--check compares with the existing file instead of writing it; needs math-verify installed.)
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("math_verify_cases.jsonl")
# compare_strings keyword -> its default (the value verify() would use anyway)
HELPER_DEFAULTS: dict[str, Any] = {"precision": 6, "strict": True, "allow_set_relation_comp": False}


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _is_parse_of_name(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and _name(node.func) == "parse"
        and not node.keywords
        and len(node.args) == 1
        and _name(node.args[0]) is not None
    )


def _find_call(fn: ast.FunctionDef) -> tuple[ast.Call, str] | None:
    """The asserted `compare_strings(...)` or `verify(parse(a), parse(b))` call and the label's name."""
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        label = _name(node.test.comparators[0])
        for call in ast.walk(node.test.left):
            if not isinstance(call, ast.Call) or label is None:
                continue
            if _name(call.func) == "compare_strings" and len(call.args) == 2:
                return call, label
            if (
                _name(call.func) == "verify"
                and not call.keywords
                and len(call.args) == 2
                and all(_is_parse_of_name(a) for a in call.args)
            ):
                return call, label
    return None


def _param_rows(fn: ast.FunctionDef) -> tuple[list[str], list[ast.expr]] | None:
    for dec in fn.decorator_list:
        if (
            isinstance(dec, ast.Call)
            and isinstance(dec.func, ast.Attribute)
            and dec.func.attr == "parametrize"
        ):
            names = ast.literal_eval(dec.args[0])
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            return names, list(dec.args[1].elts)
    return None


def extract(checkout: Path) -> Iterator[dict[str, Any]]:
    """Yield the default-settings cases of every parametrized test in `checkout/tests`, in file order."""
    for path in sorted((checkout / "tests").glob("test_*.py")):
        for fn in ast.parse(path.read_text(encoding="utf-8")).body:
            found = _find_call(fn) if isinstance(fn, ast.FunctionDef) else None
            params = _param_rows(fn) if found else None
            if not params:
                continue
            (call, label), (names, rows) = found, params
            source = f"tests/{path.name}::{fn.name}"
            for row in rows:
                try:
                    values = dict(zip(names, ast.literal_eval(row), strict=True))
                except ValueError:
                    print(f"skipped a non-literal case in {source}", file=sys.stderr)
                    continue

                def value(node: ast.expr, values: dict[str, Any] = values) -> Any:
                    return values[node.id] if isinstance(node, ast.Name) else ast.literal_eval(node)

                kwargs = {kw.arg: value(kw.value) for kw in call.keywords}
                if any(
                    k != "match_types" and HELPER_DEFAULTS.get(k, object()) != v for k, v in kwargs.items()
                ):
                    continue
                gold, pred = (a.args[0] if isinstance(a, ast.Call) else a for a in call.args)
                yield {
                    "source": source,
                    "gold": value(gold),
                    "prediction": value(pred),
                    "expected": bool(values[label]),
                    "upstream_targets": "+".join(kwargs.get("match_types", ["default"])),
                }


def measure(cases: list[dict[str, Any]]) -> None:
    """Add `math_verify_ok`: does plain math-verify give the upstream label?"""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    for case in cases:
        case["math_verify_ok"] = verify(parse(case["gold"]), parse(case["prediction"])) == case["expected"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="a local Math-Verify checkout (with its tests/ folder)")
    ap.add_argument("--check", action="store_true", help=f"compare with {OUT.name} instead of writing it")
    args = ap.parse_args()
    cases = list(extract(args.checkout))
    measure(cases)
    text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    ok = sum(c["math_verify_ok"] for c in cases)
    print(f"{len(cases)} cases; plain math-verify agrees on {ok}", file=sys.stderr)
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT.name} is {'up to date' if same else 'DIFFERENT'}", file=sys.stderr)
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
