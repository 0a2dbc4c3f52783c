"""OpenAI-compatible graders (the reinforcement fine-tuning grader language), as plain Python.

`config` is the contract (the grader JSON), `templates` renders `{{ item.x }}` / `{{ sample.y }}`,
`similarity` and `formula` are the metric and `multi` maths, `outcome` holds OpenAI's result and
error flags, and `engine` runs a grader over a batch of samples.
"""
