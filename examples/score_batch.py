"""Score one GRPO group of three rollouts with the `r1-math` profile (math + format).

referee serve &                      # or `make serve`
python examples/score_batch.py       # REFEREE_URL picks another server
"""

from __future__ import annotations

from clients import RefereeClient

QUESTION = "What is 1/4 + 1/4?"
COMPLETIONS = [
    r"<think>1/4 + 1/4 = 2/4 = 1/2</think> The answer is $\boxed{\frac{1}{2}}$.",
    r"<think>add the tops and the bottoms</think> $\boxed{\frac{2}{8}}$",
    "It is 0.5",
]

items = [
    {"id": f"q7-{n}", "group": "q7", "prompt": QUESTION, "answer": r"\frac{1}{2}", "completion": text}
    for n, text in enumerate(COMPLETIONS)
]

with RefereeClient() as referee:
    response = referee.score(items, profile="r1-math")

for result in response.results:
    print(f"{result.id}: reward {result.reward}  {result.scores}  {result.errors or ''}")
