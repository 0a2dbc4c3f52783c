"""Preloaded into the math pool's fork server: grading a few answers there warms sympy's caches and
math-verify's LaTeX parser once, and every worker forked from it (including replacements of killed
workers) starts warm instead of paying ~0.1 s on its first task."""

from service.grading.math.equivalence import grade

for _gold, _answer in (
    ("\\frac{1}{\\sqrt{2}}", "\\sqrt{2}/2"),
    ("(1,2)", "x = 3"),
    ("[0, 1)", "\\{1, 2\\}"),
    ("\\text{odd}", "2x+1"),
    ("3\\sqrt{5}", "\\sqrt{45}"),
):
    grade(_gold, _answer)
