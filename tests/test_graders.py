"""OpenAI-compatible graders: the metrics and formulas by hand, every error flag, the official `openai`
client against a live Referee, and `openai_grader` through `/v1/rewards`.

The configs re-create the examples of OpenAI's graders guide (a fuzzy-match python grader, a
name/email multi grader, a tool-call check)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import TypeAdapter

from rm_models.verdicts import Completion
from service.grading.graders.config import Grader, problems
from service.grading.graders.engine import Backends, grade_batch, sample_namespace
from service.grading.graders.formula import FormulaError, compile_formula
from service.grading.graders.outcome import DETAIL_FIELDS, FLAGS
from service.grading.graders.similarity import similarity
from service.grading.graders.templates import check_template
from service.runtime.resources import Resources
from service.runtime.sandbox_pool import SandboxPool
from tests.server_utils import running_server

GRADER = TypeAdapter(Grader)

FUZZY_PYTHON = """from rapidfuzz import fuzz, utils

def grade(sample, item) -> float:
    output_text = sample["output_text"]
    reference_answer = item["reference_answer"]
    return fuzz.WRatio(output_text, reference_answer, processor=utils.default_process) / 100.0
"""
NAME_EMAIL_MULTI = {
    "type": "multi",
    "name": "name_email",
    "graders": {
        "name": {
            "type": "text_similarity",
            "name": "name_grader",
            "input": "{{sample.output_json.name}}",
            "reference": "{{item.name}}",
            "evaluation_metric": "fuzzy_match",
            "pass_threshold": 0.9,
        },
        "email": {
            "type": "string_check",
            "name": "email_grader",
            "input": "{{sample.output_json.email}}",
            "reference": "{{item.email}}",
            "operation": "eq",
        },
    },
    "calculate_output": "(name + email) / 2",
}
TOOL_CALL_CHECK = {
    "type": "string_check",
    "name": "tool_name",
    "input": "{{ sample.output_tools[0].function.name }}",
    "reference": "get_weather",
    "operation": "eq",
}
SCORE_MODEL = {
    "type": "score_model",
    "name": "judge",
    "model": "o4-mini",
    "input": [
        {"role": "system", "content": "Grade the answer from 0 to 1."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Reference: {{item.answer}}"},
                "{{sample.output_text}}",
            ],
        },
    ],
}
LABEL_MODEL = {
    "type": "label_model",
    "name": "tone",
    "model": "gpt-4o",
    "input": [{"role": "user", "content": "Is this polite? {{sample.output_text}}"}],
    "labels": ["polite", "rude"],
    "passing_labels": ["polite"],
}


class StubJudge:
    """A grader model whose answer is read from the sample: `judge:<answer>` answers `<answer>`."""

    def __init__(self) -> None:
        self.chats: list[list[dict[str, str]]] = []

    def complete(self, chats: list[list[dict[str, str]]], options: object = None) -> list[Completion]:
        self.chats += chats
        answers = []
        for chat in chats:
            text = "\n".join(m["content"] for m in chat)
            answer = text.split("judge:", 1)[1].split("\n")[0] if "judge:" in text else "{}"
            if answer == "crash":
                answers.append(Completion("", 10, 0, "CUDA out of memory"))
            else:
                answers.append(Completion(answer, 10, 5))
        return answers

    def describe(self) -> dict[str, Any]:
        return {"model": "stub-judge"}

    def score(self, judgements: list[Any]) -> list[Any]:
        raise AssertionError("graders never ask for verdicts")

    def close(self) -> None:
        pass


def grade(config: dict[str, Any], output: str, item: dict[str, Any] | None = None, **backends: Any) -> Any:
    namespace = {"item": item or {}, "sample": sample_namespace(output)}
    return grade_batch(GRADER.validate_python(config), [namespace], Backends(**backends))[0]


# --- metrics, by hand -------------------------------------------------------------------------------

HYP, REF = "the cat sat on the mat", "the cat sat on a mat"


def test_similarity_metrics_match_hand_computed_values() -> None:
    # Clipped n-gram precisions 5/6, 3/5, 2/4, 1/3, same length (no brevity penalty).
    assert similarity("bleu", HYP, REF) == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    # GLEU: min(precision, recall) over all 1..4-grams: 11 matches of 18 on both sides.
    assert similarity("gleu", HYP, REF) == pytest.approx(11 / 18)
    assert similarity("rouge_1", HYP, REF) == pytest.approx(5 / 6)
    assert similarity("rouge_2", HYP, REF) == pytest.approx(3 / 5)
    assert similarity("rouge_l", HYP, REF) == pytest.approx(5 / 6)  # LCS "the cat sat on mat"
    assert similarity("rouge_5", HYP, REF) == pytest.approx(0.0)
    # rapidfuzz ratio: 2 * 3 matches / 8 characters.
    assert similarity("fuzzy_match", "abcd", "abce") == pytest.approx(0.75)
    # METEOR without WordNet: stems match (running/run, dogs/dog); one chunk of 2 matches.
    assert similarity("meteor", "running dogs", "run dog") == pytest.approx(1 - 0.5 * (1 / 2) ** 3)
    for metric in ("bleu", "gleu", "meteor", "rouge_1", "rouge_l", "fuzzy_match"):
        assert similarity(metric, REF, REF) == pytest.approx(1.0, abs=0.01), metric
        assert similarity(metric, "", REF) == 0.0, metric


def test_non_latin_text_does_not_score_zero() -> None:
    assert similarity("rouge_1", "我爱北京", "我爱上海") == pytest.approx(0.5)  # CJK: one character a word
    assert similarity("rouge_1", "привет мир", "привет друг") == pytest.approx(0.5)
    assert similarity("bleu", "Größe 10 Meter", "Größe 10 Meter") == pytest.approx(1.0)


def test_formula_evaluator_is_arithmetic_only() -> None:
    formula = compile_formula("(a + b) / 2 + max(a, b) ^ 2 - sqrt(4) * floor(1.5)", {"a", "b"})
    assert formula.evaluate({"a": 1.0, "b": 0.0}) == pytest.approx(0.5 + 1 - 2)  # `^` binds tighter than +
    assert compile_formula("-a^2 + 2^3^2", {"a"}).evaluate({"a": 3.0}) == pytest.approx(-9 + 512)
    assert compile_formula("log(exp(a)) + abs(-b) + ceil(0.2) + min(a, b)", {"a", "b"}).evaluate(
        {"a": 2.0, "b": 3.0}
    ) == pytest.approx(2 + 3 + 1 + 2)
    for hostile in ("__import__('os').system('id')", "a.__class__", "[a]", "a if b else 1", "'x'", "a < b"):
        with pytest.raises(FormulaError):
            compile_formula(hostile, {"a", "b"})
    with pytest.raises(FormulaError) as unknown:
        compile_formula("a + c", {"a", "b"})
    assert unknown.value.unknown_names == ("c",)
    with pytest.raises(FormulaError):
        compile_formula("(a +", {"a"})
    with pytest.raises(OverflowError):  # at once, not after building a 370-million-digit integer
        compile_formula("9^9^9", set()).evaluate({})
    with pytest.raises(ZeroDivisionError):
        compile_formula("a / b", {"a", "b"}).evaluate({"a": 1.0, "b": 0.0})


# --- graders ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "output", "expected"),
    [("eq", "Paris", 1.0), ("eq", "paris", 0.0), ("ne", "Lyon", 1.0), ("like", "It is Paris.", 1.0),
     ("like", "it is paris.", 0.0), ("ilike", "IT IS PARIS", 1.0), ("ilike", "Rome", 0.0)],
)  # fmt: skip
def test_string_check(operation: str, output: str, expected: float) -> None:
    config = {"type": "string_check", "name": "s", "input": "{{ sample.output_text }}",
              "reference": "{{ item.answer }}", "operation": operation}  # fmt: skip
    assert grade(config, output, {"answer": "Paris"}).reward == expected


def test_name_email_multi_from_the_guide() -> None:
    item = {"name": "John Smith", "email": "john@example.com"}
    right = grade(NAME_EMAIL_MULTI, json.dumps({"name": "john smith", "email": "john@example.com"}), item)
    assert right.reward == 1.0 and right.sub_rewards == {"name": 1.0, "email": 1.0}
    half = grade(NAME_EMAIL_MULTI, json.dumps({"name": "John Smith", "email": "jon@example.com"}), item)
    assert half.reward == 0.5 and half.sub_rewards["email"] == 0.0


def test_templates_render_json_and_sandbox_attribute_access() -> None:
    config = {"type": "string_check", "name": "s", "input": "{{ sample.output_json.tags }}",
              "reference": '["a", "b"]', "operation": "eq"}  # fmt: skip
    assert grade(config, '{"tags": ["a", "b"]}').reward == 1.0
    escape = {**config, "input": "{{ item.__class__.__mro__ }}", "reference": "x"}
    result = grade(escape, "{}", {"x": 1})
    assert result.reward == 0.0 and "invalid_variable_error" in result.flags


def test_every_error_flag(tmp_path: Path) -> None:
    """Each of OpenAI's flags, raised by the case that means it."""
    pool = SandboxPool("local", 2)
    sandbox = {"sandbox": pool.get}
    judge = {"completer": StubJudge()}
    multi = {**NAME_EMAIL_MULTI}
    cases: dict[str, Any] = {
        "formula_parse_error": grade({**multi, "calculate_output": "(name +"}, "{}"),
        "invalid_variable_error": grade({**TOOL_CALL_CHECK, "input": "{{ item.missing }}"}, "x"),
        "model_grader_parse_error": grade(SCORE_MODEL, "judge:the answer is fine", {"answer": "1"}, **judge),
        "model_grader_refusal_error": grade(LABEL_MODEL, "judge:I'm sorry, I can't help with that.", **judge),
        "model_grader_server_error": grade(SCORE_MODEL, "judge:crash", {"answer": "1"}, **judge),
        "other_error": grade(
            {
                "type": "text_similarity",
                "name": "c",
                "input": "a",
                "reference": "b",
                "evaluation_metric": "cosine",
            },
            "x",
        ),
        "python_grader_runtime_error": grade(
            {"type": "python", "name": "p", "source": "def grade(sample, item):\n    return 1 / 0\n"},
            "x",
            **sandbox,
        ),
        "python_grader_server_error": grade(
            {"type": "python", "name": "p", "source": "def grade(s, i):\n    return 1.0\n"}, "x"
        ),
        "sample_parse_error": grade(multi, "not json", {"name": "a", "email": "b"}),
        "truncated_observation_error": grade(
            {
                "type": "python",
                "name": "p",
                "source": "def grade(s, i):\n    print('x' * 3_000_000)\n    return 1.0\n",
            },
            "x",
            **sandbox,
        ),
        "unresponsive_reward_error": grade(
            {"type": "python", "name": "p", "source": "import time\ndef grade(s, i):\n    time.sleep(30)\n"},
            "x",
            python_time_limit_s=1.0,
            **sandbox,
        ),
    }
    pool.close()
    assert set(cases) == set(FLAGS)
    for flag, result in cases.items():
        assert result.reward == 0.0, flag
        assert list(result.flags) == [flag], (flag, result.flags)
        errors = result.error_flags()
        assert [name for name in FLAGS if errors[name]] == [flag]
    assert (
        "ZeroDivisionError"
        in cases["python_grader_runtime_error"].error_flags()["python_grader_runtime_error_details"]
    )
    assert (
        cases["model_grader_server_error"].error_flags()["model_grader_server_error_details"]
        == "CUDA out of memory"
    )
    assert (
        cases["python_grader_server_error"].error_flags()["python_grader_server_error_type"]
        == "sandbox_unavailable"
    )


def test_python_grader_from_the_guide_runs_in_the_sandbox() -> None:
    pool = SandboxPool("local", 2)
    config = {"type": "python", "name": "fuzzy", "source": FUZZY_PYTHON}
    item = {"reference_answer": "fuzzy wuzzy had no hair"}
    try:
        outputs = ("fuzzy wuzzy had no hair", "Fuzzy Wuzzy had no hair!", "fuzzy wuzzy was a bear", "")
        namespaces = [{"item": item, "sample": sample_namespace(t)} for t in outputs]
        results = grade_batch(GRADER.validate_python(config), namespaces, Backends(sandbox=pool.get))
        isolated = grade(
            {"type": "python", "name": "net", "source": "import socket\ndef grade(s, i):\n"
             "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    return 1.0\n"},
            "x", sandbox=pool.get,
        )  # fmt: skip
    finally:
        pool.close()
    assert [r.flags for r in results] == [{}] * 4, results[0].flags
    assert [r.reward for r in results][:2] == [1.0, 1.0]
    assert 0.5 < results[2].reward < 1.0 and results[3].reward == 0.0
    assert "python_grader_runtime_error" in isolated.flags  # no network in the sandbox


def test_model_graders_parse_clamp_and_label() -> None:
    judge = StubJudge()
    scored = grade(
        {**SCORE_MODEL, "range": [0, 10]},
        'judge:{"steps": [{"description": "d", "conclusion": "c"}], "result": 12}',
        {"answer": "42"},
        completer=judge,
    )
    assert scored.reward == 10.0 and scored.scores["steps"][0]["conclusion"] == "c"
    assert scored.usage == {"stub-judge": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    rendered = judge.chats[-1]
    assert rendered[1]["content"].startswith("Reference: 42judge:") and rendered[-1]["role"] == "user"
    assert grade(LABEL_MODEL, 'judge:{"result": "polite"}', completer=judge).reward == 1.0
    assert grade(LABEL_MODEL, "judge:This reply is rude.", completer=judge).scores["label"] == "rude"
    assert grade(LABEL_MODEL, "judge:rude at first, polite in the end", completer=judge).reward == 1.0
    unconfigured = grade(LABEL_MODEL, "x")
    assert "--rm-model" in unconfigured.flags["model_grader_server_error"]


def test_validate_problems_locate_the_field() -> None:
    bad_formula = GRADER.validate_python({**NAME_EMAIL_MULTI, "calculate_output": "name + phone"})
    assert problems(bad_formula) == [
        (("calculate_output",), "the formula uses phone, which name no grader (graders: email, name)")
    ]
    no_grade = GRADER.validate_python(
        {"type": "python", "name": "p", "source": "def score(s, i):\n    return 1\n"}
    )
    assert problems(no_grade)[0][0] == ("source",)
    bad_template = GRADER.validate_python({**TOOL_CALL_CHECK, "input": "{{ sample.output_text "})
    assert problems(bad_template)[0][0] == ("input",)


# --- the official client against a live server ------------------------------------------------------


@pytest.fixture(scope="module")
def judge_server() -> Iterator[str]:
    """A server with a sandbox and a stub grader model."""
    resources = Resources(sandboxes=SandboxPool("local", 2), verifier=StubJudge())
    with running_server(resources) as url:
        yield url
    resources.close()


@pytest.fixture()
def client(judge_server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{judge_server}/v1", api_key="unused", max_retries=0)


def test_official_client_runs_every_grader_type(client: openai.OpenAI) -> None:
    item = {
        "name": "John Smith",
        "email": "john@example.com",
        "reference_answer": "fuzzy wuzzy",
        "answer": "4",
    }
    runs = {
        "string_check": (TOOL_CALL_CHECK | {"input": "{{ sample.output_text }}"}, "get_weather", 1.0),
        "text_similarity": (NAME_EMAIL_MULTI["graders"]["name"], '{"name": "John Smith"}', 1.0),
        "python": ({"type": "python", "name": "fuzzy", "source": FUZZY_PYTHON}, "fuzzy wuzzy", 1.0),
        "score_model": (SCORE_MODEL, 'judge:{"result": 0.75, "steps": []}', 0.75),
        "label_model": (LABEL_MODEL, 'judge:{"result": "rude"}', 0.0),
        "multi": (NAME_EMAIL_MULTI, json.dumps({"name": "John Smith", "email": "x@example.com"}), 0.5),
    }
    for kind, (config, sample, expected) in runs.items():
        response = client.fine_tuning.alpha.graders.run(grader=config, model_sample=sample, item=item)
        assert response.reward == pytest.approx(expected), kind
        assert response.metadata.type == kind and response.metadata.name == config["name"]
        assert not any(v for k, v in response.metadata.errors.model_dump().items() if isinstance(v, bool)), (
            kind
        )
        validated = client.fine_tuning.alpha.graders.validate(grader=config)
        assert validated.grader is not None and validated.grader.type == kind
    multi = client.fine_tuning.alpha.graders.run(
        grader=NAME_EMAIL_MULTI,
        model_sample=json.dumps({"name": "John Smith", "email": "john@example.com"}),
        item=item,
    )
    assert multi.sub_rewards == {"name": 1.0, "email": 1.0} and multi.metadata.scores["name"] == 1.0
    judged = client.fine_tuning.alpha.graders.run(
        grader=SCORE_MODEL, model_sample='judge:{"result": 1}', item=item
    )
    assert judged.metadata.sampled_model_name == "stub-judge" and judged.metadata.token_usage == 15
    assert judged.model_grader_token_usage_per_model["stub-judge"]["total_tokens"] == 15


def test_official_client_sees_error_flags_and_4xx(client: openai.OpenAI) -> None:
    failed = client.fine_tuning.alpha.graders.run(
        grader={
            "type": "python",
            "name": "p",
            "source": "def grade(s, i):\n    raise ValueError('bad item')\n",
        },
        model_sample="x",
    )
    assert failed.reward == 0.0 and failed.metadata.errors.python_grader_runtime_error
    assert "ValueError: bad item" in (failed.metadata.errors.python_grader_runtime_error_details or "")
    with pytest.raises(openai.UnprocessableEntityError) as bad_operation:
        client.fine_tuning.alpha.graders.validate(grader={**TOOL_CALL_CHECK, "operation": "startswith"})
    assert "operation" in json.dumps(bad_operation.value.body)
    with pytest.raises(openai.UnprocessableEntityError) as bad_formula:
        client.fine_tuning.alpha.graders.validate(grader={**NAME_EMAIL_MULTI, "calculate_output": "name +"})
    assert "calculate_output" in json.dumps(bad_formula.value.body)
    with pytest.raises(openai.UnprocessableEntityError):
        client.fine_tuning.alpha.graders.validate(
            grader={**NAME_EMAIL_MULTI, "graders": {"m": NAME_EMAIL_MULTI}}
        )


def test_model_graders_need_a_grader_model_to_validate() -> None:
    with running_server(Resources()) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.UnprocessableEntityError) as refused:
            client.fine_tuning.alpha.graders.validate(grader=LABEL_MODEL)
        assert "--rm-model" in json.dumps(refused.value.body)
        ran = client.fine_tuning.alpha.graders.run(grader=LABEL_MODEL, model_sample="x")
        assert ran.metadata.errors.model_grader_server_error


def test_error_flags_are_openais() -> None:
    from openai.types.fine_tuning.alpha.grader_run_response import MetadataErrors

    from service.api.schemas import GraderErrors

    theirs = {field.alias or name for name, field in MetadataErrors.model_fields.items()}
    assert theirs == set(GraderErrors.model_fields) == {*FLAGS, *DETAIL_FIELDS.values()}


# --- as a reward ------------------------------------------------------------------------------------


def test_openai_grader_reward_through_v1_rewards(judge_server: str) -> None:
    item = {"name": "John Smith", "email": "john@example.com"}
    right = '{"name": "John Smith", "email": "john@example.com"}'
    body = {
        "rewards": {"openai_grader": 1.0},
        "params": {"openai_grader": {"grader": NAME_EMAIL_MULTI}},
        "items": [
            {"completion": f'<think>{{"name": "x"}}</think>{right}', **item},
            {"completion": '{"name": "Jon Smith", "email": "nope"}', **item},
            {"completion": "not json", **item},
            {"completion": [{"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}],
             "grader": TOOL_CALL_CHECK},
            {"completion": "x", "grader": {**TOOL_CALL_CHECK, "operation": "startswith"}},
        ],
    }  # fmt: skip
    results = httpx.post(f"{judge_server}/v1/rewards", json=body, timeout=60).json()["results"]
    first, second, third, tools, bad = results
    assert first["scores"] == {"openai_grader": 1.0, "openai_grader/name": 1.0, "openai_grader/email": 1.0}
    assert second["scores"]["openai_grader/email"] == 0.0 and 0.4 < second["reward"] < 0.5
    assert third["scores"]["openai_grader"] is None
    assert third["errors"]["openai_grader"].startswith("grader_error: sample_parse_error")
    assert tools["scores"]["openai_grader"] == 1.0 and tools["scores"]["openai_grader/name"] is None
    assert (
        bad["scores"]["openai_grader"] is None
        and "item.grader.string_check.operation" in bad["errors"]["openai_grader"]
    )


def test_openai_grader_reward_needs_a_grader(judge_server: str) -> None:
    response = httpx.post(
        f"{judge_server}/v1/rewards",
        json={"rewards": {"openai_grader": 1.0}, "items": [{"completion": "x"}]},
        timeout=30,
    ).json()
    assert "no grader" in response["results"][0]["errors"]["openai_grader"]
    invalid = httpx.post(
        f"{judge_server}/v1/rewards",
        json={"rewards": {"openai_grader": 1.0}, "params": {"openai_grader": {"grader": {"type": "nope"}}},
              "items": [{"completion": "x"}]},
        timeout=30,
    )  # fmt: skip
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"][:4] == [
        "body",
        "params",
        "openai_grader",
        "grader",
    ]


def test_openai_grader_through_the_trl_adapter(judge_server: str) -> None:
    """A grader config as TRL reward functions: dataset columns become `item`."""
    from clients.trl import referee_reward_funcs

    funcs, weights = referee_reward_funcs(
        {"openai_grader": 1.0}, params={"openai_grader": {"grader": NAME_EMAIL_MULTI}}, base_url=judge_server
    )
    completions = [
        [{"role": "assistant", "content": '{"name": "Ada Lovelace", "email": "ada@example.com"}'}],
        [{"role": "assistant", "content": '{"name": "Ada", "email": "ada@example.com"}'}],
    ]
    values = funcs[0](
        prompts=[[{"role": "user", "content": "Who?"}]] * 2,
        completions=completions,
        name=["Ada Lovelace"] * 2,
        email=["ada@example.com"] * 2,
    )
    assert weights == [1.0] and values[0] == 1.0 and 0.5 < values[1] < 1.0


# --- hostile configs and model output ---------------------------------------------------------------


def test_templates_are_lookups_only() -> None:
    """No arithmetic, calls or statements: a template cannot compute for hours or build huge text."""
    for hostile in ("{{ 7**10**9 }}", "{{ 'a' * 10**10 }}", "{{ 1/0 }}", "{{ item.a + 1 }}",
                    "{% for i in range(10**6) %}{% for j in range(10**6) %}x{% endfor %}{% endfor %}",
                    "{{" + "(" * 3000 + "}}", "{{ item.keys() }}"):  # fmt: skip
        result = grade({**TOOL_CALL_CHECK, "input": hostile}, "x", {"a": 1})
        assert result.reward == 0.0 and list(result.flags) == ["other_error"], hostile
        with pytest.raises(ValueError):
            check_template(hostile)
    assert (
        grade({**TOOL_CALL_CHECK, "input": "{{ item['a'][0] }}", "reference": "7"}, "x", {"a": [7]}).reward
        == 1.0
    )


def test_hostile_formulas_and_sources_are_refused_not_crashed() -> None:
    for formula in ("-" * 100_000 + "name", "(" * 5000 + "name" + ")" * 5000):
        result = grade({**NAME_EMAIL_MULTI, "calculate_output": formula}, "{}")
        assert list(result.flags) == ["formula_parse_error"]
    deep = GRADER.validate_python({"type": "python", "name": "p", "source": "-" * 200_000 + "1"})
    assert problems(deep)[0][0] == ("source",)
    assigned = GRADER.validate_python({"type": "python", "name": "p", "source": "grade = lambda s, i: 1.0\n"})
    assert problems(assigned) == []


@pytest.mark.parametrize(
    "answer",
    ['{"result": 1' + "0" * 400 + "}", '{"result": ' + "[" * 100_000 + "]" * 100_000 + "}", '{"result": NaN}',
     '{"result": "high"}', '{"result": true}'],
    ids=["huge-int", "deep", "nan", "text", "bool"],
)  # fmt: skip
def test_hostile_grader_model_answers_are_parse_errors(answer: str) -> None:
    result = grade(SCORE_MODEL, f"judge:{answer}", {"answer": "1"}, completer=StubJudge())
    assert list(result.flags) == ["model_grader_parse_error"] and result.reward == 0.0


def test_grader_model_steps_are_flattened() -> None:
    deep = '{"steps": [' + '{"a": ' * 150 + "1" + "}" * 150 + ', "x", {"d": {"e": 1}}], "result": 1}'
    result = grade(SCORE_MODEL, f"judge:{deep}", {"answer": "1"}, completer=StubJudge())
    assert result.reward == 1.0 and result.scores["steps"][-1] == {"d": "{'e': 1}"}
    json.dumps(result.scores)  # serialisable: the run endpoint returns it


def test_python_grader_cannot_forge_or_break_its_result() -> None:
    pool = SandboxPool("local", 2)
    sources = {
        "patched_json": "import json\njson.dumps = lambda o: '[]'\ndef grade(s, i):\n    return 0.5\n",
        "prints_fake_result": "def grade(s, i):\n    print('{\"reward\": 1.0}')\n    return 0.25\n",
        "nan": "def grade(s, i):\n    return float('nan')\n",
    }
    try:
        results = {name: grade({"type": "python", "name": "p", "source": source}, "x", sandbox=pool.get)
                   for name, source in sources.items()}  # fmt: skip
    finally:
        pool.close()
    assert results["patched_json"].reward == 0.5 and not results["patched_json"].flags
    assert results["prints_fake_result"].reward == 0.25
    assert list(results["nan"].flags) == ["python_grader_runtime_error"]


def test_metrics_stay_fast_on_huge_texts() -> None:
    import time

    huge = " ".join(f"w{i % 700}" for i in range(300_000))
    started = time.perf_counter()
    for metric in ("fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_l"):
        assert 0.0 <= similarity(metric, huge, huge[::-1]) <= 1.0
    assert time.perf_counter() - started < 20
