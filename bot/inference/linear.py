"""`Affine`: `x @ weight + bias` for the engine's GPT-2 forward, using every CPU core.

On CPU, torch hands a product with few rows (a decode step: one row per running request)
to a BLAS routine that runs on one thread: measured on the 2-core bench machine, the 48
block matrices of gpt2 stream at ~22 GB/s with `addmm` whether torch has one thread or two.
Splitting the weight's columns into `parts` blocks (strided views, no copy) and running them
as one `baddbmm` batch lets torch give each block its own thread: the same 48 products take
10.6 instead of 15.7 ms at batch 1 and 15 instead of 27 ms at batch 4 (`bench/products.py`),
with identical results (each output column is the same dot product).

Products of more than `SPLIT_MAX_ROWS` rows (prompt prefill: compute-bound, where the split
measured 0.98–1.12x) keep the plain `addmm`, whose threaded GEMM is the well-trodden path on
machines with more cores than the 2 measured. On CUDA (and with one thread) `parts` is 1 and
every call is a plain `addmm`.
"""

from __future__ import annotations

import torch

__all__ = ["SPLIT_MAX_ROWS", "Affine", "cpu_parts"]

SPLIT_MAX_ROWS = 64  # a decode step of up to `inference.max_batch` (default 64) rows


def cpu_parts(device: torch.device) -> int:
    """How many column blocks to split weights into on `device`: torch's thread count on
    CPU, 1 elsewhere."""
    return max(1, torch.get_num_threads()) if device.type == "cpu" else 1


class Affine:
    """`x [M, in] -> x @ weight + bias [M, out]` for `weight` stored `[in, out]` (HF's Conv1D
    layout; column slices of it are fine). `bias` may be None."""

    __slots__ = ("_bias", "_block_bias", "_blocks", "_main", "_tail", "_tail_bias", "_weight", "out")

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, parts: int = 1) -> None:
        if weight.dim() != 2:
            raise ValueError(f"weight must be [in, out], got shape {tuple(weight.shape)}")
        if parts < 1:
            raise ValueError(f"parts must be at least 1, got {parts}")
        self._weight = weight
        self._bias = bias
        self.out = int(weight.shape[1])
        width = self.out // parts
        self._main = width * parts if parts > 1 and width > 0 else 0
        self._blocks: torch.Tensor | None = None
        self._block_bias: torch.Tensor | None = None
        self._tail: torch.Tensor | None = None
        self._tail_bias: torch.Tensor | None = None
        if self._main:
            # [P, in, width] views: block p holds columns p*width .. (p+1)*width-1
            self._blocks = weight[:, : self._main].unflatten(1, (parts, width)).permute(1, 0, 2)
            if bias is not None:
                self._block_bias = bias[: self._main].view(parts, 1, width)
            if self._main < self.out:  # the last out % parts columns
                self._tail = weight[:, self._main :]
                self._tail_bias = None if bias is None else bias[self._main :]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        rows = int(x.shape[0])
        if self._blocks is None or rows > SPLIT_MAX_ROWS:
            return _mm(x, self._weight, self._bias)
        parts = int(self._blocks.shape[0])
        xs = x.unsqueeze(0).expand(parts, rows, int(x.shape[1]))
        if self._block_bias is None:
            y = torch.bmm(xs, self._blocks)
        else:
            y = torch.baddbmm(self._block_bias, xs, self._blocks)
        y = y.transpose(0, 1).reshape(rows, self._main)
        if self._tail is None:
            return y
        return torch.cat((y, _mm(x, self._tail, self._tail_bias)), dim=1)


def _mm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.mm(x, weight) if bias is None else torch.addmm(bias, x, weight)
