"""`calculate_output` of a multi grader: arithmetic over the sub-graders' names, never `eval`.

The grammar is OpenAI's: `+ - * /`, `^` as power, parentheses, numbers, the sub-graders' names and
the functions `min max abs floor ceil exp sqrt log`. The expression is evaluated by `simpleeval`
with only those operators and functions.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simpleeval import SimpleEval

OPERATORS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: math.pow,  # floats: a huge power overflows at once instead of building a huge integer
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
FUNCTIONS: dict[str, Any] = {
    "min": min,
    "max": max,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.Expr,
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    *(op for op in OPERATORS),
)


MAX_FORMULA_CHARS = 2000


class FormulaError(ValueError):
    """A formula that cannot be used; `unknown_names` is set when it names no such grader."""

    def __init__(self, message: str, unknown_names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unknown_names = unknown_names


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.AST

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The formula's value; raises ArithmeticError/ValueError (e.g. a division by zero)."""
        evaluator = SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names=dict(values))
        result = evaluator.eval(self.text, previously_parsed=self.tree)
        if isinstance(result, bool) or not isinstance(result, int | float):
            raise ValueError(f"the formula gave {result!r}, not a number")
        return float(result)


def compile_formula(text: str, names: set[str]) -> Formula:
    """Parse once and check that it only uses the allowed syntax, functions and `names`."""
    # OpenAI writes powers as `^`; Python's `^` binds looser than `+`, so it becomes `**` (the
    # grammar has no strings, so the replacement cannot change anything else).
    text = text.strip().replace("^", "**")
    if not text:
        raise FormulaError("the formula is empty")
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"the formula is longer than {MAX_FORMULA_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"the formula does not parse: {exc.msg}") from None
    except (MemoryError, RecursionError, ValueError) as exc:  # nesting too deep for the parser
        raise FormulaError(f"the formula does not parse: {type(exc).__name__}") from None
    called: set[int] = set()
    unknown: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise FormulaError(f"{type(node).__name__} is not allowed in a formula")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise FormulaError(
                    f"only the functions {', '.join(FUNCTIONS)} can be called, with positional arguments"
                )
            called.add(id(node.func))
        elif isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int | float)
        ):
            raise FormulaError(f"{node.value!r} is not a number")
        elif isinstance(node, ast.Name) and id(node) not in called and node.id not in names:
            unknown.append(node.id)
    if unknown:
        raise FormulaError(
            f"the formula uses {', '.join(sorted(set(unknown)))}, which name no grader "
            f"(graders: {', '.join(sorted(names))})",
            tuple(unknown),
        )
    return Formula(text, tree.body)
