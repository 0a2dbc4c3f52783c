"""Agent trajectories as plain data, with the checks the trajectory rewards make. No server needed.

- `turns`: the assistant turns, the tool calls they make in every form trainers send, their validity;
- `layout`: whether a turn is laid out as asked (`<think>…</think><action>…</action>`, tool or answer);
- `answers`: the final answer the policy gave, and how it compares with the gold;
- `matching`: the calls made against the calls expected;
- `environment`: predicates on the environment's final state, anchors of its observations.
"""
