"""Helpers for the engine tests: tiny random GPT-2s, an engine over them, a step loop, and
`transformers` `generate` as the reference."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerBase

from bot.inference.engine import BatchEngine
from bot.inference.types import EngineRequest, Generation, ModelInfo
from bot.settings import sampling_params

__all__ = [
    "GREEDY",
    "Run",
    "hf_greedy",
    "make_engine",
    "one_thread",
    "run_engine",
    "tiny_model",
]

GREEDY = sampling_params(do_sample=False, repetition_penalty=1.0, no_repeat_ngram_size=0, max_new_tokens=16)


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from a second thread, and on a shared 2-core machine every
    parallel region can wait a whole time slice for the other thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(
    seed: int = 0, n_positions: int = 128, dtype: torch.dtype = torch.float64, n_embd: int = 64
) -> GPT2LMHeadModel:
    """A random GPT-2 with the real vocabulary (dropout off)."""
    torch.manual_seed(seed)
    config = GPT2Config(
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=2,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(config).to(dtype).eval()  # type: ignore[arg-type]


def make_engine(
    model: GPT2LMHeadModel,
    tokenizer: PreTrainedTokenizerBase,
    max_batch: int = 8,
    eos: int = 50256,
    **options: object,
) -> BatchEngine:
    info = ModelInfo(
        name="tiny",
        device="cpu",
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        n_positions=int(model.config.n_positions),
        n_params=sum(p.numel() for p in model.parameters()),
        eos_token_id=eos,
    )
    return BatchEngine(model, tokenizer, info, max_batch, **options)  # type: ignore[arg-type]


@dataclass
class Run:
    generations: dict[int, Generation] = field(default_factory=dict)
    deltas: dict[int, list[str]] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)

    def streamed(self, request_id: int) -> str:
        return "".join(self.deltas.get(request_id, []))


def run_engine(
    engine: BatchEngine,
    requests: Sequence[EngineRequest] = (),
    joins: Mapping[int, Sequence[EngineRequest]] | None = None,
    cancels: Mapping[int, Sequence[int]] | None = None,
    max_steps: int = 1000,
) -> Run:
    """Add `requests`, then step until idle; `joins[n]` are added and `cancels[n]` cancelled
    just before step `n` (0-based)."""
    out = Run()
    for request in requests:
        engine.add(request)
    for step in range(max_steps):
        for request in (joins or {}).get(step, ()):
            engine.add(request)
        for request_id in (cancels or {}).get(step, ()):
            engine.cancel(request_id)
        pending = any(n > step for n in (joins or {}))
        if engine.active() == 0 and not pending:
            return out
        result = engine.step()
        out.batch_sizes.append(result.batch_size)
        for update in result.updates:
            out.deltas.setdefault(update.request_id, []).append(update.delta)
            if update.finished:
                assert update.generation is not None
                out.generations[update.request_id] = update.generation
    raise AssertionError("engine did not finish")


def hf_greedy(model: GPT2LMHeadModel, prompt: Sequence[int], max_new_tokens: int, **options: Any) -> list[int]:
    """`generate(do_sample=False)` on one prompt; the generated ids."""
    ids = torch.tensor([list(prompt)], device=model.device)
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=50256,
            **options,
        )
    generated: list[int] = out[0, len(prompt) :].tolist()
    return generated
