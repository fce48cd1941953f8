"""Weight products on CPU: `addmm` against the engine's column-split `Affine`.

Times the 48 block products of a GPT-2 size model (and its LM head) for several row counts,
median of `--repeats`, both ways in the same run, plus a plain `sum()` of the same weights as
the memory-streaming reference. Random weights; only speed is measured.

    python bench/products.py                 # gpt2 size, torch's thread count
    python bench/products.py --n-embd 1024 --layers 24
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch

from bot.inference.linear import Affine

__all__ = ["main"]


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _plain_products(weights: list[tuple[torch.Tensor, torch.Tensor]], inputs: list[torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        for (weight, bias), x in zip(weights, inputs, strict=True):
            torch.addmm(bias, x, weight)

    return run


def _split_products(maps: list[Affine], inputs: list[torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        for affine, x in zip(maps, inputs, strict=True):
            affine(x)

    return run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-embd", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=50257)
    parser.add_argument("--rows", default="1,4,16,64,256")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    d, parts = args.n_embd, torch.get_num_threads()
    torch.manual_seed(0)
    shapes = [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)] * args.layers
    weights = [(torch.randn(i, o), torch.randn(o)) for i, o in shapes]
    split = [Affine(w, b, parts) for w, b in weights]
    head = torch.randn(d, args.vocab)
    head_split = Affine(head, None, parts)
    block_bytes = sum(w.numel() * w.element_size() for w, _ in weights)
    print(f"\n{args.layers} blocks, n_embd {d}, fp32, {parts} threads ({parts} column blocks)\n")
    print("| product | rows | addmm ms | split ms | speed-up | split GB/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rows in (int(r) for r in args.rows.split(",")):
        xs = {n: torch.randn(rows, n) for n in (d, 4 * d)}
        inputs = [xs[w.shape[0]] for w, _ in weights]
        plain = _median_ms(_plain_products(weights, inputs), args.repeats)
        ours = _median_ms(_split_products(split, inputs), args.repeats)
        gbs = block_bytes / ours / 1e6
        row = f"| {len(weights)} block products | {rows} | {plain:.2f} | {ours:.2f}"
        print(f"{row} | {plain / ours:.2f}× | {gbs:.1f} |")
    x = torch.randn(1, d)
    plain = _median_ms(lambda: torch.mm(x, head), args.repeats)
    ours = _median_ms(lambda: head_split(x), args.repeats)
    gbs = head.numel() * head.element_size() / ours / 1e6
    print(f"| LM head [{d}, {args.vocab}] | 1 | {plain:.2f} | {ours:.2f} | {plain / ours:.2f}× | {gbs:.1f} |")
    stream = _median_ms(lambda: [w.sum() for w, _ in weights], args.repeats)
    print(f"\nstreaming reference: sum() of the block weights {stream:.2f} ms, {block_bytes / stream / 1e6:.1f} GB/s")


if __name__ == "__main__":
    main()
