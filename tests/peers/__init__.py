"""Tests against the real trainer packages, run in their own venv (`make test-peers`)."""
