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
import subprocess
import sys
import time

import httpx

from tests.server_utils import free_port, wait_healthy

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


def referee(url: str, items: list[dict]) -> float:
    started = time.perf_counter()
    response = httpx.post(f"{url}/v1/rewards", json={"rewards": {"math": 1.0}, "items": items}, timeout=600)
    response.raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--adversarial", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=None, help="math worker processes (default: CPU count)"
    )
    args = parser.parse_args()

    clean = build_batch(args.prompts, args.samples, adversarial=0)
    hostile = build_batch(args.prompts, args.samples, adversarial=args.adversarial)
    port = free_port()
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--log-level", "warning"]
    env = {"REFEREE_MATH_WORKERS": str(args.workers)} if args.workers else {}
    server = subprocess.Popen(command, env={**__import__("os").environ, **env})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process=server)
        referee(url, clean[:8])  # warm-up: a trainer talks to a long-running server
        rows = []
        for name, items in (("clean batch", clean), (f"with {args.adversarial} adversarial", hostile)):
            ours = referee(url, items)
            theirs = baseline(items)
            rows.append((name, len(items), theirs, ours))
        single = build_batch(args.prompts, args.samples, adversarial=1, seed=1)
        single_time = referee(url, single)
    finally:
        server.terminate()
        server.wait(60)

    print(f"GRPO batch: {args.prompts} prompts x {args.samples} samples\n")
    print(
        f"{'batch':<22} {'items':>5} {'sequential s':>12} {'referee s':>9} {'items/s seq':>11} "
        f"{'items/s ref':>11} {'speed-up':>8}"
    )
    for name, count, theirs, ours in rows:
        print(
            f"{name:<22} {count:>5} {theirs:>12.2f} {ours:>9.2f} "
            f"{count / theirs:>11.1f} {count / ours:>11.1f} "
            f"{theirs / ours:>7.1f}x"
        )
    print(
        f"\none adversarial item, per-item timeout 5 s: batch took {single_time:.2f} s "
        f"(bound: timeout + 1 s = 6 s) -> {'OK' if single_time <= 6.0 else 'OVER'}"
    )


if __name__ == "__main__":
    main()
