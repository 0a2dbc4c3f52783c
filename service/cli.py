"""The `referee` command. Imports stay inside the commands so `referee score` works with the
client-only install (no FastAPI) and `--help` is instant."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from service.settings import Settings

app = typer.Typer(
    help="Referee: a verifiable reward service for RL on language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


DEFAULT_RECORD_FILE = "referee-records.sqlite"
RECORD_DEFAULT = "__default__"


def run() -> None:
    """The `referee` console script: `--record` may come without a value (click cannot say so)."""
    import sys

    args = sys.argv[1:]
    for index, arg in enumerate(args):
        if arg == "--record" and (index + 1 == len(args) or args[index + 1].startswith("-")):
            args[index] = f"--record={RECORD_DEFAULT}"
    app(args)


@app.callback()
def main() -> None:
    """Referee: a verifiable reward service for RL on language models."""


def _export(name: str, value: object) -> None:
    """Pass a CLI flag on as `REFEREE_<NAME>` so every uvicorn worker process sees the same settings."""
    if value is not None:
        os.environ[f"REFEREE_{name.upper()}"] = str(value)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind. [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port. [default: 8000]")] = None,
    workers: Annotated[int | None, typer.Option(help="uvicorn worker processes. [default: 1]")] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="TOML file with settings (same names as REFEREE_* env vars, lower case)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    rm_model: Annotated[
        str | None, typer.Option(help="Verifier model (path or name) for the cot_rm reward.")
    ] = None,
    rm_template: Annotated[
        str | None, typer.Option(help="Verifier prompt preset or JSON file. [default: yes-no]")
    ] = None,
    rm_mode: Annotated[
        str | None, typer.Option(help="cot, logprob, logprob-after-cot or scalar. [default: cot]")
    ] = None,
    rm_remote_url: Annotated[
        str | None, typer.Option(help="Another Referee that serves cot_rm (e.g. on a GPU node).")
    ] = None,
    judge_url: Annotated[
        list[str] | None,
        typer.Option(
            metavar="URL",
            help="OpenAI-compatible base URL of a served judge (vLLM, SGLang: http://HOST:8000/v1); "
            "repeat for replicas, spread round-robin.",
        ),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="The judge's model name. [default: the first it serves]")
    ] = None,
    judge_api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the judge's API key.")
    ] = None,
    judge_concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight to the judge, at most. [default: 16]")
    ] = None,
    judge_timeout_s: Annotated[
        float | None, typer.Option(help="Deadline of one judge request, seconds. [default: 60]")
    ] = None,
    only: Annotated[
        str | None, typer.Option(help="Serve only these rewards, comma-separated (e.g. cot_rm).")
    ] = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="Deploy on Ray Serve (pip install 'referee[ray]').")
    ] = False,
    address: Annotated[
        str | None,
        typer.Option(
            help="With --ray: the cluster (`auto`: the running one). [default: a new local cluster]"
        ),
    ] = None,
    replicas: Annotated[str, typer.Option(help="With --ray: API replicas, N or MIN-MAX to autoscale.")] = "1",
    replica_cpus: Annotated[
        float,
        typer.Option(help="With --ray: CPUs per API replica (its math workers and sandbox slots follow)."),
    ] = 2.0,
    detach: Annotated[
        bool, typer.Option(help="With --ray --address: deploy and return, the app keeps running.")
    ] = False,
    record: Annotated[
        str | None,
        typer.Option(
            help="Record scored batches for the reward inspector (/ui): `--record` alone writes "
            f"./{DEFAULT_RECORD_FILE}, or give a database URL (sqlite:///FILE, postgresql+psycopg://...)."
        ),
    ] = None,
    record_sample: Annotated[
        float | None, typer.Option(help="Share of groups recorded (0-1]. [default: 1]")
    ] = None,
    record_max_rows: Annotated[int | None, typer.Option(help="Keep at most this many items.")] = None,
    record_max_age: Annotated[
        float | None, typer.Option(help="Drop records older than this many seconds.")
    ] = None,
) -> None:
    """Serve the reward API (flags > REFEREE_* environment > --config file > defaults)."""
    import json
    import tempfile

    import uvicorn

    from service.settings import CONFIG_ENV, Settings

    if config is not None:
        if not config.is_file():
            raise typer.BadParameter(f"{config} does not exist", param_hint="--config")
        os.environ[CONFIG_ENV] = str(config.resolve())
    options = {
        "host": host,
        "port": port,
        "workers": workers,
        "rm_model": rm_model,
        "rm_template": rm_template,
        "rm_mode": rm_mode,
        "rm_remote_url": rm_remote_url,
        "judge_urls": ",".join(judge_url) if judge_url else None,
        "judge_model": judge_model,
        "judge_api_key_env": judge_api_key_env,
        "judge_concurrency": judge_concurrency,
        "judge_timeout_s": judge_timeout_s,
        "only": json.dumps([name.strip() for name in only.split(",")]) if only else None,
        "record": record_url(record),
        "record_sample": record_sample,
        "record_max_rows": record_max_rows,
        "record_max_age": record_max_age,
    }
    for name, value in options.items():
        _export(name, value)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the bad setting
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None
    if ray:
        _serve_on_ray(settings, address, replicas, replica_cpus, detach)
        return
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="referee-metrics-")
    uvicorn.run(
        "service.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=log_level,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
    )


def record_url(value: str | None) -> str | None:
    """`--record` alone (see `run`) means the default SQLite file; a bare path means a SQLite file."""
    if value is None:
        return None
    if value == RECORD_DEFAULT:
        value = DEFAULT_RECORD_FILE
    if "://" not in value:
        path = Path(value).resolve()
        typer.echo(f"recording scored batches to {path} (the reward inspector: /ui)", err=True)
        return f"sqlite:///{path}"
    return value


def _serve_on_ray(
    settings: Settings, address: str | None, replicas: str, replica_cpus: float, detach: bool
) -> None:
    try:
        from service.ray_serve import Scaling, run
    except ImportError as exc:
        typer.echo(f"error: --ray needs Ray Serve: pip install 'referee[ray]' ({exc})", err=True)
        raise typer.Exit(2) from None
    try:
        scaling = Scaling.parse(replicas, replica_cpus)
        run(settings, scaling, address=address, detach=detach)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def score(
    file: Annotated[
        Path, typer.Argument(help="JSONL file, one item per line (the /v1/rewards item format).")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Where to write results. [default: FILE.scored.jsonl]")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Service URL. [default: $REFEREE_URL or http://127.0.0.1:8000]")
    ] = None,
    rewards: Annotated[str | None, typer.Option(help="Weights, e.g. 'math=1,format=0.1'.")] = None,
    profile: Annotated[str | None, typer.Option(help="A profile instead of --rewards, e.g. r1-math.")] = None,
    params: Annotated[
        str | None, typer.Option(help='Per-reward options as JSON, e.g. \'{"math": {"timeout_s": 2}}\'.')
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Items per request.")] = 256,
    api_key: Annotated[str | None, typer.Option(help="[default: $REFEREE_API_KEY]")] = None,
    turns: Annotated[
        float | None, typer.Option(help="Per-turn credit of trajectories with this discount (gamma).")
    ] = None,
) -> None:
    """Score a JSONL file of items (completions may be agent trajectories) against a running service,
    with a progress bar and a summary."""
    import json

    from clients.client import RefereeClient, RefereeError, parse_weights
    from clients.score_file import score_file

    if (rewards is None) == (profile is None):
        raise typer.BadParameter("give exactly one of --rewards or --profile")
    target = out or file.with_suffix(".scored.jsonl")
    try:
        with RefereeClient(url, api_key=api_key) as client:
            score_file(
                file,
                target,
                client,
                rewards=parse_weights(rewards) if rewards else None,
                profile=profile,
                params=json.loads(params) if params else None,
                batch_size=batch_size,
                turns={"gamma": turns} if turns is not None else None,
            )
    except (RefereeError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"results written to {target}")


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="TOML training config (see clients/grpo/config.py).")],
    steps: Annotated[int | None, typer.Option(help="Override the config's number of steps.")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Override the config's output_dir.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
) -> None:
    """Train a policy with the bundled GRPO trainer, rewards from a running Referee service."""
    from clients.grpo.config import load_config
    from clients.grpo.trainer import GRPOTrainer

    settings = load_config(config, steps=steps, output_dir=output_dir, seed=seed)
    history = GRPOTrainer(settings).train()
    trained = [row for row in history if "reward_mean" in row]
    evaluations = [row for row in history if "eval/accuracy" in row]
    if trained:
        summary = f"done: {len(trained)} steps, last reward {trained[-1]['reward_mean']:.3f}"
        if evaluations:
            summary += (
                f", held-out accuracy {evaluations[0]['eval/accuracy']:.3f} (step {evaluations[0]['step']})"
                f" -> {evaluations[-1]['eval/accuracy']:.3f} (step {evaluations[-1]['step']})"
            )
        typer.echo(
            f"{summary}; metrics in {settings.output_dir / 'metrics.jsonl'}, "
            f"plot in {settings.output_dir / 'reward_curve.png'}"
        )


@app.command()
def select(
    file: Annotated[
        Path, typer.Argument(help="JSONL of /v1/rewards items (with `scores`, or give --scores).")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the TRL rows (JSONL).")],
    recipe: Annotated[str, typer.Option(help="rejection, shortest or pairs.")] = "rejection",
    scores: Annotated[
        Path | None, typer.Option(help="`referee score`'s FILE.scored.jsonl, joined by id (else by line).")
    ] = None,
    where: Annotated[str, typer.Option(help="Minimum scores, e.g. 'math=1,language=0.99'.")] = "",
    k: Annotated[int, typer.Option(min=1, help="Items kept per group (rejection, shortest).")] = 1,
    ratio: Annotated[
        float, typer.Option(min=1.0, help="pairs: a passing rejected is this many times longer.")
    ] = 1.5,
    max_pairs: Annotated[int, typer.Option(min=1, help="pairs: at most this many per group.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the pairs' choice among equals.")] = 0,
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer for lengths when items lack completion_tokens.")
    ] = None,
    meta: Annotated[bool, typer.Option(help="Rows also carry ids, scores and rewards.")] = False,
) -> None:
    """Turn scored rollouts into SFT rows or DPO pairs (R1 rejection sampling, Kimi long2short),
    offline: no server needed."""
    import json
    from typing import cast

    from clients.client import parse_weights
    from clients.score_file import read_items
    from service.grading.errors import GradingError
    from service.selection.files import joined, write_jsonl
    from service.selection.recipes import Recipe
    from service.selection.recipes import select as choose
    from service.selection.rows import summary_of, training_rows

    if recipe not in ("rejection", "shortest", "pairs"):
        raise typer.BadParameter("one of rejection, shortest, pairs", param_hint="--recipe")
    try:
        thresholds = parse_weights(where) if where else {}
        if not all(math.isfinite(value) for value in thresholds.values()):
            raise ValueError(f"--where minimums must be finite numbers: {where!r}")
        items = joined(list(read_items(file)), list(read_items(scores)) if scores else None)
        selection = choose(
            items,
            cast(Recipe, recipe),
            thresholds,
            k=k,
            min_length_ratio=ratio,
            max_pairs=max_pairs,
            seed=seed,
            tokenizer=tokenizer,
        )
    except (ValueError, OSError, GradingError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    rows = training_rows(items, selection, meta)
    write_jsonl(out, rows)
    summary = summary_of(items, selection)
    typer.echo(json.dumps(summary, indent=2), err=True)
    typer.echo(f"{len(rows)} rows -> {out}", err=True)


@app.command()
def inspect(
    scored: Annotated[Path, typer.Argument(help="A FILE.scored.jsonl written by `referee score`.")],
    items: Annotated[
        Path | None,
        typer.Option(
            help="The items that were scored (their prompts and completions). [default: FILE.jsonl]"
        ),
    ] = None,
    run_name: Annotated[
        str | None, typer.Option("--run", help="Run name. [default: the file's name]")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8010,
) -> None:
    """Open the reward inspector on a scored file, without a recording server."""
    import uvicorn

    from service.inspector.offline import inspector_app

    source = items
    if source is None and scored.name.endswith(".scored.jsonl"):
        source = scored.with_name(scored.name.removesuffix(".scored.jsonl") + ".jsonl")
    app_ = inspector_app(
        scored, source if source and source.is_file() else None, run_name or scored.name.split(".")[0]
    )
    typer.echo(f"the reward inspector on {scored}: http://{host}:{port}/ui", err=True)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    run()
