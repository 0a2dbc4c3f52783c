"""Math grading throughput: Referee over HTTP vs the sequential loop in the trainer process.

    python -m bench.math_throughput [--prompts 64] [--samples 8] [--workers N]

The batch is one GRPO step: `prompts` problems x `samples` completions, each a long chain of
thought ending in a correct, wrong, differently-written or missing answer, plus a few adversarial
answers that make sympy hang. The baseline is what an open-r1 user runs today: `parse` + `verify`
from math-verify, one completion after the other, in the main thread (so its signal-based 5 s
timeouts work). Both run in this process's machine, in the same run; the ratio is what counts.
"""

from __future__ import annotations

import argparse
import logging
import random
import time

import httpx

from tests.server_utils import server_process

# Answers sympy cannot finish comparing: a power tower, a huge factorial, a huge binomial.
ADVERSARIAL = ["\\boxed{9^{9^{9^{9}}}}", "\\boxed{99999999!}", "\\boxed{\\binom{10^{8}}{5 \\cdot 10^{7}}}"]
FILLER = [
    "Let me restate the problem to make sure I understand what is being asked.",
    "We denote the unknown quantity by $x$ and write down the relation $3x + 7 = 2(x + 5)$.",
    "Expanding the right-hand side gives $2x + 10$, so $x = 3$ in this sub-case.",
    "Wait, that does not use the second condition. Let me re-check the constraint $x^2 - 4 < 0$.",
    "Checking small cases: for $n = 1$ we get $1$, for $n = 2$ we get $5$, for $n = 3$ we get $14$.",
    "By the formula $\\sum_{k=1}^{n} k^2 = \\frac{n(n+1)(2n+1)}{6}$ the pattern continues.",
    "Alternatively, consider the complementary count and subtract it from the total $\\binom{10}{3} = 120$.",
    "Hmm, I should double-check the arithmetic: $17 \\times 23 = 391$, which matches.",
]


def gold_and_answers(rng: random.Random, index: int) -> tuple[str, list[str]]:
    """A gold answer and answers a policy might produce for it: right, rewritten, wrong, missing."""
    p, q = rng.randint(1, 40), rng.randint(2, 41)
    kind = index % 4
    if kind == 0:
        gold = str(p * q)
        return gold, [gold, f"{gold}.0", str(p * q + 1), f"{p} \\times {q}", str(p + q)]
    if kind == 1:
        gold = f"\\frac{{{p}}}{{{q}}}"
        return gold, [
            gold,
            f"{p}/{q}",
            f"\\frac{{{2 * p}}}{{{2 * q}}}",
            f"\\frac{{{q}}}{{{p}}}",
            f"{p / q:.3f}",
        ]
    if kind == 2:
        gold = f"{p}\\sqrt{{{q}}}"
        return gold, [gold, f"\\sqrt{{{p * p * q}}}", f"{p + 1}\\sqrt{{{q}}}", f"{p}\\sqrt{{{q + 1}}}", gold]
    gold = f"({p}, {q})"
    return gold, [gold, f"({p},{q})", f"({q}, {p})", f"({p}, {q + 1})", f"\\left({p}, {q}\\right)"]


def build_batch(prompts: int, samples: int, adversarial: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for problem in range(prompts):
        gold, answers = gold_and_answers(rng, problem)
        for sample in range(samples):
            reasoning = " ".join(rng.choice(FILLER) for _ in range(rng.randint(12, 30)))
            roll = rng.random()
            if roll < 0.1:
                ending = "I could not finish the computation in time."  # no answer at all
            else:
                ending = f"Therefore the final answer is $\\boxed{{{rng.choice(answers)}}}$."
            items.append(
                {
                    "id": f"{problem}-{sample}",
                    "group": str(problem),
                    "answer": gold,
                    "completion": f"<think>{reasoning}</think>\n{ending}",
                }
            )
    for i in range(adversarial):
        items[rng.randrange(len(items))]["completion"] = (
            f"<think>...</think> {ADVERSARIAL[i % len(ADVERSARIAL)]}"
        )
    return items


def realistic_gold(rng: random.Random) -> tuple[str, str, str]:
    """A gold of one of the kinds math datasets have, a right answer written another way, a wrong one."""
    p, q, r = rng.randint(2, 30), rng.randint(2, 30), rng.randint(2, 9)
    kinds = [
        (str(p * q), f"{p * q}", str(p * q + r)),
        (f"\\frac{{{p}}}{{{q + p}}}", f"\\dfrac{{{2 * p}}}{{{2 * (q + p)}}}", f"\\frac{{{q + p}}}{{{p}}}"),
        (f"{p}\\sqrt{{{r}}}", f"\\sqrt{{{p * p * r}}}", f"{p + 1}\\sqrt{{{r}}}"),
        (f"({p}, {q})", f"\\left({p},{q}\\right)", f"({q}, {p + 1})"),
        (f"[{p}, {p + q})", f"[{p},{p + q})", f"({p}, {p + q}]"),
        (f"\\{{{p}, {q + 40}, {r}\\}}", f"\\{{{r}, {p}, {q + 40}\\}}", f"\\{{{p}, {q}\\}}"),
        (
            f"\\begin{{pmatrix}} {p} & {q} \\\\ {r} & 1 \\end{{pmatrix}}",
            f"\\begin{{bmatrix}} {p} & {q} \\\\ {r} & 1 \\end{{bmatrix}}",
            f"\\begin{{pmatrix}} {q} & {p} \\\\ {r} & 1 \\end{{pmatrix}}",
        ),
        (f"x^2 + {p + q}x + {p * q}", f"(x+{p})(x+{q})", f"(x+{p})(x-{q})"),
        (f"{p}\\%", f"{p}\\%", f"{p + r}\\%"),
        ("\\text{odd}" if p % 2 else "\\text{even}", "odd" if p % 2 else "even", "even" if p % 2 else "odd"),
        (
            f"\\frac{{{p}\\pi}}{{{q + 1}}}",
            f"\\frac{{{p}}}{{{q + 1}}}\\pi",
            f"\\frac{{{p + 1}\\pi}}{{{q + 1}}}",
        ),
    ]
    return rng.choice(kinds)


def build_realistic_batch(prompts: int, samples: int, seed: int) -> list[dict]:
    """One GRPO step of a run: every prompt a new gold of any kind, long reasoning, half right."""
    rng = random.Random(seed)
    items = []
    for problem in range(prompts):
        gold, rewritten, wrong = realistic_gold(rng)
        for sample in range(samples):
            reasoning = " ".join(rng.choice(FILLER) for _ in range(rng.randint(40, 90)))
            answer = rng.choice([gold, rewritten]) if sample % 2 == 0 else wrong
            items.append(
                {
                    "id": f"{problem}-{sample}",
                    "group": str(problem),
                    "answer": gold,
                    "completion": f"<think>{reasoning}</think>\nThe final answer is $\\boxed{{{answer}}}$.",
                }
            )
    return items


def build_adversarial_batch(normal: int, hostile: int, seed: int) -> list[dict]:
    """Pathological answers (power towers, huge numbers and factorials, deep nesting, NUL bytes, an
    expansion sympy does not finish) among normal ones."""
    pathological = [
        "9^{9^{9^{9}}}",
        "7" * 200_000,
        "{" * 10_000 + "1" + "}" * 10_000,
        "+".join(f"x^{{{i}}}" for i in range(20_000)),
        "99999999!",
        "\\binom{10^{8}}{5 \\cdot 10^{7}}",
        "12\x00",
        "(x+1)^{9999}",
    ]
    items = build_realistic_batch(normal, 1, seed)
    for i in range(hostile):
        items.append(
            {"answer": "x^2+2x+1", "completion": f"\\boxed{{{pathological[i % len(pathological)]}}}"}
        )
    random.Random(seed).shuffle(items)
    return items


def baseline(items: list[dict]) -> float:
    """The open-r1 loop: parse gold and completion, verify, one item at a time. Returns seconds."""
    from math_verify import LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    for item in items:
        gold = parse(f"${item['answer']}$")
        answer = parse(item["completion"], extraction_config=[LatexExtractionConfig()])
        verify(gold, answer)
    return time.perf_counter() - started


def accurate_baseline(items: list[dict]) -> float:
    """An accurate math-verify loop: gold in `$…$`, math-verify's default extraction on both sides."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    for item in items:
        verify(parse(f"${item['answer']}$"), parse(item["completion"]))
    return time.perf_counter() - started


def referee(url: str, items: list[dict]) -> float:
    started = time.perf_counter()
    response = httpx.post(f"{url}/v1/rewards", json={"rewards": {"math": 1.0}, "items": items}, timeout=600)
    response.raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument(
        "--workers", type=int, default=None, help="math worker processes (default: 2 per core)"
    )
    args = parser.parse_args()
    easy = build_batch(args.prompts, args.samples, adversarial=0)
    realistic = build_realistic_batch(args.prompts, args.samples, seed=1)
    adversarial = build_adversarial_batch(20, 10, seed=2)
    env = {"REFEREE_MATH_WORKERS": str(args.workers)} if args.workers else {}
    with server_process(env=env) as (url, _):
        referee(
            url, build_realistic_batch(4, 2, seed=99)
        )  # warm-up: a trainer talks to a long-running server
        # Each batch brings golds the server has not seen (every RL step does): gold parsing counts.
        rows = [
            (name, len(items), referee(url, items), accurate_baseline(items), baseline(items))
            for name, items in (("realistic (new golds)", realistic), ("easy", easy))
        ]
        adversarial_time = referee(url, adversarial)
    print(f"GRPO batch: {args.prompts} prompts x {args.samples} samples, math only\n")
    header = f"{'batch':<22} {'items':>5} {'referee s':>9} {'accurate mv s':>13} {'open-r1 s':>9}"
    print(f"{header} {'vs accurate':>11} {'vs open-r1':>10}")
    for name, count, ours, accurate, open_r1 in rows:
        print(
            f"{name:<22} {count:>5} {ours:>9.2f} {accurate:>13.2f} {open_r1:>9.2f} "
            f"{accurate / ours:>10.1f}x {open_r1 / ours:>9.1f}x"
        )
    verdict = "OK" if adversarial_time <= 6 else "OVER"
    print(
        f"\nadversarial: 10 pathological answers among 20 normal ones, per-item timeout 5 s: the batch "
        f"took {adversarial_time:.2f} s (bound: timeout + 1 s = 6 s) -> {verdict}"
    )


if __name__ == "__main__":
    main()
