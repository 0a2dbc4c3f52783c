"""Numbers in text a model wrote (a grader's `result`, a judge's `score`): read defensively."""

from __future__ import annotations

import math
from typing import Any


def finite_number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric text, else None: booleans are not numbers, and an
    integer too large for a float, `NaN` or `inf` are no scores."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None
