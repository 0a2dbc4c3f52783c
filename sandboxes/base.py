"""The data contract of every backend: a `RunRequest` (what to run, with which limits) becomes a
`RunResult` (what happened). Hostile or broken programs get a status, never an exception; only a
failure of the sandbox itself is `sandbox_error`. The backends share one base class,
`sandboxes.common.Sandbox`.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandboxes.languages import canonical

BackendName = Literal["local", "docker"]
BACKENDS: tuple[str, ...] = get_args(BackendName)


class Status(str, Enum):
    ok = "ok"
    runtime_error = "runtime_error"
    compile_error = "compile_error"
    timeout = "timeout"
    memory_limit = "memory_limit"
    output_limit = "output_limit"
    sandbox_error = "sandbox_error"


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(
        "python",
        description="A language of the table (`python`, `cpp`, `java`, ...) or an alias (`js`, `rs`).",
    )
    source: str = Field(..., max_length=1_000_000)
    stdin: str = ""
    argv: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(
        default_factory=dict, description="Extra files (relative path -> text) put in the work dir."
    )
    time_limit_s: float = Field(5.0, gt=0, le=300, description="Wall-clock limit of the run.")
    memory_limit_mb: int = Field(512, ge=16, le=16384)
    output_limit_bytes: int = Field(1 << 20, ge=1024, le=64 << 20, description="Cap per stream.")
    stdio_files: tuple[str, str] | None = Field(
        None,
        description="File I/O problems: (input file, output file), e.g. `input.txt`, `output.txt`: the "
        "program reads the first as its stdin and what it writes to the second is its stdout.",
    )

    @field_validator("language")
    @classmethod
    def _canonical_language(cls, name: str) -> str:
        return canonical(name) or name  # an unknown one is the run's sandbox_error, not a 422

    @field_validator("stdio_files")
    @classmethod
    def _plain_names(cls, names: tuple[str, str] | None) -> tuple[str, str] | None:
        if names is not None and any(not re.fullmatch(r"[\w][\w.-]{0,99}", name) for name in names):
            raise ValueError("stdio_files are plain file names in the work dir, like input.txt")
        return names

    @field_validator("files")
    @classmethod
    def _relative_names(cls, files: dict[str, str]) -> dict[str, str]:
        for name in files:
            parts = name.split("/")
            if (
                not name
                or name.startswith("/")
                or "\0" in name
                or any(p in ("", ".", "..") for p in parts)
                or len(name) > 255
            ):
                raise ValueError(f"file name {name!r} must be a relative path inside the work dir")
        return files

    @field_validator("argv")
    @classmethod
    def _no_nul(cls, argv: list[str]) -> list[str]:
        if any("\0" in arg for arg in argv):
            raise ValueError("arguments cannot contain NUL characters")
        return argv


class RunResult(BaseModel):
    status: Status
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    peak_memory_mb: float | None = Field(
        None, description="Peak resident memory where the backend can measure it."
    )
    compile_output: str = Field("", description="Compiler messages for compiled languages.")
    error: str | None = Field(None, description="What went wrong inside the sandbox itself.")
