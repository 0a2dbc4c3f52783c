"""The language table: how to compile and run each language inside a sandbox.

Adding a language is one entry. Commands run with the work dir as the current directory and must
use absolute paths of the runtime image (`/usr/bin/...`): the sandbox has no PATH lookups to trust.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    source_name: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    compile_time_s: float = 30.0
    compile_memory_mb: int = 1024
    fenced_as: tuple[str, ...] = ()
    """Names a Markdown code fence may use for it (```py, ```c++, ...)."""


LANGUAGES: dict[str, Language] = {
    "python": Language(
        "main.py", ("/usr/bin/python3", "-I", "-B", "main.py"), fenced_as=("python", "py", "python3")
    ),
    "cpp": Language(
        "main.cpp",
        ("./main",),
        ("/usr/bin/g++", "-O2", "-std=c++17", "-pipe", "-o", "main", "main.cpp"),
        fenced_as=("cpp", "c++", "cc", "cxx"),
    ),
    "c": Language(
        "main.c",
        ("./main",),
        ("/usr/bin/gcc", "-O2", "-std=c11", "-pipe", "-o", "main", "main.c", "-lm"),
        fenced_as=("c",),
    ),
}


def language(name: str) -> Language:
    try:
        return LANGUAGES[name]
    except KeyError:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(sorted(LANGUAGES))}") from None
