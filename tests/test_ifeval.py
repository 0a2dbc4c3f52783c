"""`ifeval` / `ifeval_old`: a passing and a failing response for every instruction id and every old
function, composed constraints (hypothesis), strict/loose x fraction/all, and the three input forms
giving the same scores through `POST /v1/rewards`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.grading.instructions.checks import INSTRUCTIONS
from service.grading.instructions.ifeval import Instruction, check, loose_variants, parse_ground_truth
from service.grading.instructions.legacy import FUNCTIONS
from tests.server_utils import running_server

LESS, AT_LEAST = "less than", "at least"
# id -> (kwargs, a response that follows it, one that does not)
GOLDEN: dict[str, tuple[dict[str, Any], str, str]] = {
    "keywords:existence": ({"keywords": ["apple", "pie"]}, "An Apple pie.", "An apple tart."),
    "keywords:frequency": (
        {"keyword": "cat", "frequency": 2, "relation": AT_LEAST},
        "cat and Cat",
        "one cat",
    ),
    "keywords:forbidden_words": ({"forbidden_words": ["bad"]}, "a badge is fine", "that is Bad."),
    "keywords:letter_frequency": ({"letter": "z", "let_frequency": 2, "let_relation": LESS}, "Zoo", "Zazz"),
    "keywords:word_once": ({"keyword": "moon"}, "the moon rose", "moon, moon"),
    "keywords:word_count_different_numbers": (
        {"keyword": "sun", "frequency": 2, "relation": LESS},
        "one sun",
        "sun sun sun",
    ),
    "keywords:exclude_word_harder": ({"keyword": "red"}, "a bright-red car", "a red car"),
    "keywords:no_adjacent_consecutive": ({}, "apple zebra kiwi", "ant bee cat"),
    "keywords:palindrome": ({}, "wow that is level", "no such word here"),
    "keywords:keyword_specific_position": (
        {"keyword": "blue", "n": 2, "m": 3},
        "I like red. The sky blue is. End.",
        "I like red. The blue sky.",
    ),
    "keywords:start_end": ({}, "Hello world, I said hello", "Hello world."),
    "language:response_language": (
        {"language": "fr"},
        "Bonjour, je suis très content de vous voir aujourd'hui.",
        "Hello, I am very happy to see you today.",
    ),
    "change_case:capital_word_frequency": (
        {"capital_frequency": 2, "capital_relation": AT_LEAST},
        "NASA and ESA met",
        "Only NASA met",
    ),
    "change_case:english_capital": ({}, "THIS IS ALL IN CAPITAL LETTERS.", "THIS IS Not ALL CAPITALS."),
    "change_case:english_lowercase": (
        {},
        "this is all in lower case letters.",
        "This is not all lower case.",
    ),
    "length_constraints:number_sentences": (
        {"num_sentences": 3, "relation": LESS},
        "One. Two.",
        "One. Two. Three. Four.",
    ),
    "length_constraints:number_paragraphs": (
        {"num_paragraphs": 2},
        "first\n***\nsecond",
        "first\n***\n***\nsecond",
    ),
    "length_constraints:number_words": ({"num_words": 3, "relation": AT_LEAST}, "one two three", "one two"),
    "length_constraints:nth_paragraph_first_word": (  # an empty piece counts in the position (reference)
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
        'First part.\n\n"Then, the end.',
        "First part.\n\n\n\nThen the end.",
    ),
    "paragraphs:paragraphs": ({}, "a\n***\nb", "a\n***\nb\n***\nc"),
    "paragraphs:paragraphs2": ({}, "a\n\nb", "a\n\n\n\nb"),
    "count:lowercase_counting": ({"N": 2}, "Hello World again now", "hello world again"),
    "letters:letter_counting": ({"N": 5, "relation": LESS}, "abcd 123", "abcdef"),
    "letters:letter_counting2": ({"letter": "e", "let_frequency": 3, "let_relation": AT_LEAST}, "eEe", "ee"),
    "count:counting_composition": (
        {"n_sent": 1, "n_words": 2},
        "Hi there\n***\nGood day\n***\nSee you",
        "Hi there\n***\nGood day",
    ),
    "count:count_unique": ({}, "every word differs here", "the cat and the dog"),
    "count:count_increment_word": (
        {"keyword1": "one", "keyword2": "two"},
        "one plus two equals two",
        "one plus two",
    ),
    "detectable_content:number_placeholders": (
        {"num_placeholders": 2},
        "Dear [name] at [address]",
        "Dear [name]",
    ),
    "detectable_content:postscript": ({"postscript_marker": "P.S."}, "Body.\n\nP.S. bye", "Body only."),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2}, "* one\n- two", "* one\n* two\n* three"),
    "detectable_format:constrained_response": ({}, "My answer is yes.", "My answer is perhaps."),
    "detectable_format:number_highlighted_sections": (
        {"num_highlights": 2},
        "*a* and **b**",
        "*a* and **  **",
    ),
    "detectable_format:multiple_sections": (
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1 a\nSection 2 b",
        "Section 1 only",
    ),
    "detectable_format:json_format": ({}, '```json\n{"a": 1}\n```', "{a: 1}"),
    "detectable_format:title": ({}, "<<My Title>>\ntext", "<< >> text"),
    "detectable_format:sentence_hyphens": ({}, "I came.-I saw.-I won.", "I came. - I saw."),
    "detectable_format:square_brackets": ({}, "[every] [word] [wrapped]", "[every] word"),
    "detectable_format:bigram_wrapping": ({}, "<<a b>> <<c d>>", "<<a b>> c d"),
    "combination:two_responses": ({}, "first answer\n******\nsecond answer", "same\n******\nsame"),
    "combination:repeat_prompt": ({"prompt_to_repeat": "Say hi"}, "say hi! Hi there.", "Hi there, say hi"),
    "punctuation:no_comma": ({}, "no commas here", "a, b"),
    "punctuation:punctuation_dot": ({}, "no dots here", "a dot."),
    "punctuation:punctuation_exclamation": ({}, "calm words", "wow!"),
    "startend:end_checker": (
        {"end_phrase": "Is there anything else?"},
        'Done. "is there anything else?"',
        "Done.",
    ),
    "startend:quotation": ({}, '"quoted answer"', '"half quoted'),
    "first_word:first_word_sent": (
        {"first_word": "so"},
        "So it begins. so it ends.",
        "So it begins. Then it ends.",
    ),
    "first_word:first_word_answer": ({"first_word": "yes"}, "Yes indeed", "Indeed yes"),
    "last_word:last_word_sent": ({"last_word": "now"}, "Go now. Stop now!", "Go now. Stop later."),
    "last_word:last_word_answer": ({"last_word": "end"}, "this is the END.", "the end is near"),
    "copy:repeat_phrase": (
        {"phrase": "the quick brown fox", "small_n": 2},
        "the slow brown fox and the quick red fox",
        "the quick brown fox and the quick brown fox",
    ),
    "copy:copy": ({"prompt_to_repeat": "Copy me"}, "copy me", "copy me please"),
    "copy:copying_simple": ({"prompt_to_repeat": "Copy me"}, " COPY ME ", "copy"),
    "copy:copying_multiple": ({"prompt_to_repeat": "Hi", "N": 2}, "Hi\n******\nhi", "Hi\n******\nHo"),
    "new:copy_span_idx": ({"prompt_to_repeat": "Hello world", "n_start": 6, "n_end": 11}, "world", "world!"),
}

OLD: dict[str, tuple[dict[str, Any], str, str]] = {
    "verify_keywords": ({"keyword_list": ["Cat", "dog"]}, "a cat and a DOG", "a cat"),
    "verify_keyword_frequency": ({"word": "the", "N": 2}, "The cat and the dog", "the cat"),
    "validate_forbidden_words": ({"forbidden_words": ["bad"]}, "good", "not BAD"),
    "verify_letter_frequency": ({"letter": "a", "N": 2}, "banAna", "banana"),
    "validate_response_language": (
        {"language": "de"},
        "Das ist ein schöner Tag im Garten.",
        "This is a nice day.",
    ),
    "verify_paragraph_count": ({"N": 2}, "one\n* * *\ntwo", "one\n* * *\n* * *\ntwo"),
    "validate_word_constraint": (
        {"N": 10, "quantifier": "around"},
        " ".join(["w"] * 9),
        " ".join(["w"] * 12),
    ),
    "verify_sentence_constraint": ({"N": 2, "quantifier": "at most"}, "One. Two.", "One. Two. Three."),
    "validate_paragraphs": (
        {"N": 2, "first_word": "Then", "i": 2},
        "Intro.\n\nThen more.",
        "Intro.\n\nthen more.",
    ),
    "verify_postscript": ({"postscript_marker": "P.S."}, "Hi.\nP.S. see you", "Hi. P.S."),
    "validate_placeholders": ({"N": 1}, "Dear [name]", "Dear you"),
    "verify_bullet_points": ({"N": 2}, "* a\n- b", "* a"),
    "validate_title": ({}, "<<T>> body", "T body"),
    "validate_choice": ({"options": ["yes", "no"]}, "I say yes", "I say maybe"),
    "validate_highlighted_sections": ({"N": 1}, "a *b* c", "a b c"),
    "validate_sections": ({"N": 2, "section_splitter": "SECTION"}, "SECTION 1 a SECTION 2 b", "SECTION 1 a"),
    "validate_json_format": ({}, '{"a": [1, 2]}', "{'a': 1}"),
    "validate_repeat_prompt": ({"original_prompt": "Write a poem."}, "Write a poem. Roses...", "A poem."),
    "validate_two_responses": ({}, "one\n******\ntwo", "one\n******\none"),
    "validate_uppercase": ({}, "ALL CAPS 123", "Not caps"),
    "validate_lowercase": ({}, "all lower 123", "Not lower"),
    "validate_frequency_capital_words": ({"N": 2, "quantifier": "at least"}, "NASA and ESA", "only NASA"),
    "validate_end": ({"end_phrase": "Bye."}, "Hello. Bye.", "Bye. Hello."),
    "validate_quotation": ({}, '"quoted"', "not quoted"),
    "validate_no_commas": ({}, "no commas", "a, b"),
}


def test_the_registries_are_complete() -> None:
    assert set(GOLDEN) == set(INSTRUCTIONS) and len(INSTRUCTIONS) == 54
    assert set(OLD) == set(FUNCTIONS) and len(FUNCTIONS) == 25


@pytest.mark.parametrize("instruction_id", sorted(GOLDEN))
def test_every_instruction_passes_and_fails(instruction_id: str) -> None:
    kwargs, good, bad = GOLDEN[instruction_id]
    [passed] = check(good, [Instruction(instruction_id, kwargs)])
    [failed] = check(bad, [Instruction(instruction_id, kwargs)])
    assert (passed.followed, passed.error) == (True, None), good
    assert (failed.followed, failed.error) == (False, None), bad


@pytest.mark.parametrize("name", sorted(OLD))
def test_every_old_function_passes_and_fails(name: str) -> None:
    kwargs, good, bad = OLD[name]
    assert FUNCTIONS[name](good, **kwargs) is True
    assert FUNCTIONS[name](bad, **kwargs) is False


def test_unknown_ids_and_bad_kwargs_score_zero_with_the_reason() -> None:
    results = check(
        "fine text",
        [
            Instruction("keywords:nope"),
            Instruction("length_constraints:number_words", {"num_words": "many", "relation": AT_LEAST}),
            Instruction("length_constraints:number_words", {"num_words": 1, "relation": "about"}),
            Instruction("keywords:existence"),
            Instruction(
                "keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": LESS}
            ),
            Instruction("punctuation:no_comma", {"extra": 1}),
        ],
    )
    assert [r.followed for r in results] == [False] * 6
    assert results[0].error == "unknown instruction"
    assert all(r.error and r.error.startswith("bad kwargs") for r in results[1:]), [r.error for r in results]


def test_loose_mode_forgives_a_framing_line_and_markdown() -> None:
    response = "Sure, here it is:\n**my answer has no punctuation at all**"
    instruction = [Instruction("detectable_format:title"), Instruction("punctuation:no_comma")]
    assert [r.followed for r in check(response, instruction)] == [False, False]
    assert [r.followed for r in check(response, instruction, "loose")] == [False, True]
    assert len(loose_variants("a\nb\nc")) == 8


def test_ground_truth_forms_read_the_same() -> None:
    ids, kwargs = (
        ["punctuation:no_comma", "length_constraints:number_words"],
        [None, {"num_words": 5, "relation": LESS}],
    )
    open_instruct = str([{"instruction_id": ids, "kwargs": [None, {**kwargs[1], "unused": None}]}])
    google = json.dumps({"instruction_id_list": ids, "kwargs": [{}, kwargs[1]]})
    expected = [Instruction(ids[0], {}), Instruction(ids[1], kwargs[1])]
    assert parse_ground_truth(open_instruct) == parse_ground_truth(google) == expected
    assert parse_ground_truth({"instruction_id_list": ids, "kwargs": [{}, kwargs[1]]}) == expected
    for bad in ("__import__('os').system('id')", "[1, 2]", "{'instruction_id': ['a', 'b'], 'kwargs': [{}]}"):
        with pytest.raises(ValueError):
            parse_ground_truth(bad)


# Constraints a response can be built to satisfy or violate, one at a time.
COMPOSABLE: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "punctuation:no_comma": ({}, lambda t: t, lambda t: t + ", and more"),
    "change_case:english_lowercase": ({}, lambda t: t, lambda t: t.upper()),
    "detectable_format:title": ({}, lambda t: "<<a title>>\n" + t, lambda t: t),
    "startend:end_checker": (
        {"end_phrase": "the end"},
        lambda t: t + " the end",
        lambda t: t + " the end more",
    ),
    "keywords:existence": ({"keywords": ["banana"]}, lambda t: t + " banana", lambda t: t),
    "detectable_content:postscript": (
        {"postscript_marker": "P.S."},
        lambda t: t + "\np.s. see you",
        lambda t: t,
    ),
}
BASE = "this is a short reply about the weather in the park"


@settings(max_examples=60, deadline=None)
@given(
    chosen=st.lists(st.sampled_from(sorted(COMPOSABLE)), min_size=1, max_size=5, unique=True), data=st.data()
)
def test_composed_constraints_score_the_fraction_followed(chosen: list[str], data: st.DataObject) -> None:
    # A postscript and an ending compete for the last line: not a combination built here.
    assume(not {"startend:end_checker", "detectable_content:postscript"} <= set(chosen))
    violated = data.draw(st.sets(st.sampled_from(chosen)))
    # Apply the (non-)following edits in a fixed order: the title first, the ending last.
    order = ["change_case:english_lowercase", "punctuation:no_comma", "keywords:existence",
             "detectable_format:title", "detectable_content:postscript", "startend:end_checker"]  # fmt: skip
    text = BASE
    for name in order:
        if name in chosen:
            follow, break_ = COMPOSABLE[name][1], COMPOSABLE[name][2]
            text = break_(text) if name in violated else follow(text)
    results = check(text, [Instruction(name, COMPOSABLE[name][0]) for name in chosen])
    followed = {r.instruction.id for r in results if r.followed}
    assert followed == set(chosen) - violated, text


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as url:
        yield url


def rewards(
    url: str, items: list[dict[str, Any]], reward: str = "ifeval", **params: Any
) -> list[dict[str, Any]]:
    body = {"rewards": {reward: 1.0}, "params": {reward: params}, "items": items}
    response = httpx.post(f"{url}/v1/rewards", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_ifeval_through_the_api_in_three_forms_and_four_modes(server: str) -> None:
    ids = ["punctuation:no_comma", "detectable_format:title", "length_constraints:number_words"]
    kwargs: list[dict[str, Any]] = [{}, {}, {"num_words": 50, "relation": LESS}]
    # The framing line has a comma: strict misses no_comma, loose (first line dropped) does not.
    completion = "<think>planning, with commas</think><answer>Sure, here it is:\n*a short reply*</answer>"
    forms = [
        {"ground_truth": str([{"instruction_id": ids, "kwargs": kwargs}])},
        {"ground_truth": json.dumps({"instruction_id_list": ids, "kwargs": kwargs})},
        {"instruction_id_list": ids, "kwargs": kwargs},
    ]
    expected = {
        ("strict", "fraction"): (1 / 3, "not_followed: 0:punctuation:no_comma, 1:detectable_format:title"),
        ("strict", "all"): (0.0, "not_followed: 0:punctuation:no_comma, 1:detectable_format:title"),
        ("loose", "fraction"): (2 / 3, "not_followed: 1:detectable_format:title"),
        ("loose", "all"): (0.0, "not_followed: 1:detectable_format:title"),
    }
    for (mode, aggregate), (value, missed) in expected.items():
        results = rewards(
            server, [{"completion": completion, **form} for form in forms], mode=mode, aggregate=aggregate
        )
        assert [r["reward"] for r in results] == pytest.approx([value] * 3), (mode, aggregate)
        assert all(r["errors"]["ifeval"] == missed for r in results), (mode, results[0]["errors"])
    titled = rewards(server, [{"completion": "<<T>>\nshort reply", **forms[0]}], aggregate="all")
    assert titled[0]["reward"] == 1.0 and titled[0]["errors"] == {}


def test_hostile_responses_and_ground_truths_never_raise_or_stall() -> None:
    """Degenerate RL output is linear to check (no regex that rescans the text from every position),
    and broken ground truths are errors, not exceptions."""
    import time

    degenerate = ["!" * 20000 + "x", "a. " * 10000, "[" * 20000, "\n" * 20000, "a " * 20000, "<<" * 20000,
                  " " * 20000 + "p.s.", "İstanbul is big " * 1000]  # fmt: skip
    started = time.perf_counter()
    for text in degenerate:
        for instruction_id, (kwargs, _, _) in GOLDEN.items():
            if instruction_id.startswith("language:") or instruction_id.startswith("change_case:english"):
                continue  # the language identifier is linear but not cheap: covered by the golden cases
            check(text, [Instruction(instruction_id, kwargs)], "loose")
        for name, (kwargs, _, _) in OLD.items():
            if name != "validate_response_language":
                FUNCTIONS[name](text, **kwargs)
    assert time.perf_counter() - started < 20
    for truth in (
        "[" * 100_000,
        {"instruction_id_list": 5},
        {"instruction_id_list": True},
        "[{'instruction_id': 7}]",
    ):
        with pytest.raises(ValueError):
            parse_ground_truth(truth)
    odd = parse_ground_truth("[{'instruction_id': ['punctuation:no_comma', 'first_word:first_word_sent'], "
                             "'kwargs': [{1: 2}, {'first_word': []}]}]")  # fmt: skip
    assert [r.followed for r in check("Fine text.", odd)] == [False, False]
    assert check("Fine text.", odd)[0].error.startswith("bad kwargs")


def test_ifeval_bad_items_are_null_with_a_reason(server: str) -> None:
    results = rewards(
        server,
        [
            {"completion": "x"},
            {"completion": "x", "ground_truth": "[{'instruction_id': [], 'kwargs': []}]"},
            {"completion": "x", "ground_truth": "not a literal ("},
            {"completion": "x", "ground_truth": "[{'instruction_id': ['nope:nope'], 'kwargs': [{}]}]"},
        ],
    )
    assert [r["scores"]["ifeval"] for r in results] == [None, None, None, 0.0]
    assert "empty" in results[1]["errors"]["ifeval"]
    assert results[3]["errors"]["ifeval"] == "not_followed: 0:nope:nope (unknown instruction)"


def test_ifeval_old_and_the_tulu3_profile(server: str) -> None:
    old = rewards(
        server,
        [
            {
                "completion": "<think>X</think>all lower",
                "ground_truth": json.dumps({"func_name": "validate_lowercase"}),
            },
            {"completion": "Not Lower", "ground_truth": {"func_name": "validate_lowercase", "unused": None}},
            {"completion": "x", "ground_truth": {"func_name": "validate_nothing"}},
            {"completion": "x", "ground_truth": {"func_name": "verify_bullet_points", "N": "two"}},
        ],
        reward="ifeval_old",
    )
    assert [r["scores"]["ifeval_old"] for r in old] == [1.0, 0.0, 0.0, 0.0]
    assert (
        "unknown function" in old[2]["errors"]["ifeval_old"]
        and "bad arguments" in old[3]["errors"]["ifeval_old"]
    )
    body = {
        "profile": "tulu3-if",
        "items": [{"completion": "no commas", "instruction_id_list": ["punctuation:no_comma"]}],
    }
    profile = httpx.post(f"{server}/v1/rewards", json=body, timeout=30).json()["results"]
    assert profile[0]["reward"] == 10.0


def test_through_the_verl_and_trl_adapters(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """open-instruct rows as trainers hold them: verl's `ground_truth`, a TRL dataset column."""
    from clients import verl
    from clients.trl import referee_reward_funcs

    truth = str([{"instruction_id": ["punctuation:no_comma"], "kwargs": [None]}])
    monkeypatch.setenv("REFEREE_URL", server)
    monkeypatch.setenv("REFEREE_REWARDS", "ifeval=1")
    scored = verl.compute_score_batch(["ifeval"] * 2, ["no commas", "a, b"], [truth, truth], [None, None])
    assert [s["score"] for s in scored] == [1.0, 0.0]
    funcs, _ = referee_reward_funcs({"ifeval": 1.0}, base_url=server)
    values = funcs[0](prompts=["p", "p"], completions=["no commas", "a, b"], ground_truth=[truth, truth])
    assert values == [1.0, 0.0]
