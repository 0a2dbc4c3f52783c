"""The instruction checks of IFEval (Google's 25) and open-instruct's IFEvalG (29 more), by id.

Each check is `check(response, **kwargs) -> bool` with the reference's kwargs; pydantic validates
them (a wrong name or type is the caller's error, never a silent pass). Written from the registry's
semantics, deterministic where the reference is not: no random kwargs when one is missing, no
`True` when language detection fails, keywords matched as text (escaped), not as regexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from pydantic import validate_call

from service.grading.instructions.text import (
    BLANK_LINE,
    STARS,
    Relation,
    bracketed,
    compare,
    count_words,
    sentences,
    split_paragraphs,
    tokens,
)
from service.grading.language import detect_language

Check = Callable[..., bool]
INSTRUCTIONS: dict[str, Check] = {}


def instruction(instruction_id: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        INSTRUCTIONS[instruction_id] = validate_call(check)
        return check

    return register


def _count(keyword: str, response: str) -> int:
    return len(re.findall(re.escape(keyword), response, re.IGNORECASE))


def _language(response: str, default: str) -> str:
    return detect_language(response.lower(), default, 0.5)


def _first(value: str | list[str]) -> str:
    """A kwarg given as a word or a list of words (IFEvalG writes both): the word, "" for none."""
    if isinstance(value, list):
        return value[0] if value else ""
    return value


# --- keywords -------------------------------------------------------------------------------------


@instruction("keywords:existence")
def keywords_existence(response: str, *, keywords: list[str]) -> bool:
    """Every keyword appears (any case, as text)."""
    return all(_count(keyword, response) for keyword in keywords)


@instruction("keywords:frequency")
def keywords_frequency(response: str, *, keyword: str, frequency: int, relation: Relation) -> bool:
    """The keyword's count (any case) against `relation` `frequency`."""
    return compare(_count(keyword, response), relation, frequency)


@instruction("keywords:forbidden_words")
def forbidden_words(response: str, *, forbidden_words: list[str]) -> bool:
    """None of the words appears as a whole word (any case)."""
    return not any(re.search(rf"\b{re.escape(w)}\b", response, re.IGNORECASE) for w in forbidden_words)


@instruction("keywords:letter_frequency")
def letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: Relation) -> bool:
    """The letter's count (any case) against `let_relation` `let_frequency`."""
    if len(letter) != 1:
        raise ValueError(f"letter must be one character, not {letter!r}")
    return compare(response.lower().count(letter.lower()), let_relation, let_frequency)


@instruction("keywords:word_once")
def word_once(response: str, *, keyword: str) -> bool:
    """The keyword appears exactly once (any case)."""
    return _count(keyword, response) == 1


@instruction("keywords:word_count_different_numbers")
def word_count_different_numbers(response: str, *, keyword: str, frequency: int, relation: Relation) -> bool:
    """The keyword's count (any case) against `relation` `frequency`."""
    return compare(_count(keyword, response), relation, frequency)


@instruction("keywords:exclude_word_harder")
def exclude_word_harder(response: str, *, keyword: str, instruction: str | None = None) -> bool:
    """The keyword never appears between two spaces (case-sensitive, as the reference)."""
    return f" {keyword} " not in response


@instruction("keywords:no_adjacent_consecutive")
def no_adjacent_consecutive(response: str) -> bool:
    """No two neighbouring words start with consecutive letters (a, b)."""
    initials = [word[0].lower()[0] for word in response.split()]  # "İ".lower() is two characters
    return not any(ord(b) - ord(a) == 1 for a, b in zip(initials, initials[1:], strict=False))


@instruction("keywords:palindrome")
def palindrome(response: str) -> bool:
    """Some word reads the same backwards (case-sensitive)."""
    return any(word == word[::-1] for word in response.split())


@instruction("keywords:keyword_specific_position")
def keyword_specific_position(response: str, *, keyword: str | list[str], n: int, m: int) -> bool:
    """The `m`-th token of the `n`-th sentence is `keyword` (exact)."""
    found = sentences(response)
    if not 1 <= n <= len(found):
        return False
    words = tokens(found[n - 1])
    return 1 <= m <= len(words) and words[m - 1] == _first(keyword)


@instruction("keywords:start_end")
def start_end(response: str) -> bool:
    """The first and last token are the same word (any case)."""
    words = tokens(response)
    return len(words) >= 2 and words[0].lower() == words[-1].lower()


# --- language and case ----------------------------------------------------------------------------


@instruction("language:response_language")
def response_language(response: str, *, language: str) -> bool:
    """The response is in `language` (ISO 639-1), by Referee's language detector."""
    return _language(response, "") == language.split("-")[0].lower()


@instruction("change_case:capital_word_frequency")
def capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: Relation) -> bool:
    """The number of all-capital tokens against `capital_relation` `capital_frequency`."""
    return compare(sum(word.isupper() for word in tokens(response)), capital_relation, capital_frequency)


@instruction("change_case:english_capital")
def english_capital(response: str) -> bool:
    """All capitals, and English (text too short to tell counts as English)."""
    return response.isupper() and _language(response, "en") == "en"


@instruction("change_case:english_lowercase")
def english_lowercase(response: str) -> bool:
    """All lower case, and English (text too short to tell counts as English)."""
    return response.islower() and _language(response, "en") == "en"


# --- length ---------------------------------------------------------------------------------------


@instruction("length_constraints:number_sentences")
def number_sentences(response: str, *, num_sentences: int, relation: Relation) -> bool:
    """The number of sentences against `relation` `num_sentences`."""
    return compare(len(sentences(response)), relation, num_sentences)


@instruction("length_constraints:number_paragraphs")
def number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly `num_paragraphs` paragraphs divided by `***`, none empty."""
    parts = split_paragraphs(response, STARS)
    return parts is not None and len(parts) == num_paragraphs


@instruction("length_constraints:number_words")
def number_words(response: str, *, num_words: int, relation: Relation) -> bool:
    """The number of words (`\\w+` runs) against `relation` `num_words`."""
    return compare(count_words(response), relation, num_words)


@instruction("length_constraints:nth_paragraph_first_word")
def nth_paragraph_first_word(
    response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str
) -> bool:
    """`num_paragraphs` paragraphs (blank-line divided); the `nth_paragraph`-th starts with `first_word`."""
    parts = re.split(BLANK_LINE, response)
    count = sum(1 for part in parts if part.strip())
    if not 1 <= nth_paragraph <= count or count != num_paragraphs or not parts[nth_paragraph - 1].strip():
        return False  # the n-th piece between blank lines, an empty one included, as the reference
    word = parts[nth_paragraph - 1].split()[0].lstrip("'\"")
    return re.split(r"[.,?!'\"]", word)[0].lower() == first_word.lower()


@instruction("paragraphs:paragraphs")
def two_paragraphs_by_stars(response: str) -> bool:
    """Exactly two paragraphs divided by `***`."""
    parts = split_paragraphs(response, STARS)
    return parts is not None and len(parts) == 2


@instruction("paragraphs:paragraphs2")
def two_paragraphs_by_blank_lines(response: str) -> bool:
    """Exactly two paragraphs divided by a blank line."""
    parts = split_paragraphs(response, BLANK_LINE)
    return parts is not None and len(parts) == 2


@instruction("count:lowercase_counting")
def lowercase_counting(response: str, *, N: int) -> bool:
    """At most `N` all-lowercase words."""
    return len(re.findall(r"\b[a-z]+\b", response)) <= N


@instruction("letters:letter_counting")
def letter_counting(response: str, *, N: int, relation: Relation) -> bool:
    """The number of Latin letters against `relation` `N`."""
    return compare(len(re.findall(r"[a-zA-Z]", response)), relation, N)


@instruction("letters:letter_counting2")
def letter_counting2(response: str, *, letter: str, let_frequency: int, let_relation: Relation) -> bool:
    """As `keywords:letter_frequency`."""
    return letter_frequency(response, letter=letter, let_frequency=let_frequency, let_relation=let_relation)


@instruction("count:counting_composition")
def counting_composition(response: str, *, n_sent: int, n_words: int) -> bool:
    """Three `***` paragraphs of `n_sent` sentences of `n_words` tokens each."""
    parts = re.split(STARS, response)
    if len(parts) != 3:
        return False
    for part in parts:
        found = sentences(part)
        if len(found) != n_sent or any(len(tokens(s)) != n_words for s in found):
            return False
    return True


@instruction("count:count_unique")
def count_unique(response: str) -> bool:
    """No token repeats (case-sensitive)."""
    words = tokens(response)
    return len(words) == len(set(words))


@instruction("count:count_increment_word")
def count_increment_word(response: str, *, keyword1: str, keyword2: str) -> bool:
    """`keyword1` exactly once and `keyword2` exactly twice (any case)."""
    return _count(keyword1, response) == 1 and _count(keyword2, response) == 2


# --- content and format ---------------------------------------------------------------------------


@instruction("detectable_content:number_placeholders")
def number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """At least `num_placeholders` `[placeholders]`."""
    return bracketed(response) >= num_placeholders


@instruction("detectable_content:postscript")
def postscript(response: str, *, postscript_marker: str) -> bool:
    """A postscript starting with `postscript_marker` (any case)."""
    patterns = {"P.P.S": r"p\.\s?p\.\s?s", "P.S.": r"p\.\s?s\."}
    return (
        re.search(patterns.get(postscript_marker, re.escape(postscript_marker.lower())), response.lower())
        is not None
    )


@instruction("detectable_format:number_bullet_lists")
def number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly `num_bullets` lines that are `*` or `-` bullets."""
    lines = [line.lstrip() for line in response.split("\n")]
    bullets = [
        line for line in lines if line.startswith("-") or (line.startswith("*") and line[1:2] not in "*")
    ]
    return len(bullets) == num_bullets


@instruction("detectable_format:constrained_response")
def constrained_response(response: str) -> bool:
    """Contains `My answer is yes.`, `... no.` or `... maybe.`."""
    return any(f"My answer is {choice}." in response.strip() for choice in ("yes", "no", "maybe"))


@instruction("detectable_format:number_highlighted_sections")
def number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """At least `num_highlights` non-empty `*highlighted*` or `**bold**` spans."""
    single = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    double = [
        h
        for h in re.findall(r"\*\*[^\n\*]*\*\*", response)
        if h.removeprefix("**").removesuffix("**").strip()
    ]
    return len(single) + len(double) >= num_highlights


@instruction("detectable_format:multiple_sections")
def multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least `num_sections` sections headed `<section_spliter> <number>`."""
    parts = re.split(r"\s?" + re.escape(section_spliter) + r"\s?\d+\s?", response)
    return len(parts) - 1 >= num_sections


@instruction("detectable_format:json_format")
def json_format(response: str) -> bool:
    """The whole response (a ```json fence allowed) is JSON."""
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        if text.startswith(fence):
            text = text[len(fence) :]
            break
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


@instruction("detectable_format:title")
def title(response: str) -> bool:
    """A non-empty `<<title>>`."""
    for line in response.split("\n"):  # per line, from the first `<<` to the last `>>`, as `<<[^\n]+>>`
        opening, closing = line.find("<<"), line.rfind(">>")
        if (
            opening != -1
            and closing >= opening + 3
            and line[opening : closing + 2].lstrip("<").rstrip(">").strip()
        ):
            return True
    return False


@instruction("detectable_format:sentence_hyphens")
def sentence_hyphens(response: str) -> bool:
    """Sentences joined by hyphens, with no spaces around them."""
    parts = response.split("-")
    expected = sentences(response.replace("-", " "))
    return len(parts) == len(expected) and all(
        p == p.strip() and p == e for p, e in zip(parts, expected, strict=True)
    )


@instruction("detectable_format:square_brackets")
def square_brackets(response: str) -> bool:
    """Every word is wrapped in `[...]`."""
    words = response.split()
    return bool(words) and all(w.startswith("[") and w.endswith("]") for w in words)


@instruction("detectable_format:bigram_wrapping")
def bigram_wrapping(response: str) -> bool:
    """Every pair of words is wrapped in `<<...>>`."""
    words = response.split()
    pairs = list(zip(words[::2], words[1::2], strict=False))
    return bool(pairs) and all(a.startswith("<<") and b.endswith(">>") for a, b in pairs)


@instruction("combination:two_responses")
def two_responses(response: str) -> bool:
    """Two different responses divided by `******`."""
    parts = split_paragraphs(response, re.escape("******"))
    return parts is not None and len(parts) == 2 and parts[0].strip() != parts[1].strip()


@instruction("combination:repeat_prompt")
def repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    """Starts with `prompt_to_repeat` (any case)."""
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


@instruction("punctuation:no_comma")
def no_comma(response: str) -> bool:
    """No comma."""
    return "," not in response


@instruction("punctuation:punctuation_dot")
def punctuation_dot(response: str) -> bool:
    """No full stop."""
    return "." not in response


@instruction("punctuation:punctuation_exclamation")
def punctuation_exclamation(response: str) -> bool:
    """No exclamation mark."""
    return "!" not in response


# --- start, end, copies ---------------------------------------------------------------------------


@instruction("startend:end_checker")
def end_checker(response: str, *, end_phrase: str) -> bool:
    """Ends with `end_phrase` (any case, closing quotes ignored)."""
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@instruction("startend:quotation")
def quotation(response: str) -> bool:
    """Wrapped in double quotes."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


@instruction("first_word:first_word_sent")
def first_word_sent(response: str, *, first_word: str | list[str]) -> bool:
    """Every sentence starts with `first_word` (any case)."""
    found = sentences(response)
    return bool(found) and all(s.split()[0].lower() == _first(first_word).lower() for s in found)


@instruction("first_word:first_word_answer")
def first_word_answer(response: str, *, first_word: str) -> bool:
    """The response starts with `first_word` (any case; the first whitespace-separated word)."""
    words = response.split()
    return bool(words) and words[0].lower() == first_word.lower()


def _bare(word: str) -> str:
    return re.sub(r"[^\w\s]", "", word).lower()


@instruction("last_word:last_word_sent")
def last_word_sent(response: str, *, last_word: str | list[str]) -> bool:
    """Every sentence ends with `last_word` (any case, punctuation ignored)."""
    found = sentences(response)
    return bool(found) and all(_bare(s.split()[-1]) == _first(last_word).lower() for s in found)


@instruction("last_word:last_word_answer")
def last_word_answer(response: str, *, last_word: str) -> bool:
    """The response ends with `last_word` (any case, punctuation ignored)."""
    words = response.split()
    return bool(words) and _bare(words[-1]) == last_word.lower()


@instruction("copy:repeat_phrase")
def repeat_phrase(response: str, *, phrase: str, small_n: int) -> bool:
    """The phrase `small_n` times, each copy with exactly one word changed."""
    words = phrase.split()
    if len(words) < 2:
        return False
    copies = _spans(response, words[0] + " ", " " + words[-1])
    return len(copies) == small_n and all(
        len(copy.split()) == len(words) and sum(a != b for a, b in zip(copy.split(), words, strict=True)) == 1
        for copy in copies
    )


def _spans(text: str, opening: str, closing: str) -> list[str]:
    """What `re.findall(opening + ".*?" + closing)` finds (no line breaks inside), in linear time:
    the regex retries from every `opening` and scans to the end of the text each time."""
    found, at, close, newline = [], 0, -1, -1
    while (start := text.find(opening, at)) != -1:
        if close < start + len(opening):
            close = text.find(closing, start + len(opening))
            if close == -1:
                break
        if newline < start:
            newline = text.find("\n", start)
            newline = len(text) if newline == -1 else newline
        if newline < close + len(closing):
            at = start + 1
            continue
        found.append(text[start : close + len(closing)])
        at = close + len(closing)
    return found


@instruction("copy:copy")
def copy_request(response: str, *, prompt_to_repeat: str) -> bool:
    """Exactly `prompt_to_repeat` (any case), nothing else."""
    return response.strip().lower() == prompt_to_repeat.strip().lower()


@instruction("copy:copying_simple")
def copying_simple(response: str, *, prompt_to_repeat: str) -> bool:
    """Exactly `prompt_to_repeat` (any case), nothing else."""
    return copy_request(response, prompt_to_repeat=prompt_to_repeat)


@instruction("copy:copying_multiple")
def copying_multiple(response: str, *, prompt_to_repeat: str, N: int) -> bool:
    """`N` copies of `prompt_to_repeat` divided by `******`."""
    parts = response.split("******")
    return len(parts) == N and all(p.strip().lower() == prompt_to_repeat.strip().lower() for p in parts)


@instruction("new:copy_span_idx")
def copy_span_idx(response: str, *, prompt_to_repeat: str, n_start: int, n_end: int) -> bool:
    """The prompt's characters `n_start` to `n_end` (end exclusive, as the reference)."""
    return response.strip().lower() == prompt_to_repeat[n_start:n_end].strip().lower()
