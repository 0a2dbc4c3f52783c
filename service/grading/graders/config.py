"""The grader JSON, as OpenAI's fine-tuning API defines it: six grader types told apart by `type`.

Unknown keys are refused (a typo in a config should not silently change a reward). The models check
the shape; `problems` adds what only `validate` refuses (a formula or python source that does not
parse), because `run` reports those as OpenAI's error flags instead.
"""

from __future__ import annotations

import ast
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.grading.graders.formula import FormulaError, compile_formula
from service.grading.graders.templates import TemplateSyntaxProblem, check_template

MAX_PYTHON_SOURCE_BYTES = 256 * 1024
"""OpenAI's limit on a python grader's source."""

SimilarityMetric = Literal[
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
]


class _Grader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="Shown in the result's metadata.")


class StringCheckGrader(_Grader):
    """`eq`, `ne`, `like` (substring, case-sensitive) or `ilike` (substring, any case): 1.0 or 0.0."""

    type: Literal["string_check"]
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


class TextSimilarityGrader(_Grader):
    """A similarity in 0..1 between the rendered `input` and `reference`."""

    type: Literal["text_similarity"]
    input: str
    reference: str
    evaluation_metric: SimilarityMetric
    pass_threshold: float | None = Field(
        None, description="Evals' form: the result's scores say whether the similarity reaches it."
    )


class PythonGrader(_Grader):
    """`grade(sample, item) -> float`, run in the sandbox with OpenAI's limits."""

    type: Literal["python"]
    source: str
    image_tag: str | None = Field(None, description="Accepted for compatibility; the sandbox has one image.")

    @field_validator("source")
    @classmethod
    def _size(cls, source: str) -> str:
        size = len(source.encode())
        if size > MAX_PYTHON_SOURCE_BYTES:
            raise ValueError(f"source is {size} bytes; the limit is {MAX_PYTHON_SOURCE_BYTES}")
        return source


class InputText(BaseModel):
    """A text content part (`input_text` or `output_text`); may hold templates."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["input_text", "output_text"]
    text: str


class InputMessage(BaseModel):
    """One message of a model grader's prompt."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system", "developer"]
    content: str | InputText | list[str | InputText] = Field(
        ..., description="Text, or text parts. Image and audio parts need a multimodal grader model."
    )
    type: Literal["message"] | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_only(cls, content: Any) -> Any:
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            if isinstance(part, dict) and part.get("type") in ("input_image", "input_audio"):
                raise ValueError(f"{part['type']} content is not supported: the grader model reads text")
        return content

    @property
    def texts(self) -> list[str]:
        parts = self.content if isinstance(self.content, list) else [self.content]
        return [p if isinstance(p, str) else p.text for p in parts]


class SamplingParams(BaseModel):
    """Accepted as OpenAI has them. A served judge (`--judge-url`) honours `max_completions_tokens` and
    `temperature`; a local verifier, shared by every request's batches, decodes greedily up to the
    server's `rm_max_new_tokens`."""

    model_config = ConfigDict(extra="allow")

    max_completions_tokens: int | None = Field(None, ge=1)
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    reasoning_effort: str | None = None


class _ModelGrader(_Grader):
    input: list[InputMessage] = Field(..., min_length=1)
    model: str = Field(..., description="Recorded; the server's configured verifier model answers.")
    sampling_params: SamplingParams | None = None


class ScoreModelGrader(_ModelGrader):
    """The grader model answers `{"result": <number>, "steps": [...]}`; the result, clamped to `range`."""

    type: Literal["score_model"]
    range: list[float] = Field(default_factory=lambda: [0.0, 1.0], min_length=2, max_length=2)

    @field_validator("range")
    @classmethod
    def _ordered(cls, bounds: list[float]) -> list[float]:
        if not bounds[0] < bounds[1]:
            raise ValueError("range must be [low, high] with low < high")
        return bounds


class LabelModelGrader(_ModelGrader):
    """The grader model picks one of `labels`; 1.0 when it is one of `passing_labels`."""

    type: Literal["label_model"]
    labels: list[str] = Field(..., min_length=2)
    passing_labels: list[str] = Field(..., min_length=1)

    @model_validator(mode="after")
    def _passing_are_labels(self) -> LabelModelGrader:
        unknown = [label for label in self.passing_labels if label not in self.labels]
        if unknown:
            raise ValueError(f"passing_labels {unknown} are not in labels {self.labels}")
        return self


ModelGrader = ScoreModelGrader | LabelModelGrader
SingleGrader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | LabelModelGrader,
    Field(discriminator="type"),
]


class MultiGrader(_Grader):
    """Named sub-graders combined by `calculate_output`, a formula over their names (no nesting)."""

    type: Literal["multi"]
    graders: dict[str, SingleGrader] = Field(..., min_length=1)
    calculate_output: str

    @field_validator("graders", mode="before")
    @classmethod
    def _no_nesting(cls, graders: Any) -> Any:
        if isinstance(graders, dict):
            for key, grader in graders.items():
                if isinstance(grader, dict) and grader.get("type") == "multi":
                    raise ValueError(f"grader {key!r}: a multi grader cannot contain another multi grader")
        return graders


AnyGrader = StringCheckGrader | TextSimilarityGrader | PythonGrader | ModelGrader | MultiGrader
Grader = Annotated[AnyGrader, Field(discriminator="type")]


def problems(grader: AnyGrader) -> list[tuple[tuple[str, ...], str]]:
    """What `validate` refuses beyond the JSON shape, as (location inside the grader, message)."""
    found: list[tuple[tuple[str, ...], str]] = []
    for loc, text in _templates(grader):
        try:
            check_template(text)
        except TemplateSyntaxProblem as exc:
            found.append((loc, str(exc)))
    if isinstance(grader, MultiGrader):
        try:
            compile_formula(grader.calculate_output, set(grader.graders))
        except FormulaError as exc:
            found.append((("calculate_output",), str(exc)))
        for key, sub in grader.graders.items():
            found += [(("graders", key, *loc), message) for loc, message in problems(sub)]
    elif isinstance(grader, PythonGrader):
        try:
            tree = ast.parse(grader.source)
        except SyntaxError as exc:
            return [(("source",), f"source does not parse: line {exc.lineno}: {exc.msg}")]
        except (MemoryError, RecursionError, ValueError) as exc:
            return [(("source",), f"source does not parse: {type(exc).__name__}")]
        if "grade" not in _top_level_names(tree):
            found.append((("source",), "source must define `grade(sample, item)` at top level"))
    return found


def _templates(grader: AnyGrader) -> list[tuple[tuple[str, ...], str]]:
    """The grader's template strings with their locations."""
    if isinstance(grader, StringCheckGrader | TextSimilarityGrader):
        return [(("input",), grader.input), (("reference",), grader.reference)]
    if isinstance(grader, ScoreModelGrader | LabelModelGrader):
        return [
            (("input", str(index), "content"), text)
            for index, message in enumerate(grader.input)
            for text in message.texts
        ]
    return []


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module binds at top level: functions, classes, assignments and imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return names
