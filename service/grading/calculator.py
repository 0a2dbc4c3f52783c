"""The `calculator` tool: arithmetic on exact integers and fractions, parsed and evaluated by
`simpleeval` (never Python's `eval`), with sizes bounded so `9**9**9` is refused, not computed."""

from __future__ import annotations

import ast
import math
import operator
from fractions import Fraction
from typing import Any

from simpleeval import SimpleEval

MAX_EXPRESSION_CHARS = 1000
MAX_RESULT_BITS = 13_000  # about 3 900 decimal digits: below Python's 4 300-digit str() limit
MAX_ROUND_DIGITS = 100
# Only arithmetic syntax: no attributes (`'a'.ljust(10**9)`), subscripts, f-strings or comparisons.
SYNTAX = (ast.Expr, ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Call)


class CalculatorError(ValueError):
    """An expression the calculator will not evaluate, with a message for the policy to read."""


Number = int | Fraction | float


def _checked(value: Any) -> Number:
    """Numbers only: exact ones (int, Fraction) bounded in size, floats finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise CalculatorError("only numbers are allowed")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalculatorError("the result is not a finite number")
        return value
    exact = Fraction(value)
    if exact.numerator.bit_length() + exact.denominator.bit_length() > MAX_RESULT_BITS:
        raise CalculatorError("the result is too large")
    return exact.numerator if exact.denominator == 1 else exact


def _binary(function: Any) -> Any:
    def apply(left: Any, right: Any) -> Number:
        return _checked(function(_checked(left), _checked(right)))

    return apply


def _divide(left: Number, right: Number) -> Number:
    if right == 0:
        raise CalculatorError("division by zero")
    if isinstance(left, float) or isinstance(right, float):
        return left / right
    return Fraction(left) / Fraction(right)  # 1/3 stays exact


def _floor_divide(left: Number, right: Number) -> Number:
    if right == 0:
        raise CalculatorError("division by zero")
    return left // right


def _modulo(left: Number, right: Number) -> Number:
    if right == 0:
        raise CalculatorError("division by zero")
    return left % right


def _power(base: Any, exponent: Any) -> Number:
    base, exponent = _checked(base), _checked(exponent)
    if isinstance(exponent, int) and not isinstance(base, float):
        exact = Fraction(base)
        size = exact.numerator.bit_length() + (exact.denominator.bit_length() if exact.denominator > 1 else 0)
        if base not in (0, 1, -1) and abs(exponent) * size > MAX_RESULT_BITS:
            raise CalculatorError("the result is too large")
        return _checked(Fraction(base) ** exponent)
    try:
        result = float(base) ** float(exponent)
    except OverflowError:
        raise CalculatorError("the result is too large") from None
    if isinstance(result, complex):
        raise CalculatorError("a fractional power of a negative number")
    return _checked(result)


OPERATORS: dict[type, Any] = {
    ast.Add: _binary(operator.add),
    ast.Sub: _binary(operator.sub),
    ast.Mult: _binary(operator.mul),
    ast.Div: _binary(_divide),
    ast.FloorDiv: _binary(_floor_divide),
    ast.Mod: _binary(_modulo),
    ast.Pow: _power,
    ast.USub: lambda value: _checked(-_checked(value)),
    ast.UAdd: _checked,
}
FUNCTIONS: dict[str, Any] = {
    "abs": lambda value: _checked(abs(_checked(value))),
    "sqrt": lambda value: _checked(math.sqrt(_checked(value))),
    "round": lambda value, digits=0: _checked(round(_checked(value), _round_digits(digits))),
}


def _round_digits(digits: Any) -> int:
    if isinstance(digits, bool) or not isinstance(digits, int) or abs(digits) > MAX_ROUND_DIGITS:
        raise CalculatorError(f"round() takes a whole number of digits up to {MAX_ROUND_DIGITS}")
    return digits


def format_number(value: Number) -> str:
    """An integer as digits, a float to 12 significant digits, a fraction as a decimal and, when
    short, exactly."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.12g}"
    exact = f"{value.numerator}/{value.denominator}"
    try:
        decimal = f"{float(value):.12g}"
    except OverflowError:  # beyond a float: the exact fraction is all there is
        return exact
    return f"{decimal} (= {exact})" if len(exact) <= 40 else decimal


def calculate(expression: str) -> str:
    """The value of `expression` (`+ - * / // % **` or `^`, parentheses, `abs sqrt round`, `pi e`).
    Raises CalculatorError, with a message for the policy, for anything else."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    text = expression.replace("^", "**").replace("×", "*").replace("÷", "/")
    evaluator = SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names={"pi": math.pi, "e": math.e})
    evaluator.nodes = {node: handler for node, handler in evaluator.nodes.items() if node in SYNTAX}
    try:
        return format_number(_checked(evaluator.eval(text)))
    except CalculatorError:
        raise
    except Exception as exc:  # simpleeval's own errors, syntax errors, overflow: a message, never a crash
        raise CalculatorError(f"cannot evaluate: {type(exc).__name__}: {str(exc)[:100]}") from None
