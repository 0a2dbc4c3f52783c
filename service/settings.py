"""Service settings: CLI flags > environment (`REFEREE_*`) > TOML file (`--config`) > defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sandboxes.base import BackendName

CONFIG_ENV = "REFEREE_CONFIG"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFEREE_", extra="forbid")

    host: str = Field("127.0.0.1", description="Interface to bind; `0.0.0.0` to serve other machines.")
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    shutdown_grace_s: float = Field(
        30.0, ge=0, description="On SIGTERM, in-flight requests get this long to finish."
    )
    api_key: str | None = Field(
        None, description="When set, every endpoint but /healthz needs `Bearer <key>`."
    )

    max_body_bytes: int = Field(64 << 20, ge=1024, description="Larger request bodies get 413.")
    max_items: int = Field(16384, ge=1, description="Larger batches get 413.")
    job_max_queued_items: int = Field(
        200_000,
        ge=1,
        description="Items of submitted jobs not scored yet, at most; more is 429 with Retry-After.",
    )
    job_ttl_s: float = Field(600.0, ge=0, description="How long a finished job and its results are kept.")
    stream_concurrency: int = Field(
        32,
        ge=1,
        description="Items (or whole rollout groups, with a group reward) of one streamed request scored "
        "at once (`POST /v1/rewards/stream`).",
    )

    math_workers: int = Field(
        default_factory=lambda: 2 * (os.cpu_count() or 1),
        ge=1,
        description="Worker processes that grade math answers. Twice the cores by "
        "default: an answer that hangs sympy holds a worker until its timeout, not a core.",
    )

    sandbox_backend: BackendName = Field(
        "local", description="Default backend of `code` and `/v1/execute`: `local` or `docker`."
    )
    sandbox_concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Programs running at once; more wait in a queue.",
    )
    sandbox_image: str = Field("referee-sandbox:latest", description="Image of the docker backend.")
    sandbox_warm: bool = Field(
        True,
        description="Keep one warm sandbox per slot (a started runner that forks every run, a long-lived "
        "runner in each docker container); false: a fresh sandbox (`bwrap`, `docker exec`) per run.",
    )

    rm_model: str | None = Field(
        None, description="Path or name of the verifier model for `cot_rm` (loaded at startup)."
    )
    rm_template: str = Field(
        "yes-no", description="Verifier prompt preset (`yes-no`, `xverify`, `compass`) or a JSON file."
    )
    rm_mode: Literal["cot", "logprob", "logprob-after-cot", "scalar"] = Field(
        "cot", description="`cot`, `logprob`, `logprob-after-cot`, or `scalar` (a classification RM)."
    )
    rm_device: str = Field("auto", description="`auto`: cuda when available, else cpu.")
    rm_max_batch_size: int = Field(16, ge=1, description="Items per model batch, collected across requests.")
    rm_max_wait_ms: float = Field(10.0, ge=0, description="How long a batch waits for more items.")
    rm_max_new_tokens: int = Field(256, ge=1, description="Reasoning budget of the verifier.")
    rm_remote_url: str | None = Field(
        None,
        description="Call `cot_rm` on another Referee (e.g. `referee serve "
        "--only cot_rm --rm-model ...` on a GPU node) instead of loading a model here.",
    )
    judge_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="OpenAI-compatible base URLs of a served judge model (vLLM, SGLang, a hosted API: "
        "`http://host:8000/v1`); several replicas are spread round-robin. Set: `rubric`, `judge`, "
        "`math`'s judge fallback, and (without `rm_model`) `cot_rm` and model graders use it.",
    )
    judge_model: str | None = Field(
        None, description="The judge's model name (`model` in its requests); default: the first it serves."
    )
    judge_api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the judge's API key (never the key)."
    )
    judge_concurrency: int = Field(
        16, ge=1, description="Hard limit on requests in flight to the judge, shared by every request."
    )
    judge_timeout_s: float = Field(60.0, gt=0, description="Deadline of one judge request.")
    judge_retry_budget_s: float = Field(
        120.0, ge=0, description="Time one prompt may spend on retries (429, 5xx, timeouts) with backoff."
    )
    judge_max_retries: int = Field(4, ge=0, description="Retries of one prompt, within the budget.")
    judge_max_tokens: int = Field(1024, ge=1, description="Default `max_tokens` of a judge request.")
    judge_cache_size: int = Field(
        10_000, ge=0, description="Judge replies kept for identical prompts (0: no cache)."
    )
    judge_cache_ttl_s: float = Field(600.0, ge=0, description="How long a cached judge reply is used.")
    only: list[str] | None = Field(
        None, description="Serve only these rewards (and start only what they need)."
    )

    openrlhf_profile: str = Field("r1-math", description="Profile used by POST /get_reward.")
    openrlhf_score_reward: str | None = Field(
        None,
        description="Component returned as `scores` by /get_reward (OpenRLHF's dynamic filtering reads "
        "it); default: the profile's first reward.",
    )

    record: str | None = Field(
        None,
        description="Record scored batches for the reward inspector (`/ui`): a SQLAlchemy URL "
        "(`sqlite:///runs.sqlite`, `postgresql+psycopg://user@host/db`); off when unset.",
    )
    record_sample: float = Field(
        1.0, gt=0, le=1, description="Share of GRPO groups (or ungrouped items) recorded, kept whole."
    )
    record_max_rows: int | None = Field(None, ge=1, description="Keep at most this many items (oldest go).")
    record_max_age: float | None = Field(None, gt=0, description="Drop records older than this, in seconds.")
    record_text_chars: int = Field(
        20_000, ge=100, description="Longer prompts and completions are cut, with a marker."
    )

    @field_validator("judge_urls", mode="before")
    @classmethod
    def _url_list(cls, value: object) -> object:
        """`REFEREE_JUDGE_URLS=http://a/v1,http://b/v1` as well as a JSON list."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("api_key", "rm_model", "rm_remote_url", "record", "judge_model", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """docker-compose passes `${VAR:-}` of an unset variable as an empty string: that means "not set"."""
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"config file {config_file} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)
