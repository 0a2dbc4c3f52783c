"""Model-based rewards: a generative (chain-of-thought) verifier and a scalar reward model, with a
dynamic batcher. Usable on its own; it does not import the service."""

from clients.batching import DynamicBatcher
from rm_models.templates import VerifierTemplate, load_template
from rm_models.verdicts import parse_verdict

__all__ = ["DynamicBatcher", "VerifierTemplate", "load_template", "parse_verdict"]
