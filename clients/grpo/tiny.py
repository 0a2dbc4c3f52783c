"""Tiny causal LMs built from a config and a locally trained tokenizer: no model hub needed.

Used by the bundled demo, and by tests that need a real Hugging Face model on CPU. The tokenizer
is character level plus the reasoning/answer tags as single tokens, so a 2-layer model can learn
short arithmetic in minutes.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # transformers is an optional dependency: imported where it is used
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

SPECIAL = ["<pad>", "<eos>", "<unk>"]
TAGS = ["<think>", "</think>", "<answer>", "</answer>", "<reasoning>", "</reasoning>"]
CHARS = list(string.digits + string.ascii_letters + " +-*/=?.,:;()[]{}\\$_^'\"!#%&<>|\n")
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['content'] }}{% if not loop.last %}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}\n{% endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A PreTrainedTokenizerFast: tags are one token each, every other character is one token."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIAL + TAGS + CHARS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    pattern = "|".join(tag.replace("/", "\\/") for tag in TAGS) + "|[\\s\\S]"
    core.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>", padding_side="left"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(
    tokenizer: PreTrainedTokenizerBase,
    hidden_size: int = 64,
    layers: int = 2,
    seed: int = 0,
    dropout: float = 0.0,
) -> PreTrainedModel:
    """A Llama-architecture causal LM, randomly initialised, sized for CPU. (Llama, not Qwen2: for Qwen2
    `AutoTokenizer` swaps in Qwen2's own tokenizer class and drops the one saved with the model.)"""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        attention_dropout=dropout,
    )
    return LlamaForCausalLM(config)


def save_tiny_model(directory: str | Path, hidden_size: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Build and save a tiny model + tokenizer, loadable with `from_pretrained(directory)` like a
    checkpoint."""
    directory = Path(directory)
    tokenizer = build_tokenizer()
    build_model(tokenizer, hidden_size, layers, seed).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
