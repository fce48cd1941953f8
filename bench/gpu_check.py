"""Engine correctness on a device: greedy output against `transformers` `generate`.

What the CPU test suite shows for the eager path, run where the CUDA-graph path runs (the
tests never reach a GPU: CI has none). For each dtype it runs a tiny random GPT-2 with a
1024-position window through the engine and compares every reply with HF `generate`
one prompt at a time:

* mixed-length prompts batched (3 rows: padded to the 4-row bucket);
* requests joining mid-generation, crossing the 4 → 8 row buckets and the 128 → 256
  attention-span buckets;
* the same run with CUDA graphs off must give the same tokens as with them on.

float32 must match exactly (a token may differ only where HF's two logits tie within 1e-4);
float16 / bfloat16 within that dtype's near-ties. Prints one line per check and exits 1 on
any failure.

    python bench/gpu_check.py --device cuda      # on the device machine
    python bench/gpu_check.py --device cpu       # the same checks, eagerly (a smoke test)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `tests` helpers

from bot.inference.tokenizer import packaged_tokenizer
from bot.inference.types import EngineRequest
from tests.engine_kit import GREEDY, hf_greedy, make_engine, run_engine, tiny_model

__all__ = ["main"]

TIES = {torch.float32: 1e-4, torch.float16: 0.02, torch.bfloat16: 0.1}
TEXTS = (
    "Alice: hi there, how are you doing today?\nBob:",
    "The",
    "In a shocking finding, scientists discovered a herd of unicorns living in a remote valley",
    "Bob: what is the capital of France?\nAlice: Paris.\nBob: and of Italy?\nAlice:",
)


def _requests(tokenizer: PreTrainedTokenizerBase) -> tuple[list[EngineRequest], dict[int, list[EngineRequest]]]:
    """Three first requests, then joins at steps 5 and 20 (up to 7 rows); one prompt is long
    enough that its row crosses 128 positions while running."""
    prompts = [tuple(tokenizer.encode(t)) for t in TEXTS]
    long_prompt = tuple(tokenizer.encode(" ".join(TEXTS * 3)))[:120]
    first = [
        EngineRequest(0, prompts[0], replace(GREEDY, max_new_tokens=40)),
        EngineRequest(1, long_prompt, replace(GREEDY, max_new_tokens=30)),
        EngineRequest(2, prompts[1], replace(GREEDY, max_new_tokens=12)),
    ]
    joins = {
        5: [EngineRequest(3, prompts[2], GREEDY), EngineRequest(4, prompts[3], GREEDY)],
        20: [EngineRequest(5, prompts[0], GREEDY), EngineRequest(6, long_prompt, GREEDY)],
    }
    return first, joins


def _mismatch(model: GPT2LMHeadModel, request: EngineRequest, ours: list[int], tie: float) -> str | None:
    """None if `ours` equals HF's greedy reply up to a near-tie at the first difference."""
    ref = hf_greedy(model, request.prompt_ids, request.params.max_new_tokens)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        if a != b:
            with torch.inference_mode():
                ids = torch.tensor([[*request.prompt_ids, *ref[:i]]], device=model.device)
                logits = model(ids).logits[0, -1].float()
            gap = abs(float(logits[a] - logits[b]))
            return None if gap < tie else f"request {request.request_id} differs at token {i} (logit gap {gap:.4f})"
    return None


def check(device: torch.device, dtype: torch.dtype, tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Failures (empty when every check passes)."""
    model = tiny_model(seed=3, n_positions=1024, dtype=torch.float32)
    torch.nn.Module.to(model, device=device, dtype=dtype)  # in place; transformers' wrapped `to` confuses mypy
    first, joins = _requests(tokenizer)
    everything = [*first, *(r for rs in joins.values() for r in rs)]
    failures: list[str] = []
    tokens: dict[bool, dict[int, tuple[int, ...]]] = {}
    for graphs in (True, False):
        engine = make_engine(model, tokenizer, max_batch=8, cuda_graphs=graphs)
        if graphs and device.type == "cuda" and engine._graphs is None:
            failures.append("CUDA graphs were turned off at start (capture failed or its self-check disagreed)")
        run = run_engine(engine, first, joins=joins)
        tokens[graphs] = {r.request_id: run.generations[r.request_id].token_ids for r in everything}
        if max(run.batch_sizes) < 5:
            failures.append(f"graphs={graphs}: largest batch {max(run.batch_sizes)}, expected 5 or more")
    for request in everything:
        problem = _mismatch(model, request, list(tokens[True][request.request_id]), TIES[dtype])
        if problem:
            failures.append(problem)
    if tokens[True] != tokens[False]:
        failures.append("CUDA graphs on and off gave different tokens")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtypes", default="float32,float16,bfloat16")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    tokenizer = packaged_tokenizer()
    failed = False
    for name in args.dtypes.split(","):
        failures = check(device, getattr(torch, name), tokenizer)
        failed |= bool(failures)
        print(f"{args.device} {name}: {'FAIL' if failures else 'ok'}", flush=True)
        for failure in failures:
            print(f"  - {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
