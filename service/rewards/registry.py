"""The registry: reward name -> `Reward`, and profile name -> `Profile`.

Adding a reward is one function in its own module plus one line here.
"""

from __future__ import annotations

from service.rewards.base import Profile, Registry, Reward
from service.rewards.code import TEST_FIELDS, CodeParams, code_reward
from service.rewards.cot_rm import CotRmParams, cot_rm_reward
from service.rewards.format import FormatParams, TagsParams, format_reward, tags_reward
from service.rewards.instructions import IFEvalOldParams, IFEvalParams, ifeval_old_reward, ifeval_reward
from service.rewards.judges import JudgeParams, RubricParams, judge_reward, rubric_reward
from service.rewards.language import LanguageParams, language_reward
from service.rewards.length import LengthParams, OverlongParams, length_reward, overlong_reward
from service.rewards.math import MathParams, math_reward
from service.rewards.openai_grader import OpenAIGraderParams, openai_grader_reward
from service.rewards.procedural import ReasoningGymParams, reasoning_gym_reward
from service.rewards.repetition import RepetitionParams, repetition_reward
from service.rewards.trajectory import (
    ActionFormatParams,
    EfficiencyParams,
    FinalAnswerParams,
    StateCheckParams,
    ToolCallsMatchParams,
    ToolCallValidityParams,
    action_format_reward,
    efficiency_reward,
    env_outcome_reward,
    final_answer_reward,
    state_check_reward,
    tool_call_validity_reward,
    tool_calls_match_reward,
)
from service.runtime.resources import MATH_WARMUP

JUDGE_HINT = (
    "start the server with a served judge: `referee serve --judge-url http://HOST:8000/v1 "
    "--judge-model NAME` (or REFEREE_JUDGE_URLS)"
)

REWARDS: dict[str, Reward] = {
    "math": Reward(
        math_reward,
        MathParams,
        requires=("answer",),
        resources=("math_pool",),
        uses=("judge",),
        warmup=(MATH_WARMUP,),
    ),
    "format": Reward(format_reward, FormatParams),
    "tags": Reward(tags_reward, TagsParams),
    "language": Reward(language_reward, LanguageParams),
    "length": Reward(length_reward, LengthParams, group_reward=True, depends_on=lambda p: (p.correct_from,)),
    "overlong": Reward(overlong_reward, OverlongParams),
    "repetition": Reward(repetition_reward, RepetitionParams),
    "code": Reward(code_reward, CodeParams, requires_one_of=TEST_FIELDS, resources=("sandboxes",)),
    "cot_rm": Reward(
        cot_rm_reward,
        CotRmParams,
        requires=("prompt", "answer"),
        resources=("verifier",),
        unavailable_hint="start the server with a verifier model: `referee serve --rm-model PATH_OR_NAME` "
        "(or REFEREE_RM_MODEL), or a served judge: `--judge-url http://HOST:8000/v1`",
    ),
    "openai_grader": Reward(openai_grader_reward, OpenAIGraderParams, uses=("sandboxes", "verifier")),
    "ifeval": Reward(ifeval_reward, IFEvalParams),
    "ifeval_old": Reward(ifeval_old_reward, IFEvalOldParams),
    "reasoning_gym": Reward(
        reasoning_gym_reward,
        ReasoningGymParams,
        requires=("metadata",),
        resources=("math_pool",),
        warmup=("service.grading.procedural_warmup",),
    ),
    # a served judge model (--judge-url)
    "rubric": Reward(
        rubric_reward, RubricParams, requires=("rubric",), resources=("judge",), unavailable_hint=JUDGE_HINT
    ),
    "judge": Reward(
        judge_reward, JudgeParams, requires=("answer",), resources=("judge",), unavailable_hint=JUDGE_HINT
    ),
    # agent trajectories (completion = chat messages with tool calls)
    "tool_call_validity": Reward(tool_call_validity_reward, ToolCallValidityParams, requires=("tools",)),
    "action_format": Reward(action_format_reward, ActionFormatParams),
    "final_answer": Reward(
        final_answer_reward,
        FinalAnswerParams,
        requires=("answer",),
        resources=("math_pool",),
        warmup=(MATH_WARMUP,),
    ),
    "tool_calls_match": Reward(tool_calls_match_reward, ToolCallsMatchParams, requires=("expected_calls",)),
    "state_check": Reward(state_check_reward, StateCheckParams, requires=("expected_state",)),
    "env_outcome": Reward(env_outcome_reward),
    "efficiency": Reward(
        efficiency_reward, EfficiencyParams, depends_on=lambda p: (p.gate,) if p.gate else ()
    ),
}

PROFILES: dict[str, Profile] = {
    # open-r1 code: fraction of tests passed, plus the reasoning format.
    "r1-code": Profile({"code": 1.0, "format": 1.0}),
    # DeepSeek-R1-Zero / open-r1: accuracy + format, summed.
    "r1-math": Profile({"math": 1.0, "format": 1.0}),
    # DeepSeek-R1: adds language consistency of the chain of thought.
    "r1-math-language": Profile({"math": 1.0, "format": 1.0, "language": 1.0}),
    # Kimi k1.5: accuracy + length penalty at a constant weight (after a warm-up without it).
    "kimi-math": Profile({"math": 1.0, "length": 1.0}),
    # DAPO: accuracy + soft overlong punishment with the paper's L_max = 20480, L_cache = 4096.
    "dapo-math": Profile(
        {"math": 1.0, "overlong": 1.0}, {"overlong": {"max_length": 20480, "cache_length": 4096}}
    ),
    # Tülu 3 / OLMo RLVR instruction following: open-instruct's verification reward is 10.
    "tulu3-if": Profile({"ifeval": 10.0}),
    # Rubrics as Rewards: the judge's verdicts on the item's weighted criteria (explicit aggregation).
    "rar": Profile({"rubric": 1.0}),
    # theLMbook "GRPO from scratch": 2.0 for a correct answer, 0.2 per reasoning/answer tag (4 tags).
    # Tool use: the right final answer first, valid calls and few turns as small bonuses.
    "tool-use": Profile({"final_answer": 1.0, "tool_call_validity": 0.2, "efficiency": 0.1}),
    # OpenManus-RL / verl-agent: the environment's verdict, minus 0.1 per turn that breaks the
    # <think>…</think><action>…</action> layout (their invalid_action_penalty_coef = 0.1).
    "openmanus": Profile(
        {"env_outcome": 1.0, "action_format": 0.1}, {"action_format": {"aggregate": "penalty"}}
    ),
    "gsm8k-lmbook": Profile(
        {"math": 2.0, "tags": 0.8}, {"tags": {"think_tag": "reasoning", "answer_tag": "answer"}}
    ),
}

DEFAULT_REGISTRY = Registry(REWARDS, PROFILES)
