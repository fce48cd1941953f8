"""Per-row token choice for a batch: HF's logits processors, vectorised over rows.

Every setting is a `[B]` tensor, so greedy rows, sampled rows and rows with different
temperature / top-k / top-p / penalties share one pass. Order and semantics follow
`transformers` `generate`: repetition penalty and no-repeat-n-gram on the raw logits (greedy
rows too), then temperature, top-k and top-p for sampled rows.

Randomness is counter-based: a row's draw at step `s` is a hash of `(seed, s)`, so a seeded
request samples the same tokens whatever else is in the batch, with no per-row generator
objects and no host round trip (it can run inside a CUDA graph).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bot.inference.types import SamplingParams

__all__ = [
    "SamplingPlan",
    "apply_repetition_penalty",
    "ban_repeated_ngrams",
    "candidates",
    "draw",
    "is_sampled",
    "uniforms",
]

_MASK32 = 0xFFFFFFFF
_MIX = 0x45D9F3B  # < 2**27, so (x < 2**32) * _MIX never overflows int64


def is_sampled(params: SamplingParams) -> bool:
    """Whether a request draws at random (temperature 0 means greedy)."""
    return params.do_sample and params.temperature > 0


@dataclass(frozen=True)
class SamplingPlan:
    """What the current batch needs, decided on the host when the batch changes."""

    penalty: bool  # some row has repetition_penalty != 1
    max_ngram: int  # largest no_repeat_ngram_size (0: no row bans n-grams)
    sample: bool  # some row samples
    limit: int  # candidates per sampled row: the largest top_k, or the vocabulary

    @classmethod
    def of(cls, rows: Sequence[SamplingParams], vocab_size: int) -> SamplingPlan:
        sampled = [p for p in rows if is_sampled(p)]
        if any(p.top_k <= 0 for p in sampled):
            limit = vocab_size
        else:
            limit = min(vocab_size, max((p.top_k for p in sampled), default=1))
        return cls(
            penalty=any(p.repetition_penalty != 1.0 for p in rows),
            max_ngram=max((p.no_repeat_ngram_size for p in rows), default=0),
            sample=bool(sampled),
            limit=limit,
        )


def apply_repetition_penalty(
    scores: torch.Tensor, history: torch.Tensor, lengths: torch.Tensor, penalty: torch.Tensor
) -> torch.Tensor:
    """HF `RepetitionPenaltyLogitsProcessor`: for every token of `history[b, :lengths[b]]`,
    divide a positive logit by the row's penalty and multiply a negative one."""
    width = history.shape[1]
    valid = torch.arange(width, device=history.device).unsqueeze(0) < lengths.unsqueeze(1)
    # Positions past a row's length repeat its first token: duplicates write the same value.
    ids = torch.where(valid, history, history[:, :1])
    picked = scores.gather(1, ids)
    factor = penalty.unsqueeze(1).to(scores.dtype)
    picked = torch.where(picked < 0, picked * factor, picked / factor)
    return scores.scatter(1, ids, picked)


def ban_repeated_ngrams(
    scores: torch.Tensor,
    history: torch.Tensor,
    lengths: torch.Tensor,
    ngram: torch.Tensor,
    max_ngram: int,
) -> torch.Tensor:
    """HF `NoRepeatNGramLogitsProcessor` per row: ban every token that would complete an n-gram
    already present in `history[b, :lengths[b]]` (n = `ngram[b]`, 0 = off)."""
    batch, width = history.shape
    vocab = scores.shape[1]
    n = ngram.unsqueeze(1)
    length = lengths.unsqueeze(1)
    start = torch.arange(width, device=history.device).unsqueeze(0)
    match = (n > 0) & (start <= length - n)
    for i in range(max_ngram - 1):
        tail = history.gather(1, (length - n + 1 + i).clamp(0, width - 1))
        shifted = torch.nn.functional.pad(history[:, i:], (0, i))
        match &= (shifted == tail) | (n - 1 <= i)
    banned = history.gather(1, (start + n - 1).clamp(0, width - 1))
    target = torch.where(match, banned, vocab)
    ban = torch.zeros(batch, vocab + 1, dtype=torch.bool, device=scores.device)
    ban.scatter_(1, target, True)
    return scores.masked_fill(ban[:, :vocab], float("-inf"))


def candidates(
    scores: torch.Tensor,
    temperature: torch.Tensor,
    top_k: torch.Tensor,
    top_p: torch.Tensor,
    limit: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Temperature, then top-k, then top-p, as HF's warpers do.

    Returns `(values, token_ids)`, both `[B, limit]`, sorted by value (descending); filtered
    entries are `-inf`. `limit` must cover every row's top_k (the vocabulary when a row has
    top_k = 0): top-p over the top-k survivors equals top-p over the masked full row.
    """
    scaled = scores / temperature.unsqueeze(1)
    if limit < scores.shape[1]:
        values, ids = scaled.topk(limit, dim=1)
    else:
        values, ids = scaled.sort(dim=1, descending=True)
    width = values.shape[1]
    rank = torch.arange(width, device=scores.device).unsqueeze(0)
    k = torch.where(top_k > 0, top_k, width).clamp(max=width).unsqueeze(1)
    keep = rank < k
    values = values.masked_fill(~keep, float("-inf"))
    probs = torch.softmax(values, dim=1)
    # HF drops a token when the mass of all smaller tokens is <= 1 - p, i.e. when the mass of
    # all larger ones is >= p; the top token always stays.
    before = torch.cumsum(probs, dim=1) - probs
    p = top_p.unsqueeze(1)
    keep &= (before < p) | (p >= 1.0)
    return values.masked_fill(~keep, float("-inf")), ids


def _mix(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = (x * _MIX) & _MASK32
    x = x ^ (x >> 16)
    x = (x * _MIX) & _MASK32
    return x ^ (x >> 16)


def uniforms(seeds: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """One uniform in (0, 1) per row from its 32-bit seed and step counter (int64 tensors)."""
    h = _mix(_mix(_mix(seeds & _MASK32) ^ (steps & _MASK32)) ^ 0x2545F491)
    return ((h >> 8).to(torch.float32) + 0.5) * (1.0 / (1 << 24))


def draw(values: torch.Tensor, ids: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sample of one token per row from `candidates` output and uniforms `u`."""
    cdf = torch.cumsum(torch.softmax(values, dim=1), dim=1)
    target = (u.unsqueeze(1) * cdf[:, -1:]).contiguous()
    pick = torch.searchsorted(cdf, target).clamp(max=values.shape[1] - 1)
    return ids.gather(1, pick).squeeze(1)
