"""Beam search for one request, outside the continuous batch, with `transformers` `generate`.

Beam search multiplies compute by `num_beams` and its rows depend on each other, so it runs
alone (HF's own implementation, the reference the tests compare with). The stop pattern is
applied to the result afterwards. `BeamWorker` runs one such request at a time on a thread
of its own: the batch goes on decoding beside it instead of stalling for the whole beam
reply (bench/engine.py `--rows beam` measured a 60-token, 4-beam reply at ~100 steps' time).
"""

from __future__ import annotations

import concurrent.futures
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch
from transformers import GenerationConfig, GPT2LMHeadModel

from bot.inference.types import EngineRequest, SamplingParams

__all__ = ["BeamDone", "BeamWorker", "beam_search"]


@dataclass(frozen=True)
class BeamDone:
    request: EngineRequest
    added_at: float
    started: float
    tokens: list[int] | None  # None when it failed
    error: BaseException | None = None


class BeamWorker:
    """One beam-search request at a time, on its own thread (the model's weights are only read)."""

    def __init__(self, model: GPT2LMHeadModel, eos_token_id: int) -> None:
        self._model = model
        self._eos = eos_token_id
        self._pool: ThreadPoolExecutor | None = None
        self._running: tuple[EngineRequest, float, float, Future[list[int]]] | None = None

    @property
    def running(self) -> EngineRequest | None:
        """The request being searched, if any."""
        return self._running[0] if self._running is not None else None

    def start(self, request: EngineRequest, added_at: float) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpt2bot-beam")
        future = self._pool.submit(beam_search, self._model, request.prompt_ids, request.params, self._eos)
        self._running = (request, added_at, time.perf_counter(), future)

    def poll(self, wait_s: float = 0.0) -> BeamDone | None:
        """The finished request, waiting up to `wait_s` for it; None while it still runs."""
        if self._running is None:
            return None
        request, added_at, started, future = self._running
        concurrent.futures.wait([future], timeout=wait_s)
        if not future.done():
            return None
        self._running = None
        error = future.exception()
        return BeamDone(request, added_at, started, None if error else future.result(), error)

    def abandon(self) -> float:
        """Forget the running request (cancelled): it finishes unseen before the next one
        starts. Returns when the request was added."""
        assert self._running is not None
        added_at = self._running[1]
        self._running = None
        return added_at


def beam_search(
    model: GPT2LMHeadModel, prompt_ids: tuple[int, ...], params: SamplingParams, eos_token_id: int
) -> list[int]:
    """Generated token ids of the best beam (ending with EOS if the model emitted it)."""
    config = GenerationConfig(
        num_beams=params.num_beams,
        do_sample=False,
        max_new_tokens=params.max_new_tokens,
        repetition_penalty=params.repetition_penalty,
        no_repeat_ngram_size=params.no_repeat_ngram_size,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
    )
    device = next(model.parameters()).device
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
    generated: list[int] = out[0, len(prompt_ids) :].tolist()
    if eos_token_id in generated:  # drop padding after an early EOS
        generated = generated[: generated.index(eos_token_id) + 1]
    return generated
