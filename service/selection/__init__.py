"""Scored rollouts turned into training data: DeepSeek-R1's rejection sampling, Kimi k1.5's
shortest-correct answers and long2short preference pairs. Plain Python, no server needed:
`recipes` chooses, `rows` writes what TRL's trainers read."""
