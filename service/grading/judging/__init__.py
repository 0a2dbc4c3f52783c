"""What a judge model is asked and how its answers are read, as plain text: no model, no server.

- `verdicts`: a criterion's verdict read leniently from whatever format the judge answered in;
- `rubric`: rubrics (Rubrics as Rewards: weighted criteria, pitfalls, essentials), their prompts and score;
- `equivalence`: is a response's answer the gold one (xVerify / CompassVerifier style)?
"""
