"""Referee: a verifiable reward service for RL on language models.

Importing this package is cheap on purpose: the CLI lives here and must start fast
(and `referee score` must work without the server extras installed).
"""

__version__ = "0.1.0"
