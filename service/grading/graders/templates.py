"""`{{ item.field }}` and `{{ sample.output_json.x }}` in grader strings, rendered by Jinja2's sandbox.

The sandboxed environment refuses attribute tricks (`__class__`, `mro`) and `StrictUndefined` makes
a missing field an error the engine turns into OpenAI's `invalid_variable_error` (or
`sample_parse_error` when the template reads `output_json` of a sample that is not JSON), never a
silent empty string. Objects and lists render as JSON, as they would in OpenAI's templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment


class TemplateVariableError(ValueError):
    """The template names a variable the item or sample does not have."""


class SampleParseError(ValueError):
    """The template reads `sample.output_json` but the sample is not JSON."""


class TemplateSyntaxProblem(ValueError):
    """The template itself does not parse."""


def _finalize(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


_ENVIRONMENT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_finalize)


# OpenAI's templates only look values up: `{{ item.a.b }}`, `{{ sample.output_tools[0]["name"] }}`.
# Anything else (statements, arithmetic, calls) is refused before Jinja sees it, so a template can
# neither compute for hours (`{{ 7**10**9 }}`) nor build a huge string.
_PATH = re.compile(
    r"""\s*[A-Za-z_]\w*(?:\s*(?:\.\s*[A-Za-z_]\w*|\[\s*(?:\d+|'[^'\\]*'|"[^"\\]*")\s*\]))*\s*"""
)
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
MAX_TEMPLATE_CHARS = 100_000


def _check_lookups_only(source: str) -> None:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateSyntaxProblem(f"a template is limited to {MAX_TEMPLATE_CHARS} characters")
    if "{%" in source or "{#" in source:
        raise TemplateSyntaxProblem(f"template {source[:80]!r}: only `{{{{ path }}}}` lookups are supported")
    for expression in _EXPRESSION.findall(source):
        if not _PATH.fullmatch(expression):
            raise TemplateSyntaxProblem(
                f"template {source[:80]!r}: {{{{{expression[:60]}}}}} is not a lookup such as "
                "`{{ item.answer }}` or `{{ sample.output_tools[0].function.name }}`"
            )


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    _check_lookups_only(source)
    try:
        return _ENVIRONMENT.from_string(source)
    except (TemplateError, RecursionError, MemoryError) as exc:
        raise TemplateSyntaxProblem(f"template {source[:80]!r} does not parse: {exc}") from None


def check_template(source: str) -> None:
    """Raise `TemplateSyntaxProblem` if `source` is not a valid template."""
    _compiled(source)


def render(source: str, namespace: Mapping[str, Any]) -> str:
    """`source` with `{{ ... }}` filled from `namespace` (`item`, `sample`)."""
    if "{" not in source:
        return source
    try:
        return _compiled(source).render(**namespace)
    except UndefinedError as exc:
        sample = namespace.get("sample") or {}
        if "output_json" in source and sample.get("output_json") is None:
            raise SampleParseError(
                f"{source[:80]!r} reads sample.output_json, but the sample is not JSON"
            ) from None
        raise TemplateVariableError(f"{source[:80]!r}: {exc.message}") from None
    except (TemplateError, LookupError, TypeError, RecursionError) as exc:  # e.g. a sandbox refusal
        raise TemplateVariableError(f"{source[:80]!r}: {type(exc).__name__}: {exc}") from None
