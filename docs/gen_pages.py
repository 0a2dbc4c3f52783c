"""Regenerate the docs' reference tables and OpenAPI document from the code, so they cannot drift.

    python -m docs.gen_pages          # rewrite the pages in place
    python -m docs.gen_pages --check  # exit 1 if a page is out of date (run by the tests)

Tables live in the pages (docs/*.md) between `<!-- generated: NAME -->` and `<!-- /generated: NAME -->`
markers; each block is in exactly one page. `docs/openapi.json` is the app's schema, which the
site's OpenAPI reference renders.
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
DOCS = ROOT / "docs"


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
        default = field.get_default(call_default_factory=True, validated_data={})
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


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {name} -->\n).*?(<!-- /generated: {name} -->)", re.S)


def openapi_document() -> str:
    from service.api.app import create_app

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[Path, str]:
    """Every generated file's new text: the pages with their blocks filled in, and the OpenAPI document."""
    pages = {path: path.read_text() for path in sorted(DOCS.glob("*.md"))}
    for name, build in BLOCKS.items():
        found = [(path, match) for path, text in pages.items() if (match := block_pattern(name).search(text))]
        if len(found) != 1:
            raise SystemExit(f"block `{name}` must be in exactly one page of docs/, found {len(found)}")
        page, match = found[0]
        pages[page] = pages[page][: match.end(1)] + build() + "\n" + pages[page][match.start(2) :]
    pages[DOCS / "openapi.json"] = openapi_document()
    return pages


def main() -> int:
    stale = []
    for path, text in rendered().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if "--check" not in sys.argv:
                path.write_text(text)
    if stale and "--check" in sys.argv:
        names = ", ".join(str(path.relative_to(ROOT)) for path in stale)
        print(f"out of date: {names}; run `python -m docs.gen_pages`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
