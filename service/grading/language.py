"""Which language a text is in: by script for languages with a script of their own, by py3langid
among a closed set of languages for the rest. Plain Python for the `language` and `ifeval` rewards."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import cache
from typing import Any

# Languages written in a script no other common language shares are told apart by script alone.
SCRIPT_OF_LANGUAGE = {
    "zh": "han",
    "ja": "japanese",
    "ko": "hangul",
    "ru": "cyrillic",
    "uk": "cyrillic",
    "bg": "cyrillic",
    "sr": "cyrillic",
    "ar": "arabic",
    "fa": "arabic",
    "ur": "arabic",
    "he": "hebrew",
    "el": "greek",
    "hi": "devanagari",
    "mr": "devanagari",
    "ne": "devanagari",
    "th": "thai",
    "bn": "bengali",
    "ta": "tamil",
    "ka": "georgian",
    "hy": "armenian",
}
# Languages the per-sentence identifier chooses among (a closed set keeps short sentences sane).
IDENTIFIED_LANGUAGES = [
    "en",
    "es",
    "fr",
    "de",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "pl",
    "cs",
    "sk",
    "ro",
    "hu",
    "tr",
    "id",
    "ms",
    "vi",
    "ca",
    "hr",
    "sl",
    "et",
    "lv",
    "lt",
    "ru",
    "uk",
    "bg",
    "sr",
    "ar",
    "fa",
    "ur",
]

_NOT_PROSE = re.compile(
    r"```.*?(?:```|$)|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|\\\[.*?\\\]|\\\(.*?\\\)|https?://\S+", re.S
)
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？;；])\s*|\n+")
_IDENTIFIER_LOCK = threading.Lock()


def script_of(char: str) -> str | None:
    """The writing system of a letter, from its Unicode name (enough to separate the major scripts)."""
    name = unicodedata.name(char, "")
    if name.startswith("CJK") or "IDEOGRAPH" in name:
        return "han"
    for prefix, script in (
        ("HIRAGANA", "japanese"),
        ("KATAKANA", "japanese"),
        ("HANGUL", "hangul"),
        ("LATIN", "latin"),
        ("CYRILLIC", "cyrillic"),
        ("ARABIC", "arabic"),
        ("HEBREW", "hebrew"),
        ("GREEK", "greek"),
        ("DEVANAGARI", "devanagari"),
        ("THAI", "thai"),
        ("BENGALI", "bengali"),
        ("TAMIL", "tamil"),
        ("GEORGIAN", "georgian"),
        ("ARMENIAN", "armenian"),
    ):
        if name.startswith(prefix):
            return script
    return None


def words_by_script(text: str) -> list[tuple[str, str]]:
    """(word, script) pairs. Every Han, kana or Thai character is one word: those scripts do not
    separate words with spaces, and a character is the unit the R1 paper's proportion needs."""
    words = []
    for match in _WORD.finditer(text):
        run, scripts = match.group(), [script_of(c) for c in match.group()]
        start = 0
        for i in range(1, len(run) + 1):
            script = scripts[start]
            if i == len(run) or scripts[i] != script or script in ("han", "japanese", "thai"):
                if script is not None:
                    words.append((run[start:i], script))
                start = i
    return words


def expected_script(language: str) -> str:
    return SCRIPT_OF_LANGUAGE.get(language.split("-")[0].lower(), "latin")


@cache
def _identifier() -> Any:  # py3langid has no types
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(IDENTIFIED_LANGUAGES)
    return identifier


def identify(text: str) -> tuple[str, float]:
    with _IDENTIFIER_LOCK:  # the identifier keeps per-call state
        language, probability = _identifier().classify(text)
    return language, float(probability)


def prose(text: str) -> str:
    """Code blocks, inline code, formulas and URLs are not language: drop them before counting."""
    return _NOT_PROSE.sub(" ", text)


def detect_language(text: str, default: str, min_confidence: float) -> str:
    """The prompt's language; `default` when the prompt is too short or too mixed to tell."""
    words = words_by_script(prose(text))
    if not words:
        return default
    scripts = [script for _, script in words]
    main = max(set(scripts), key=scripts.count)
    if main == "han":
        return "ja" if "japanese" in scripts else "zh"
    if main in ("latin", "cyrillic", "arabic"):
        language, probability = identify(" ".join(word for word, _ in words))
        return language if len(words) >= 3 and probability >= min_confidence else default
    return next((lang for lang, script in SCRIPT_OF_LANGUAGE.items() if script == main), default)


def target_share(reasoning: str, target: str, min_confidence: float) -> float | None:
    """The proportion of words in `reasoning` that are in `target`; None when it has no words."""
    script = expected_script(target)
    total = in_target = 0
    for sentence in _SENTENCE_END.split(prose(reasoning)):
        words = words_by_script(sentence)
        if not words:
            continue
        total += len(words)
        same_script = [w for w, s in words if s == script or (target == "ja" and s == "han")]
        # Same-script languages are told apart per sentence; short or unsure ones get the benefit.
        if script in ("latin", "cyrillic", "arabic") and len(same_script) >= 3:
            language, probability = identify(" ".join(same_script))
            if language != target.split("-")[0].lower() and probability >= min_confidence:
                continue
        in_target += len(same_script)
    return in_target / total if total else None
