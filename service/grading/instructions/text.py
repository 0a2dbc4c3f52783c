"""How instruction checks read a response: words, tokens, sentences, paragraphs, relations.

The reference (Google's IFEval) counts sentences with NLTK's punkt model and tokens with NLTK's
`word_tokenize`. Neither is used here: punkt's data cannot be downloaded at run time (and its
pickled model was withdrawn for a CVE). The regexes below replace them and are documented where
they differ: punkt learns abbreviations from data, `sentences` knows a fixed list; `tokens` follows
the Treebank rules that matter for counting (contractions, dotted abbreviations, decimals) but not
every one (quotes become one-character tokens, not ``` `` ```/`''`).
"""

from __future__ import annotations

import re
from typing import Literal

Relation = Literal["less than", "at least"]

WORD = re.compile(r"\w+")
"""Google's `count_words`: runs of word characters."""
TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|\d+(?:[.,]\d+)+|\w+(?=n't\b)|n't\b|'\w+|\w+(?:-\w+)*|[^\w\s]")
"""Close to NLTK's Treebank `word_tokenize`: dotted abbreviations (`U.S.`) and numbers (`3.5`) stay
whole, contractions split (`do` `n't`, `I` `'m`), hyphenated words stay whole, each other punctuation
character is a token."""

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "ph.d",
        "capt",
        "lt",
        "gen",
        "sgt",
        "fig",
    ]
)
# Only at the start of a run of stops: `!!!…x` is then one failed attempt, not one per position.
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]+[\"'”’)\]]*(?=\s|$)")
_LONGEST_ABBREVIATION = 8


def compare(actual: int, relation: Relation, n: int) -> bool:
    """IFEval's relations: `less than` is strict, `at least` is inclusive."""
    return actual < n if relation == "less than" else actual >= n


def count_words(text: str) -> int:
    return len(WORD.findall(text))


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _word_before(text: str, start: int, end: int) -> str:
    """The word ending at `end`, if it is short enough to be an abbreviation (else ""): read from a
    short window, since re-reading from `start` at every skipped stop would be quadratic."""
    begin = max(start, end - _LONGEST_ABBREVIATION - 1)
    window = text[begin:end]
    words = window.split()
    if not words:
        return ""
    prefix = window[: len(window) - len(words[-1])]
    whole = bool(prefix) or begin == start or text[begin - 1].isspace()
    return words[-1] if whole else ""


def sentences(text: str) -> list[str]:
    """Sentences end at `.`, `!` or `?` (closing quotes and brackets included) before a blank or the
    end of the text; not after an abbreviation (`Dr.`, `e.g.`) or a single initial (`J.`). Decimals and
    domains (`3.14`, `a.com`) have no blank after the dot, so they never end one. Line breaks alone do
    not end a sentence."""
    found, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        last = _word_before(text, start, match.start()).lower().rstrip(".")
        if match.group().startswith(".") and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            continue
        sentence = text[start : match.end()].strip()
        if sentence:
            found.append(sentence)
        start = match.end()
    rest = text[start:].strip()
    return [*found, rest] if rest else found


def split_paragraphs(text: str, separator: str) -> list[str] | None:
    """Paragraphs between `separator` matches; None when one in the middle is empty (an empty first
    or last one, before or after a separator at the ends, does not count)."""
    parts = re.split(separator, text)
    if parts and not parts[0].strip():
        parts = parts[1:]
    if parts and not parts[-1].strip():
        parts = parts[:-1]
    return None if any(not part.strip() for part in parts) else parts


def bracketed(text: str) -> int:
    """How many `[...]` spans `re.findall(r"\\[.*?\\]")` finds, in linear time (the regex rescans the
    rest of the line from every unclosed `[`)."""
    count, inside = 0, False
    for char in text:
        if char == "\n":
            inside = False
        elif char == "[" and not inside:
            inside = True
        elif char == "]" and inside:
            count, inside = count + 1, False
    return count


STARS = r"\s?\*\*\*\s?"
"""IFEval's paragraph divider, `***` on its own."""
BLANK_LINE = r"\n\n"
