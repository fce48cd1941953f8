"""How many requests' KV caches fit in memory: `inference.max_batch` lowered where it must be.

Every running request owns one slot of `n_layer × 2 × n_positions × n_embd` values, since a
GPT-2 reply never exceeds the window: 201 MB for gpt2-medium in float32, 315 MB for gpt2-xl
in float16. At the default 64 rows that is 12.9 GB (medium on a CPU) or 20 GB (xl on a GPU,
where the cache is allocated whole at start because CUDA graphs hold its address), more than
many machines have. `fit_batch` keeps the full cache within a share of the memory that is
free once the weights are loaded, so an oversized batch fails at start-up with a log line,
not later with an out-of-memory kill in the middle of a busy evening.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import GPT2LMHeadModel

from bot.inference.graphs import BATCH_BUCKETS, batch_buckets

__all__ = ["CPU_SHARE", "GPU_SHARE", "PREFIX_SHARE", "KvFit", "available_bytes", "fit_batch", "fit_model", "slot_bytes"]

CPU_SHARE = 0.5  # of available RAM: the OS, the database and Python need the rest
GPU_SHARE = 0.8  # of free GPU memory: activations, captured graphs and the allocator need the rest
PREFIX_SHARE = 0.25  # the prefix cache gets at most this share of free memory, before the slots


def slot_bytes(n_layer: int, n_embd: int, n_positions: int, dtype: torch.dtype) -> int:
    """Bytes of one request's keys and values over the whole window."""
    return n_layer * 2 * n_positions * n_embd * torch.empty((), dtype=dtype).element_size()


def available_bytes(device: torch.device) -> int | None:
    """Memory free for the cache now: free GPU memory on CUDA, available RAM (within a
    cgroup limit, if any) on CPU; None where it cannot be told (MPS, other systems)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    amounts = [a for a in (_meminfo_available(), _cgroup_headroom()) if a is not None]
    return min(amounts) if amounts else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    """cgroup v2: `memory.max - memory.current` (a container's own limit)."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((root / "memory.current").read_text().strip()))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class KvFit:
    """The batch the engine gets, and why."""

    max_batch: int
    requested: int
    slots: int  # slots the cache can grow to (CUDA graphs round the batch up to a bucket)
    slot_bytes: int
    available: int | None  # bytes free for the slots when measured; None when unknown
    share: float
    prefix_bytes: int = 0  # the prefix cache's budget (as configured, or lowered to fit)
    prefix_requested: int = 0

    @property
    def lowered(self) -> bool:
        return self.max_batch < self.requested

    @property
    def prefix_lowered(self) -> bool:
        return self.prefix_bytes < self.prefix_requested

    def describe(self) -> str:
        size = _gb(self.slots * self.slot_bytes)
        line = f"KV cache: up to {self.slots} slots x {_gb(self.slot_bytes)} = {size}"
        if self.prefix_bytes:
            line += f", prefix cache {_gb(self.prefix_bytes)}"
        if self.available is None:
            return f"{line} (free memory unknown: not checked)"
        return f"{line} ({self.share:.0%} of {_gb(self.available)} free)"


def fit_batch(requested: int, per_slot: int, available: int | None, share: float, graph_buckets: bool) -> KvFit:
    """The largest batch up to `requested` whose cache fits `share` of `available` (at least 1).

    With `graph_buckets` the engine allocates slots for the bucket at or above the batch, so
    a lowered batch is a bucket itself (1, 2, 4 ... 64).
    """

    def slots_for(batch: int) -> int:
        return batch_buckets(batch)[-1] if graph_buckets else batch

    batch = requested
    if available is not None:
        fits = int(available * share) // per_slot
        if slots_for(requested) > fits:
            if graph_buckets:
                batch = max((b for b in BATCH_BUCKETS if b <= min(fits, requested)), default=1)
            else:
                batch = max(1, fits)
    return KvFit(batch, requested, slots_for(batch), per_slot, available, share)


def fit_model(model: GPT2LMHeadModel, requested: int, cuda_graphs: bool, prefix_bytes: int = 0) -> KvFit:
    """`fit_batch` for a loaded model on its device, measured now. The prefix cache's budget
    comes first, capped at `PREFIX_SHARE` of free memory; the slots fit in what is left."""
    param = next(model.parameters())
    config = model.config
    per_slot = slot_bytes(int(config.n_layer), int(config.n_embd), int(config.n_positions), param.dtype)
    on_cuda = param.device.type == "cuda"
    share = GPU_SHARE if on_cuda else CPU_SHARE
    free = available_bytes(param.device)
    requested_prefix = prefix_bytes
    if free is not None:
        prefix_bytes = min(prefix_bytes, int(free * PREFIX_SHARE))
        free -= prefix_bytes
    fit = fit_batch(requested, per_slot, free, share, on_cuda and cuda_graphs)
    return dataclasses.replace(fit, prefix_bytes=prefix_bytes, prefix_requested=requested_prefix)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"
