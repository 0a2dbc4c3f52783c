"""Tülu 3's older instruction functions (`{"func_name": "validate_lowercase", ...}` ground truths),
the 25 of its `if_functions`, written from their semantics. Arguments are validated by pydantic."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Literal

from pydantic import validate_call

from service.grading.instructions.text import bracketed
from service.grading.language import detect_language

Quantifier = Literal["at least", "at most", "around"]
FUNCTIONS: dict[str, Callable[..., bool]] = {}


def function(check: Callable[..., bool]) -> Callable[..., bool]:
    FUNCTIONS[check.__name__] = validate_call(check)
    return check


def _quantified(actual: int, n: int, quantifier: Quantifier, around: int) -> bool:
    if quantifier == "at least":
        return actual >= n
    if quantifier == "at most":
        return actual <= n
    return abs(actual - n) <= around


@function
def verify_keywords(text: str, keyword_list: list[str]) -> bool:
    return all(keyword.lower() in text.lower() for keyword in keyword_list)


@function
def verify_keyword_frequency(text: str, word: str, N: int) -> bool:
    return re.findall(r"\b\w+\b", text.lower()).count(word.lower()) == N


@function
def validate_forbidden_words(text: str, forbidden_words: list[str]) -> bool:
    return not any(word.lower() in text.lower() for word in forbidden_words)


@function
def verify_letter_frequency(text: str, letter: str, N: int) -> bool:
    if len(letter) != 1:
        raise ValueError(f"letter must be one character, not {letter!r}")
    return text.count(letter) == N


@function
def validate_response_language(text: str, language: str) -> bool:
    return detect_language(text, "", 0.5) == language.split("-")[0].lower()


@function
def verify_paragraph_count(text: str, N: int) -> bool:
    text = "\n".join(line.strip() for line in text.splitlines())
    parts = text.split("* * *")
    return all(part.strip() for part in parts) and len(parts) == N


@function
def validate_word_constraint(text: str, N: int, quantifier: Quantifier) -> bool:
    return _quantified(len(text.split()), N, quantifier, max(round(0.1 * N), 1))


@function
def verify_sentence_constraint(text: str, N: int, quantifier: Quantifier) -> bool:
    found = re.split(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?|!)\s", text)
    return _quantified(len(found), N, quantifier, 1)


@function
def validate_paragraphs(text: str, N: int, first_word: str, i: int) -> bool:
    parts = text.split("\n\n")
    return len(parts) == N and 1 <= i <= N and parts[i - 1].strip().startswith(first_word)


@function
def verify_postscript(text: str, postscript_marker: str) -> bool:
    at = text.find(postscript_marker)
    return at != -1 and len(text[at:].strip()) > len(postscript_marker)


@function
def validate_placeholders(text: str, N: int) -> bool:
    return bracketed(text) >= N


@function
def verify_bullet_points(text: str, N: int) -> bool:
    return sum(line.strip().startswith(("*", "-")) for line in text.splitlines()) == N


@function
def validate_title(text: str) -> bool:
    return any(line.find(">>", line.find("<<") + 2) != -1 for line in text.split("\n") if "<<" in line)


@function
def validate_choice(text: str, options: list[str]) -> bool:
    return any(option in text for option in options)


@function
def validate_highlighted_sections(text: str, N: int) -> bool:
    return len(re.findall(r"\*(.*?)\*", text)) >= N


@function
def validate_sections(text: str, N: int, section_splitter: str) -> bool:
    parts = text.split(section_splitter)
    if parts and not parts[0].strip():
        parts = parts[1:]
    return len(parts) == N


@function
def validate_json_format(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


@function
def validate_repeat_prompt(text: str, original_prompt: str) -> bool:
    return text.startswith(original_prompt)


@function
def validate_two_responses(text: str) -> bool:
    parts = text.split("******")
    return len(parts) == 2 and parts[0].strip() != parts[1].strip()


@function
def validate_uppercase(text: str) -> bool:
    return text == text.upper()


@function
def validate_lowercase(text: str) -> bool:
    return text == text.lower()


@function
def validate_frequency_capital_words(text: str, N: int, quantifier: Quantifier) -> bool:
    return _quantified(len(re.findall(r"\b[A-Z]+\b", text)), N, quantifier, max(round(0.1 * N), 1))


@function
def validate_end(text: str, end_phrase: str) -> bool:
    return text.endswith(end_phrase)


@function
def validate_quotation(text: str) -> bool:
    return text.startswith('"') and text.endswith('"')


@function
def validate_no_commas(text: str) -> bool:
    return "," not in text
