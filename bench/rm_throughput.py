"""Reward-model throughput: batched (the service's dynamic batcher) vs one item at a time.

    python -m bench.rm_throughput [--items 256] [--model PATH] [--mode cot] [--max-new-tokens 32]

Without --model it builds the tiny local model (CPU). On a GPU, pass a real 0.5B-1.5B verifier,
e.g. --model /models/general-verifier --template yes-no --max-new-tokens 512.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from clients.grpo.tiny import save_tiny_model
from rm_models import DynamicBatcher
from rm_models.verifier import GenerativeVerifier, Judgement

COMPACT = {
    "prompt": "Q:{{ question }} R:{{ reference }} A:{{ response }}",
    "decision_prefix": "Final Decision:",
    "verdict_pattern": "Final Decision:\\s*(Yes|No)",
    "labels": {"Yes": 1.0, "No": 0.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=256)
    parser.add_argument("--model", default=None)
    parser.add_argument("--template", default="yes-no")
    parser.add_argument("--mode", default="cot")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    template = args.template
    model = args.model
    if model is None:  # the tiny model's context is 256 characters: give it a compact template
        scratch = Path(tempfile.mkdtemp())
        model = str(save_tiny_model(scratch / "tiny", hidden_size=128))
        template = str(scratch / "compact.json")
        Path(template).write_text(json.dumps(COMPACT))
    verifier = GenerativeVerifier(model, template, args.mode, max_new_tokens=args.max_new_tokens)
    judgements = [
        Judgement(f"What is {i} + {i % 7}?", str(i + i % 7), f"The answer is {i + (i % 3)}.")
        for i in range(args.items)
    ]
    verifier.score(judgements[:2])  # warm-up

    started = time.perf_counter()
    single = [verifier.score([j])[0] for j in judgements]
    one_at_a_time = time.perf_counter() - started

    batcher = DynamicBatcher(verifier.score, max_batch_size=args.batch_size, max_wait_ms=5)
    started = time.perf_counter()
    batched = batcher.map(judgements)
    batched_time = time.perf_counter() - started
    batcher.close()

    tokens = sum(v.tokens for v in batched)
    print(f"model: {verifier.describe()}")
    print(f"{'':<16} {'seconds':>8} {'items/s':>8} {'tokens/s':>9}")
    print(
        f"{'one at a time':<16} {one_at_a_time:>8.2f} {args.items / one_at_a_time:>8.1f} "
        f"{sum(v.tokens for v in single) / one_at_a_time:>9.0f}"
    )
    print(
        f"{'batched':<16} {batched_time:>8.2f} {args.items / batched_time:>8.1f} "
        f"{tokens / batched_time:>9.0f}"
    )
    print(f"speed-up: {one_at_a_time / batched_time:.1f}x")


if __name__ == "__main__":
    main()
