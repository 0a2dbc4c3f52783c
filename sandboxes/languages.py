"""The language table: how to compile and run each language inside a sandbox.

Adding a language is one entry. Commands run with the work dir as the current directory and must
use absolute paths of the runtime image (`/usr/bin/...`): the sandbox has no PATH lookups to trust.
`{source}`, `{main}` and `{memory_mb}` in a command stand for the source file's name, the class to
run (Java) and the run's memory limit.

Managed runtimes reserve far more address space than they use (the JVM's class space and code cache,
V8's code range, Go's page summaries), so `RLIMIT_AS` alone would refuse to start them under a
512 MB limit. Their entries add a fixed `reserve_mb` to the address-space limit and cap the heap
with the runtime's own flag at the run's memory limit (`-Xmx`, `--max-old-space-size`, Go's
`GOMEMLIMIT`, which is a soft limit).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_JAVA_CLASS = re.compile(r"^[ \t]*(public\s+)?(?:(?:final|abstract|static|strictfp)\s+)*class\s+(\w+)", re.M)
# Comments and string or char literals, blanked before braces are counted.
_JAVA_NOISE = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
_JAVA_MAIN = re.compile(r"\bstatic\s+(?:final\s+)?void\s+main\s*\(")
# The JVM's own reservations kept small (class space, code cache, one compiler thread, one GC).
_JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:ReservedCodeCacheSize=32m",
    "-XX:CompressedClassSpaceSize=32m",
    "-XX:MaxMetaspaceSize=128m",
    "-XX:CICompilerCount=1",
    "-XX:-UsePerfData",
)


@dataclass(frozen=True)
class Language:
    source_name: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    compile_time_s: float = 30.0
    compile_memory_mb: int = 1024
    fenced_as: tuple[str, ...] = ()
    """Names a Markdown code fence may use for it (```py, ```c++, ...)."""
    aliases: tuple[str, ...] = ()
    """Other names an item's `language` may use (`js`, `golang`, `rs`, ...)."""
    reserve_mb: int = 0
    """Address space the runtime reserves beyond its heap, added to `RLIMIT_AS`."""

    def source_file(self, source: str) -> str:
        """The file the source is saved as: for Java, named after its public class (any name)."""
        if self.source_name != "{class}.java":
            return self.source_name
        return f"{java_classes(source)[0]}.java"

    def command(self, argv: tuple[str, ...], source: str, memory_mb: int) -> tuple[str, ...]:
        main = java_classes(source)[1] if "{main}" in " ".join(argv) else ""
        return tuple(
            arg.format(source=self.source_file(source), main=main, memory_mb=memory_mb) for arg in argv
        )

    @property
    def tools(self) -> tuple[str, ...]:
        """The installed programs the commands name (`./main` is what compiling makes)."""
        argvs = (self.run, self.compile or ())
        return tuple(dict.fromkeys(arg for argv in argvs for arg in argv if arg.startswith("/")))

    def available(self) -> bool:
        """Whether this host has the toolchain (the local sandbox sees the host's /usr)."""
        return all(os.access(tool, os.X_OK) for tool in self.tools)


def java_classes(source: str) -> tuple[str, str]:
    """(the public top-level class, the top-level class declaring `main`), each defaulting to the
    other or `Main`. Nested classes (a `FastReader` inside `Main`) are neither."""
    code = _JAVA_NOISE.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), source)
    top_level = [
        (match.start(), match.group(2), bool(match.group(1)))
        for match in _JAVA_CLASS.finditer(code)
        if code.count("{", 0, match.start()) == code.count("}", 0, match.start())
    ]
    main_at = _JAVA_MAIN.search(code)
    declaring = [name for start, name, _ in top_level if main_at is None or start < main_at.start()]
    main = declaring[-1] if declaring else "Main"
    public = next((name for _, name, is_public in top_level if is_public), main)
    return public, main


LANGUAGES: dict[str, Language] = {
    "python": Language(
        "main.py",
        ("/usr/bin/python3", "-I", "-B", "main.py"),
        fenced_as=("python", "py", "python3"),
        aliases=("py", "python3"),
    ),
    "cpp": Language(
        "main.cpp",
        ("./main",),
        ("/usr/bin/g++", "-O2", "-std=c++17", "-pipe", "-o", "main", "main.cpp"),
        fenced_as=("cpp", "c++", "cc", "cxx"),
        aliases=("c++", "cxx", "cc", "cpp17", "c++17"),
    ),
    "c": Language(
        "main.c",
        ("./main",),
        ("/usr/bin/gcc", "-O2", "-std=c11", "-pipe", "-o", "main", "main.c", "-lm"),
        fenced_as=("c",),
    ),
    "java": Language(
        "{class}.java",
        (
            "/usr/lib/jvm/default-java/bin/java",
            "-Xmx{memory_mb}m",
            "-Xss16m",
            *_JVM_FLAGS,
            "-cp",
            ".",
            "{main}",
        ),
        (
            "/usr/lib/jvm/default-java/bin/javac",
            "-J-Xmx512m",
            *(f"-J{flag}" for flag in _JVM_FLAGS),
            "-encoding",
            "UTF-8",
            "-nowarn",
            "-d",
            ".",
            "{source}",
        ),
        compile_time_s=60.0,
        fenced_as=("java",),
        aliases=("java8", "java11", "java17", "java21"),
        reserve_mb=1024,
    ),
    "javascript": Language(
        "main.js",
        ("/usr/bin/node", "--max-old-space-size={memory_mb}", "--stack-size=65500", "main.js"),
        fenced_as=("javascript", "js", "node", "nodejs"),
        aliases=("js", "node", "nodejs"),
        reserve_mb=1024,
    ),
    "go": Language(
        "main.go",
        ("/usr/bin/env", "GOMEMLIMIT={memory_mb}MiB", "./main"),
        (
            "/usr/bin/env",
            "GOCACHE=/tmp/go-cache",
            "GOPATH=/tmp/go",
            "GO111MODULE=off",
            "CGO_ENABLED=0",
            "/usr/bin/go",
            "build",
            "-o",
            "main",
            "main.go",
        ),
        compile_time_s=60.0,
        compile_memory_mb=2560,
        fenced_as=("go", "golang"),
        aliases=("golang",),
        reserve_mb=1536,
    ),
    "rust": Language(
        "main.rs",
        ("./main",),
        ("/usr/bin/rustc", "-O", "--edition", "2021", "-C", "linker=/usr/bin/gcc", "-o", "main", "main.rs"),
        compile_time_s=60.0,
        compile_memory_mb=3072,
        fenced_as=("rust", "rs"),
        aliases=("rs",),
    ),
}

_BY_ALIAS = {alias: name for name, spec in LANGUAGES.items() for alias in (name, *spec.aliases)}


def canonical(name: str) -> str | None:
    """The table's key for a language name or alias (case-insensitive), or None."""
    return _BY_ALIAS.get(name.strip().lower())


def language(name: str) -> Language:
    key = canonical(name)
    if key is None:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(sorted(LANGUAGES))}")
    return LANGUAGES[key]
