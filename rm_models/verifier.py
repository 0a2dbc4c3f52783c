"""Model-based verifiers on Hugging Face transformers: a generative (chain-of-thought) verifier and a
classic scalar reward model. CUDA when present (bf16, else fp16), CPU in fp32 otherwise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import torch

from rm_models.templates import VerifierTemplate, load_template
from rm_models.verdicts import Completion, Judgement, Verdict, parse_verdict

__all__ = ["GenerativeVerifier", "Judgement", "ScalarRewardModel", "Verdict", "pick_device", "split_on_oom"]

Mode = Literal["cot", "logprob", "logprob-after-cot"]
T = TypeVar("T")
R = TypeVar("R")


def pick_device(device: str | None = None) -> torch.device:
    if device and device != "auto":
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def split_on_oom(
    fn: Callable[[list[Any]], list[Any]], batch: list[Any], fail: Callable[[str], Any]
) -> list[Any]:
    """Run `fn(batch)`; on out-of-memory, halve the batch and retry, down to single items, which
    then fail with a clear error instead of crashing the service."""
    try:
        return fn(batch)
    except (RuntimeError, torch.cuda.OutOfMemoryError) as error:
        if not is_out_of_memory(error):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if len(batch) == 1:
            return [fail("out of memory even for a single item: lower rm_max_new_tokens or use a bigger GPU")]
        middle = len(batch) // 2
        return split_on_oom(fn, batch[:middle], fail) + split_on_oom(fn, batch[middle:], fail)


def in_length_order(
    items: Sequence[T], length: Callable[[T], int], run: Callable[[list[T]], list[R]]
) -> list[R]:
    """`run` on the items sorted by length (batches pad little), results back in the items' order."""
    order = sorted(range(len(items)), key=lambda i: length(items[i]))
    by_index = dict(zip(order, run([items[i] for i in order]), strict=True))
    return [by_index[i] for i in range(len(items))]


def load_causal_lm(path: str, device: torch.device) -> tuple[Any, Any]:
    """Model + tokenizer, ready for batched left-padded generation."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    options: dict[str, Any] = {"dtype": pick_dtype(device)}
    if device.type == "cuda":
        options["device_map"] = "auto"  # spreads a large verifier over the visible GPUs
    model = AutoModelForCausalLM.from_pretrained(path, **options)
    if device.type != "cuda":
        model = model.to(device)
    return model.eval(), tokenizer


class GenerativeVerifier:
    """Reads question, reference and response, (optionally) reasons, then emits a verdict."""

    def __init__(
        self,
        model: str,
        template: str | VerifierTemplate = "yes-no",
        mode: Mode = "cot",
        device: str | None = None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
    ) -> None:
        self.name = model
        self.template = load_template(template) if isinstance(template, str) else template
        self.mode = mode
        self.device = pick_device(device)
        self.max_new_tokens, self.temperature, self.stop = max_new_tokens, temperature, list(stop)
        try:
            self.model, self.tokenizer = load_causal_lm(model, self.device)
        except Exception as exc:
            raise RuntimeError(
                f"cannot load the reward model {model!r}: {type(exc).__name__}: {exc}"
            ) from exc

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "device": str(self.device),
            "dtype": str(next(self.model.parameters()).dtype),
            "mode": self.mode,
            "template": self.template.name,
        }

    def prompt(self, judgement: Judgement) -> str:
        text = self.template.render(judgement.question, judgement.reference, judgement.response)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
        return text

    def score(self, judgements: Sequence[Judgement]) -> list[Verdict]:
        """Score a batch; sorted by length so each generation batch pads little."""
        return in_length_order(
            judgements,
            lambda j: len(j.response) + len(j.question),
            lambda batch: split_on_oom(self._score_batch, batch, lambda msg: Verdict(None, msg)),
        )

    def complete(self, chats: Sequence[list[dict[str, str]]]) -> list[Completion]:
        """Free-form answers to chat prompts (OpenAI-style model graders), batched like `score`."""
        return in_length_order(
            chats,
            lambda chat: sum(len(m["content"]) for m in chat),
            lambda batch: split_on_oom(self._complete_batch, batch, lambda msg: Completion("", error=msg)),
        )

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        # Chat templates know system/user/assistant; OpenAI's `developer` role is a system message.
        messages = [{**m, "role": "system" if m["role"] == "developer" else m["role"]} for m in messages]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n\n" for m in messages) + "assistant:"

    @torch.inference_mode()
    def _complete_batch(self, chats: list[list[dict[str, str]]]) -> list[Completion]:
        answers: dict[int, Completion] = {}
        prompts: dict[int, str] = {}
        for index, chat in enumerate(chats):
            try:  # a chat template may refuse a chat (roles that do not alternate): only that one fails
                prompts[index] = self.chat_prompt(chat)
            except Exception as exc:
                answers[index] = Completion("", error=f"the chat template refused the prompt: {exc}")
        if prompts:
            texts, lengths, counts = self._generate(list(prompts.values()))
            for index, text, length, count in zip(prompts, texts, lengths, counts, strict=True):
                answers[index] = Completion(text, count, length)
        return [answers[index] for index in range(len(chats))]

    @torch.inference_mode()
    def _score_batch(self, judgements: list[Judgement]) -> list[Verdict]:
        prompts = [self.prompt(j) for j in judgements]
        if self.mode == "logprob":
            return self._decision_probabilities(
                [p + self.template.decision_prefix for p in prompts], ["" for _ in prompts]
            )
        texts, lengths, _ = self._generate(prompts)
        if self.mode == "cot":
            verdicts = []
            for text, length in zip(texts, lengths, strict=True):
                value = parse_verdict(text, self.template)
                error = None if value is not None else f"no verdict in the verifier's output: {text[-200:]!r}"
                verdicts.append(Verdict(value, error, text, length))
            return verdicts
        # logprob after the reasoning: keep the reasoning up to the decision prefix, then ask the next token.
        reasoning = [
            t.split(self.template.decision_prefix)[0] if self.template.decision_prefix else t for t in texts
        ]
        return self._decision_probabilities(
            [p + r + self.template.decision_prefix for p, r in zip(prompts, reasoning, strict=True)],
            reasoning,
        )

    def _generate(self, prompts: list[str]) -> tuple[list[str], list[int], list[int]]:
        """(generated texts, their token counts, the prompts' token counts)."""
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        sampling = (
            {"do_sample": True, "temperature": self.temperature}
            if self.temperature > 0
            else {"do_sample": False}
        )
        output = self.model.generate(
            **batch,
            max_new_tokens=self.max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=self.stop or None,
            tokenizer=self.tokenizer if self.stop else None,
            **sampling,
        )
        prompt_lengths = [int(n) for n in batch["attention_mask"].sum(dim=1)]
        new = output[:, batch["input_ids"].shape[1] :]
        lengths = [int((row != self.tokenizer.pad_token_id).sum()) for row in new]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        for stop in self.stop:
            texts = [t.split(stop)[0] + stop if stop in t else t for t in texts]
        return texts, lengths, prompt_lengths

    def _decision_probabilities(self, prompts: list[str], reasoning: list[str]) -> list[Verdict]:
        """P(positive label) / (P(positive) + P(negative)) for the token right after the decision prefix."""
        positive = self._first_token(self.template.positive_label)
        negative = self._first_token(self.template.negative_label)
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        logits = self.model(**batch).logits[:, -1].float()
        pair = torch.softmax(logits[:, [positive, negative]], dim=-1)[:, 0]
        return [Verdict(float(p), None, r) for p, r in zip(pair.tolist(), reasoning, strict=True)]

    def _first_token(self, label: str) -> int:
        candidates = [
            self.tokenizer(f" {label}", add_special_tokens=False)["input_ids"],
            self.tokenizer(label, add_special_tokens=False)["input_ids"],
        ]
        return next(ids[0] for ids in candidates if ids)


class ScalarRewardModel:
    """A classic sequence-classification reward model (`AutoModelForSequenceClassification`), for
    comparison."""

    def __init__(self, model: str, device: str | None = None) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = model
        self.device = pick_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = (
            AutoModelForSequenceClassification.from_pretrained(model, dtype=pick_dtype(self.device))
            .to(self.device)
            .eval()
        )
        self.model.config.pad_token_id = self.tokenizer.pad_token_id

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "device": str(self.device),
            "dtype": str(next(self.model.parameters()).dtype),
            "mode": "scalar",
        }

    @torch.inference_mode()
    def score(self, judgements: Sequence[Judgement]) -> list[Verdict]:
        texts = [f"{j.question}\n{j.response}" for j in judgements]
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True).to(self.device)
        values = self.model(**batch).logits[:, 0].float().tolist()
        return [Verdict(float(v)) for v in values]
