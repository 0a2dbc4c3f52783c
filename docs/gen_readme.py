"""Regenerate the README's reference blocks from the code, so the docs cannot drift from the API.

    python -m docs.gen_readme          # rewrite README.md in place
    python -m docs.gen_readme --check  # exit 1 if README.md is out of date (run by the tests)

Blocks live between `<!-- generated: NAME -->` and `<!-- /generated: NAME -->` markers.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from clients.grpo.config import TrainConfig
from service.api.schemas import (
    GraderMetadata,
    GraderRunRequest,
    GraderRunResponse,
    ItemResult,
    OpenRLHFRequest,
    OpenRLHFResponse,
    RewardRequest,
    RewardResponse,
)
from service.grading.instructions.checks import INSTRUCTIONS
from service.grading.procedural import dataset_names
from service.items import Item, Message
from service.rewards.registry import PROFILES, REWARDS
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _type_name(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " \\| ".join(_type_name(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list[{_type_name(schema.get('items', {}))}]"
    if schema.get("type") == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return f"dict[str, {_type_name(extra) if isinstance(extra, dict) else 'any'}]"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    return schema.get("type", "any")


def _default(schema: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" in schema:
        return f"`{schema['default']!r}`" if schema["default"] is not None else "`None`"
    return ""


def fields_table(model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        description = (prop.get("description") or "").replace("\n", " ").replace("|", "\\|")
        rows.append(
            f"| `{name}` | {_type_name(prop)} | {_default(prop, name in schema.get('required', []))} "
            f"| {description} |"
        )
    return "\n".join(rows)


def api_block() -> str:
    parts = []
    for model in (
        RewardRequest,
        Item,
        Message,
        RewardResponse,
        ItemResult,
        OpenRLHFRequest,
        OpenRLHFResponse,
        GraderRunRequest,
        GraderRunResponse,
        GraderMetadata,
    ):
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        parts.append(f"**{model.__name__}**{': ' + doc if doc else ''}\n\n{fields_table(model)}")
    return "\n\n".join(parts)


def rewards_block() -> str:
    rows = ["| reward | what it scores | item fields | options (default) |", "|---|---|---|---|"]
    for name, reward in REWARDS.items():
        options = ", ".join(
            f"`{field}`={prop.get('default')!r}" if "default" in prop else f"`{field}`"
            for field, prop in reward.params.model_json_schema().get("properties", {}).items()
        )
        fields = ", ".join(f"`{f}`" for f in reward.requires)
        if reward.requires_one_of:
            alternatives = " or ".join(f"`{f}`" for f in reward.requires_one_of)
            fields = f"{fields}, one of {alternatives}" if fields else f"one of {alternatives}"
        kind = " (per group)" if reward.group_reward else ""
        rows.append(f"| `{name}`{kind} | {reward.description} | {fields or '-'} | {options or '-'} |")
    rows += ["", "| profile | weights | options |", "|---|---|---|"]
    rows += [
        f"| `{name}` | {', '.join(f'`{r}`: {w}' for r, w in profile.weights.items())} "
        f"| {', '.join(f'`{r}`: `{json.dumps(p)}`' for r, p in profile.params.items()) or '-'} |"
        for name, profile in PROFILES.items()
    ]
    return "\n".join(rows)


def settings_block() -> str:
    rows = ["| setting | env var | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default
        if name == "math_workers":
            default = "2 x CPU count"
        elif name == "sandbox_concurrency":
            default = "CPU count"
        rows.append(f"| `{name}` | `REFEREE_{name.upper()}` | `{default!r}` | {field.description or ''} |")
    return "\n".join(rows)


def instructions_block() -> str:
    rows = ["| id | kwargs | followed when |", "|---|---|---|"]
    for instruction_id, check in sorted(INSTRUCTIONS.items()):
        kwargs = [name for name in inspect.signature(check).parameters if name != "response"]
        doc = (check.__doc__ or "").strip().replace("|", "\\|")
        rows.append(f"| `{instruction_id}` | {', '.join(f'`{k}`' for k in kwargs) or '-'} | {doc} |")
    return "\n".join(rows)


def datasets_block() -> str:
    names = dataset_names()
    return f"{len(names)} datasets: " + ", ".join(f"`{name}`" for name in names) + "."


BLOCKS = {
    "api-models": api_block,
    "reward-table": rewards_block,
    "settings-table": settings_block,
    "instruction-table": instructions_block,
    "reasoning-gym-datasets": datasets_block,
    "train-config": lambda: fields_table(TrainConfig),
}


def render(text: str) -> str:
    for name, build in BLOCKS.items():
        pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(<!-- /generated: {name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no block `{name}`")
        text = pattern.sub(lambda m, b=build: m.group(1) + b() + "\n" + m.group(2), text)
    return text


def main() -> int:
    readme = ROOT / "README.md"
    current = readme.read_text()
    updated = render(current)
    if "--check" in sys.argv:
        if updated != current:
            print("README.md is out of date: run `python -m docs.gen_readme`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
