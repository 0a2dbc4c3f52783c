"""How long completions are, measured the way every length-aware piece of Referee measures them:
`completion_tokens` when every item has it, else a tokenizer, else characters (a poor proxy for a
token budget, so callers say when they fell back to it)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from service.grading.errors import ErrorKind, GradingError

Unit = Literal["tokens", "characters"]


@lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def measure_lengths(
    texts: Sequence[str], completion_tokens: Sequence[int | None], tokenizer: str | None = None
) -> tuple[list[int], Unit]:
    """Each text's length and the unit it is in. Raises `GradingError` when a tokenizer was asked
    for and cannot be loaded."""
    if all(count is not None for count in completion_tokens):
        return [int(count or 0) for count in completion_tokens], "tokens"
    if tokenizer is not None:
        try:
            loaded = load_tokenizer(tokenizer)
        except ImportError:
            raise GradingError(
                "the tokenizer option needs transformers: pip install 'referee[rm]'",
                ErrorKind.tokenizer_unavailable,
            ) from None
        except Exception as exc:
            raise GradingError(
                f"cannot load tokenizer {tokenizer!r}: {type(exc).__name__}: {exc}",
                ErrorKind.tokenizer_unavailable,
            ) from None
        return [len(loaded(text, add_special_tokens=False)["input_ids"]) for text in texts], "tokens"
    return [len(text) for text in texts], "characters"
