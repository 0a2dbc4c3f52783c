"""`text_similarity` metrics, each a similarity in 0..1 from a well-kept library.

- `fuzzy_match`: rapidfuzz's `WRatio` on `default_process`ed text (lower case, punctuation out) / 100,
  the function OpenAI's graders guide uses in its fuzzy-match example.
- `bleu`: NLTK's sentence BLEU, 1- to 4-grams with uniform weights, Chen & Cherry's smoothing 1 (a
  missing 4-gram match is not 0) and re-weighted for answers under 4 words (identical ones score 1).
- `gleu`: NLTK's sentence GLEU (Google-BLEU), 1- to 4-grams.
- `meteor`: NLTK's METEOR with exact and Porter-stem matches. WordNet synonyms are not used (its
  data cannot be downloaded here), so the value is at most what full METEOR gives: approximate.
- `rouge_1` ... `rouge_5`: Google's `rouge-score`, F-measure; `rouge_l`: its definition (LCS
  F-measure) computed with rapidfuzz's LCS.

All metrics read words with one Unicode-aware tokenizer (`tokens`): lower-cased `\\w+` runs, and
each CJK character a word of its own (those scripts write no spaces), at most `MAX_TOKENS` per side;
`rouge-score`'s own tokenizer keeps only a-z and 0-9, so any non-Latin text scored 0. `fuzzy_match`
compares the first `MAX_FUZZY_CHARS` characters of each side.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from itertools import islice

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+", re.IGNORECASE)


class MetricUnavailable(RuntimeError):
    """The metric needs something this server does not have (an embedding model for `cosine`)."""


MAX_TOKENS = 2048
"""Each side is cut to its first 2048 words: METEOR's alignment is quadratic, in pure Python."""


def tokens(text: str) -> list[str]:
    return [match.group().lower() for match in islice(_TOKEN.finditer(text), MAX_TOKENS)]


class _UnicodeTokenizer:
    """What `rouge-score` calls to tokenize."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


class _NoWordNet:
    """METEOR's synonym stage without WordNet: no word has synonyms."""

    def synsets(self, word: str) -> list[object]:
        return []


MAX_FUZZY_CHARS = 20_000


def fuzzy_match(hypothesis: str, reference: str) -> float:
    from rapidfuzz import fuzz, utils

    hypothesis, reference = hypothesis[:MAX_FUZZY_CHARS], reference[:MAX_FUZZY_CHARS]
    return fuzz.WRatio(hypothesis, reference, processor=utils.default_process) / 100.0


def bleu(hypothesis: str, reference: str) -> float:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    hyp, ref = tokens(hypothesis), tokens(reference)
    if not hyp or not ref:
        return float(hyp == ref)
    smoothing = SmoothingFunction().method1
    return float(sentence_bleu([ref], hyp, smoothing_function=smoothing, auto_reweigh=True))


def gleu(hypothesis: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu

    hyp, ref = tokens(hypothesis), tokens(reference)
    if not hyp or not ref:
        return float(hyp == ref)
    return float(sentence_gleu([ref], hyp))


def meteor(hypothesis: str, reference: str) -> float:
    from nltk.translate.meteor_score import single_meteor_score

    hyp, ref = tokens(hypothesis), tokens(reference)
    if not hyp or not ref:
        return float(hyp == ref)
    return float(single_meteor_score(ref, hyp, wordnet=_NoWordNet()))


@cache
def _rouge_scorer(kind: str) -> object:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer([kind], tokenizer=_UnicodeTokenizer())


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F-measure (rouge-score's definition) with rapidfuzz's LCS in C: rouge-score's own
    table is quadratic in pure Python."""
    from rapidfuzz.distance import LCSseq

    hyp, ref = tokens(hypothesis), tokens(reference)
    if not hyp or not ref:
        return float(hyp == ref)
    common = LCSseq.similarity(hyp, ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(hyp), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge(kind: str) -> Callable[[str, str], float]:
    def score(hypothesis: str, reference: str) -> float:
        if not tokens(hypothesis) or not tokens(reference):
            return float(tokens(hypothesis) == tokens(reference))
        result = _rouge_scorer(kind).score(reference, hypothesis)  # type: ignore[attr-defined]
        return float(result[kind].fmeasure)

    return score


def cosine(hypothesis: str, reference: str) -> float:
    raise MetricUnavailable(
        "`cosine` compares embeddings and this server has no embedding model; use `fuzzy_match`, "
        "`bleu` or `rouge_l`, or a `score_model` grader"
    )


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    **{f"rouge_{n}": rouge(f"rouge{n}") for n in range(1, 6)},
    "rouge_l": rouge_l,
    "cosine": cosine,
}


def similarity(metric: str, hypothesis: str, reference: str) -> float:
    """The metric's value, in 0..1."""
    return min(1.0, max(0.0, METRICS[metric](hypothesis, reference)))
