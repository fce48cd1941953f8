"""CUDA graphs of one decode step, captured per (batch bucket, attention-span bucket).

A decode step of a small model is hundreds of tiny kernels; replaying a captured graph turns
their launches into one. The engine pads a batch of `B` rows to the next captured bucket (the
padded rows compute on free slots and are ignored) and the attention span to the next length
bucket. Inputs are the engine's persistent `tokens` / `positions` tensors and the slot KV cache,
so nothing is copied in; the output is a graph-owned logits tensor, valid until the next replay.

Only used on CUDA; the CPU path runs `Gpt2Forward.decode` eagerly. `checked_graphs` captures
and then compares one replay with the eager step; a capture that fails or disagrees is logged
and the engine decodes eagerly (slower, but right) instead of failing to start.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence

import torch

from bot.inference.gpt2 import Gpt2Forward

__all__ = ["BATCH_BUCKETS", "DecodeGraphs", "batch_buckets", "checked_graphs", "length_buckets"]

log = logging.getLogger(__name__)

BATCH_BUCKETS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)


def batch_buckets(max_batch: int) -> tuple[int, ...]:
    """Batch sizes to capture: the standard buckets below `max_batch`, then the first one at
    or above it (or `max_batch` itself beyond 64)."""
    below = tuple(b for b in BATCH_BUCKETS if b < max_batch)
    top = next((b for b in BATCH_BUCKETS if b >= max_batch), max_batch)
    return (*below, top)


def length_buckets(n_positions: int) -> tuple[int, ...]:
    """Attention spans to capture: 128, 256, 512 ... below the window, and the window."""
    spans = [n for n in (128, 256, 512) if n < n_positions]
    return (*spans, n_positions)


class DecodeGraphs:
    """Captured decode steps over fixed input/output buffers."""

    def __init__(
        self,
        forward: Gpt2Forward,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        batch_buckets: Sequence[int],
        spans: Sequence[int],
        replay: bool = True,
    ) -> None:
        """`replay=False` skips capture and runs eagerly at the bucket shapes: the padding
        logic, testable on CPU."""
        self.replay = replay
        self._forward = forward
        self._tokens = tokens
        self._positions = positions
        self.batch_buckets = tuple(sorted(batch_buckets))
        self.spans = tuple(sorted(spans))
        self._graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}

    def bucket(self, batch: int, span: int) -> tuple[int, int]:
        """The smallest captured (batch, span) that covers a step."""
        b = self.batch_buckets[bisect.bisect_left(self.batch_buckets, batch)]
        t = self.spans[bisect.bisect_left(self.spans, span)]
        return b, t

    def covers(self, batch: int, span: int) -> bool:
        return batch <= self.batch_buckets[-1] and span <= self.spans[-1]

    def capture(self) -> None:
        """Capture every bucket (largest first, so smaller graphs reuse its memory pool)."""
        if not self.replay:
            return
        torch.cuda.synchronize()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: lazy cuBLAS/allocator init outside capture
            for _ in range(2):
                self._run_eager(self.batch_buckets[-1], self.spans[-1])
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        pool = torch.cuda.graph_pool_handle()
        for b in reversed(self.batch_buckets):
            for t in reversed(self.spans):
                graph = torch.cuda.CUDAGraph()
                # capture on the warmed-up stream (its cuBLAS workspace already exists)
                with torch.cuda.graph(graph, pool=pool, stream=side):
                    out = self._run_eager(b, t)
                self._graphs[(b, t)] = (graph, out)
        torch.cuda.synchronize()

    def _run_eager(self, batch: int, span: int) -> torch.Tensor:
        return self._forward.decode(self._tokens[:batch], self._positions[:batch], span)

    @torch.inference_mode()
    def self_check(self, tolerance: float = 1e-3) -> str | None:
        """Replay the smallest bucket and compare it with the eager step on the same inputs;
        a description of the difference, or None when they agree. Writes keys and values at
        position 0 of the first slots, which admission overwrites before any use."""
        batch, span = self.batch_buckets[0], self.spans[0]
        tokens, positions = self._tokens[:batch], self._positions[:batch]
        tokens.copy_(torch.arange(batch, device=tokens.device) + 198)  # any real token ids
        positions.zero_()
        eager = self._run_eager(batch, span).float().clone()
        replayed = self.run(batch, span).float().clone()
        tokens.zero_()
        if not bool(torch.isfinite(replayed).all()):
            return "the replayed step gave non-finite logits"
        error = float((replayed - eager).norm() / eager.norm().clamp_min(1e-12))
        if error > tolerance:
            return f"the replayed step differs from the eager one (relative error {error:.2g})"
        return None

    def run(self, batch: int, span: int) -> torch.Tensor:
        """Logits `[batch, V]` of the step whose inputs sit in `tokens[:batch]` etc."""
        if not self.replay:
            return self._run_eager(*self.bucket(batch, span))[:batch]
        graph, out = self._graphs[self.bucket(batch, span)]
        graph.replay()
        return out[:batch]


def checked_graphs(graphs: DecodeGraphs) -> DecodeGraphs | None:
    """`graphs` captured and self-checked, or None (logged) when capture fails or the replay
    disagrees with the eager step: the engine then decodes eagerly."""
    try:
        graphs.capture()
        problem = graphs.self_check()
    except RuntimeError as exc:  # CUDA errors, out-of-memory included, are RuntimeErrors
        problem = f"capture failed: {exc}"
    if problem is None:
        return graphs
    log.warning("CUDA graphs are off: %s; decoding eagerly (slower)", problem)
    return None
