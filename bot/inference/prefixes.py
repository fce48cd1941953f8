"""`PrefixCache`: keys and values of finished requests, kept for the next turn.

A conversation's next prompt starts with the previous prompt (and usually the reply), so
its first hundreds of tokens were already run through the model. When a request finishes,
the engine stores the keys/values of every token it fed (prompt + reply, the window's
positions `0..L-1`) under those token ids; when a request is admitted, the entry sharing
the longest token prefix with its prompt is copied into the new slot and only the rest of
the prompt is prefilled. GPT-2's positions are absolute, so the cached values are exactly
what a fresh prefill would compute, and the reply is the same token for token (tests compare
with `transformers`). Once a conversation fills the window and its oldest turns are trimmed,
only the persona line still matches; reuse then saves little.

Entries cost `n_layer × 2 × L × n_embd` values each; the oldest unused ones go first when the
byte budget is exceeded. An entry is taken out when reused (its request will store a longer
one when it finishes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch

__all__ = ["MIN_REUSE", "PrefixCache"]

MIN_REUSE = 8  # shorter common prefixes are prefilled as usual


class PrefixCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()  # oldest first
        self.bytes = 0
        self.hits = 0
        self.reused_tokens = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, tokens: Sequence[int], kv: torch.Tensor) -> None:
        """Keep `kv` (`[n_layer, 2, n_head, len(tokens), head_dim]`, owned by the cache from
        now on) for the sequence `tokens`; evict the oldest entries beyond the budget."""
        key = tuple(tokens)
        size = kv.numel() * kv.element_size()
        if len(key) < MIN_REUSE or size > self.budget_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.numel() * old.element_size()
        self._entries[key] = kv
        self.bytes += size
        while self.bytes > self.budget_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.numel() * evicted.element_size()

    def take(self, prompt: Sequence[int]) -> tuple[int, torch.Tensor] | None:
        """The entry sharing the longest prefix with `prompt` (at least `MIN_REUSE` tokens),
        removed from the cache: how many leading tokens it covers and its keys/values (all of
        them; only the first `count` positions are valid for this prompt)."""
        best_key: tuple[int, ...] | None = None
        best = MIN_REUSE - 1
        for key in self._entries:
            shared = _shared_prefix(key, prompt, best)
            if shared > best:
                best_key, best = key, shared
        if best_key is None:
            return None
        kv = self._entries.pop(best_key)
        self.bytes -= kv.numel() * kv.element_size()
        self.hits += 1
        self.reused_tokens += best
        return best, kv


def _shared_prefix(a: Sequence[int], b: Sequence[int], beat: int) -> int:
    """Length of the common prefix of `a` and `b`, or 0 when it cannot exceed `beat`."""
    limit = min(len(a), len(b))
    if limit <= beat or a[beat] != b[beat]:  # cheap rejection: must agree at position `beat`
        return 0
    n = 0
    while n < limit and a[n] == b[n]:
        n += 1
    return n
