"""Slot KV cache: every running request owns one slot of a preallocated K/V tensor.

Layout is one tensor `[n_layer, 2, slots, n_head, length, head_dim]` (2 = key, value), so the
decode batch is a plain view `data[layer, :, :B, :, :T]` when running requests occupy slots
`0..B-1` (the engine keeps them dense by moving the last row into a freed slot).

On CPU the cache grows on demand (slots and length, never beyond the caps) to save memory; on
CUDA it is preallocated at full size once, because captured CUDA graphs hold its address.
"""

from __future__ import annotations

import torch

__all__ = ["SlotKvCache"]


def _grow(current: int, needed: int, cap: int) -> int:
    size = max(current, 1)
    while size < needed:
        size *= 2
    return min(size, cap)


class SlotKvCache:
    """K/V storage for up to `max_slots` sequences of up to `max_length` positions each."""

    def __init__(
        self,
        n_layer: int,
        n_head: int,
        head_dim: int,
        max_slots: int,
        max_length: int,
        dtype: torch.dtype,
        device: torch.device,
        preallocate: bool = False,
    ) -> None:
        self.n_layer = n_layer
        self.n_head = n_head
        self.head_dim = head_dim
        self.max_slots = max_slots
        self.max_length = max_length
        self.dtype = dtype
        self.device = device
        self.preallocate = preallocate
        slots, length = (max_slots, max_length) if preallocate else (0, 0)
        # Zeros, not empty: masked positions are multiplied by 0 and must never hold NaN.
        self.data = self._alloc(slots, length)

    def _alloc(self, slots: int, length: int) -> torch.Tensor:
        shape = (self.n_layer, 2, slots, self.n_head, length, self.head_dim)
        return torch.zeros(shape, dtype=self.dtype, device=self.device)

    @property
    def slots(self) -> int:
        return int(self.data.shape[2])

    @property
    def length(self) -> int:
        return int(self.data.shape[4])

    def nbytes(self) -> int:
        return self.data.numel() * self.data.element_size()

    def reserve(self, slots: int, length: int) -> bool:
        """Make room for `slots` slots of `length` positions; True if the storage moved."""
        if slots > self.max_slots or length > self.max_length:
            raise ValueError(
                f"KV cache holds at most {self.max_slots} slots x {self.max_length} positions, "
                f"asked for {slots} x {length}"
            )
        if slots <= self.slots and length <= self.length:
            return False
        if self.preallocate:  # pragma: no cover - preallocated caches are already full size
            raise AssertionError("a preallocated KV cache never grows")
        new_slots = _grow(self.slots, slots, self.max_slots)
        new_length = _grow(self.length, length, self.max_length)
        data = self._alloc(new_slots, new_length)
        data[:, :, : self.slots, :, : self.length].copy_(self.data)
        self.data = data
        return True

    def layer(self, index: int) -> torch.Tensor:
        """The `[2, slots, n_head, length, head_dim]` block of one layer (a view)."""
        return self.data[index]

    def write_prompt(self, layer: int, slot: int, key: torch.Tensor, value: torch.Tensor, start: int = 0) -> None:
        """Store `[n_head, P, head_dim]` keys and values at positions `start..start+P-1` of `slot`."""
        end = start + key.shape[1]
        block = self.data[layer]
        block[0, slot, :, start:end].copy_(key)
        block[1, slot, :, start:end].copy_(value)

    def read(self, slot: int, length: int) -> torch.Tensor:
        """A copy of `slot`'s positions `0..length-1`: `[n_layer, 2, n_head, length, head_dim]`."""
        return self.data[:, :, slot, :, :length].clone()

    def load(self, slot: int, kv: torch.Tensor, length: int) -> None:
        """Write the first `length` positions of `kv` (as `read` returns it) into `slot`."""
        self.data[:, :, slot, :, :length].copy_(kv[:, :, :, :length])

    def move(self, src: torch.Tensor, dst: torch.Tensor, length: int) -> None:
        """Copy slots `src` to slots `dst` (index tensors), positions `0..length-1`."""
        if src.numel() == 0 or length <= 0:
            return
        view = self.data[:, :, :, :, :length]
        view[:, :, dst] = view[:, :, src]
