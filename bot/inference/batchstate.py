"""Per-slot tensors that live on the model's device: next input token, position, sampling
settings and token history (prompt + generated: the repetition penalty and the n-gram ban
read it).

Running requests occupy slots `0..B-1`; a step reads `[:B]` of each tensor. Everything here
is updated by device ops (no host synchronisation); host data reaches the device only when a
request joins or rows move, through pinned, non-blocking copies.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bot.inference.sampling import (
    SamplingPlan,
    apply_repetition_penalty,
    ban_repeated_ngrams,
    candidates,
    draw,
    is_sampled,
    uniforms,
)
from bot.inference.types import SamplingParams

__all__ = ["BatchState", "to_device"]


def to_device(values: Sequence[int], device: torch.device) -> torch.Tensor:
    """An int64 tensor on `device` without blocking the host (pinned copy on CUDA)."""
    tensor = torch.tensor(values, dtype=torch.long)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class BatchState:
    """Device-side state of up to `slots` running requests."""

    def __init__(
        self,
        slots: int,
        n_positions: int,
        vocab_size: int,
        device: torch.device,
        float_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.slots = slots
        self.n_positions = n_positions
        self.vocab_size = vocab_size
        self.device = device

        def longs(*shape: int) -> torch.Tensor:
            return torch.zeros(shape, dtype=torch.long, device=device)

        self.tokens = longs(slots)
        self.positions = longs(slots)
        self.steps = longs(slots)
        self.seeds = longs(slots)
        self.top_k = longs(slots)
        self.ngram = longs(slots)
        self.history = longs(slots, n_positions)
        # float64 only for float64 models (the tests' exact comparisons with transformers)
        self.temperature = torch.ones(slots, dtype=float_dtype, device=device)
        self.top_p = torch.ones(slots, dtype=float_dtype, device=device)
        self.penalty = torch.ones(slots, dtype=float_dtype, device=device)
        self.do_sample = torch.zeros(slots, dtype=torch.bool, device=device)

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        return (
            self.tokens,
            self.positions,
            self.steps,
            self.seeds,
            self.top_k,
            self.ngram,
            self.history,
            self.temperature,
            self.top_p,
            self.penalty,
            self.do_sample,
        )

    def admit(self, slot: int, prompt: Sequence[int], params: SamplingParams, seed: int) -> None:
        """Set up `slot` for a request whose first `len(prompt) - 1` tokens are in the cache."""
        count = len(prompt)
        ids = to_device(prompt, self.device)
        sampled = is_sampled(params)
        self.tokens[slot] = prompt[-1]
        self.positions[slot] = count - 1
        self.steps[slot] = 0
        self.seeds[slot] = (seed ^ (seed >> 32)) & 0xFFFFFFFF
        self.top_k[slot] = params.top_k if sampled else 0
        self.ngram[slot] = params.no_repeat_ngram_size
        self.history[slot, :count] = ids
        self.temperature[slot] = params.temperature if sampled else 1.0
        self.top_p[slot] = params.top_p if sampled else 1.0
        self.penalty[slot] = params.repetition_penalty
        self.do_sample[slot] = sampled

    def advance(self, chosen: torch.Tensor) -> None:
        """Record the tokens chosen for rows `0..B-1` and move them one position on."""
        batch = int(chosen.shape[0])
        rows = torch.arange(batch, device=self.device)
        nxt = (self.positions[:batch] + 1).clamp(max=self.n_positions - 1)
        self.history[rows, nxt] = chosen
        self.tokens[:batch] = chosen
        self.positions[:batch] += 1
        self.steps[:batch] += 1

    def move(self, src: Sequence[int], dst: Sequence[int]) -> None:
        """Copy the state of slots `src` into slots `dst`."""
        if not src:
            return
        s, d = to_device(src, self.device), to_device(dst, self.device)
        for tensor in self._tensors():
            tensor[d] = tensor[s]

    def clear(self, start: int, stop: int) -> None:
        """Reset freed slots so padded (graph-bucket) rows read valid positions and tokens."""
        self.tokens[start:stop] = 0
        self.positions[start:stop] = 0

    def choose(self, logits: torch.Tensor, batch: int, span: int, plan: SamplingPlan) -> torch.Tensor:
        """The next token of rows `0..B-1` from their logits `[B, V]`, each with its own
        settings; `span` bounds the rows' lengths (history read by the penalties)."""
        scores = logits if logits.dtype == torch.float64 else logits.float()
        history, lengths = self.history[:batch, :span], self.positions[:batch] + 1
        if plan.penalty:
            scores = apply_repetition_penalty(scores, history, lengths, self.penalty[:batch])
        if plan.max_ngram:
            ngram = self.ngram[:batch]
            scores = ban_repeated_ngrams(scores, history, lengths, ngram, plan.max_ngram)
        greedy = scores.argmax(dim=1)
        if not plan.sample:
            return greedy
        values, ids = candidates(scores, self.temperature[:batch], self.top_k[:batch], self.top_p[:batch], plan.limit)
        sampled = draw(values, ids, uniforms(self.seeds[:batch], self.steps[:batch]))
        return torch.where(self.do_sample[:batch], sampled, greedy)
