"""The lean GPT-2 forward against HF's: prefill + batched decode at per-row positions, slot
moves, and the CUDA-graph bucket padding run eagerly (capture itself needs a GPU)."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import torch

from bot.inference.gpt2 import Gpt2Forward, Gpt2Weights
from bot.inference.graphs import DecodeGraphs, batch_buckets, checked_graphs, length_buckets
from bot.inference.kvcache import SlotKvCache
from bot.inference.types import EngineRequest
from tests.engine_kit import (
    GREEDY,
    hf_greedy,
    make_engine,
    one_thread,  # noqa: F401  (autouse fixture)
    run_engine,
    tiny_model,
)


def _setup(transpose: bool | None = None, parts: int = 1) -> tuple[torch.nn.Module, Gpt2Forward]:
    model = tiny_model(seed=5, dtype=torch.float32, n_positions=64)
    weights = Gpt2Weights.from_hf(model, transpose_lm_head=transpose)
    cache = SlotKvCache(2, 4, 16, 4, 64, torch.float32, torch.device("cpu"))
    cache.reserve(4, 64)
    return model, Gpt2Forward(weights, cache, parts)


def _reference(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0, -1]


@pytest.mark.parametrize("parts", [1, 2, 3])  # 3: most products have a remainder column block
def test_decode_logits_match_transformers_per_row_positions(parts: int) -> None:
    for transpose in (True, False):
        model, forward = _setup(transpose, parts)
        torch.manual_seed(0)
        seqs = [torch.randint(0, 50257, (n,)).tolist() for n in (9, 5, 30, 17)]
        starts = [len(s) - 5 for s in seqs]  # the 5-token row starts from an empty cache
        with torch.inference_mode():
            for slot, (seq, start) in enumerate(zip(seqs, starts, strict=True)):
                forward.prefill(slot, torch.tensor(seq[:start], dtype=torch.long))
            for step in range(5):
                tokens = torch.tensor([s[st + step] for s, st in zip(seqs, starts, strict=True)])
                positions = torch.tensor([st + step for st in starts])
                logits = forward.decode(tokens, positions, int(positions.max()) + 1)
                for row, (seq, start) in enumerate(zip(seqs, starts, strict=True)):
                    ref = _reference(model, seq[: start + step + 1])
                    torch.testing.assert_close(logits[row], ref, atol=1e-5, rtol=0)


def test_moved_slot_decodes_like_the_original() -> None:
    model, forward = _setup()
    seq = torch.randint(0, 50257, (12,)).tolist()
    with torch.inference_mode():
        forward.prefill(3, torch.tensor(seq[:11]))
        forward.cache.move(torch.tensor([3]), torch.tensor([0]), 11)
        logits = forward.decode(torch.tensor([seq[11]]), torch.tensor([11]), 12)
    torch.testing.assert_close(logits[0], _reference(model, seq), atol=1e-5, rtol=0)


def test_cache_grows_and_keeps_contents() -> None:
    cache = SlotKvCache(1, 2, 4, 8, 100, torch.float32, torch.device("cpu"))
    assert cache.reserve(1, 10)
    cache.data.fill_(1.0)
    assert cache.reserve(3, 40)
    assert (cache.slots, cache.length) == (4, 64)
    assert float(cache.data[:, :, :1, :, :16].min()) == 1.0
    assert float(cache.data[:, :, 1:].abs().max()) == 0.0
    assert not cache.reserve(2, 20)
    assert cache.reserve(8, 100) and cache.length == 100


def test_bucket_lists() -> None:
    assert batch_buckets(64) == (1, 2, 4, 8, 16, 32, 64)
    assert batch_buckets(48) == (1, 2, 4, 8, 16, 32, 64)
    assert batch_buckets(1) == (1,)
    assert batch_buckets(100) == (1, 2, 4, 8, 16, 32, 64, 100)
    assert length_buckets(1024) == (128, 256, 512, 1024)
    assert length_buckets(64) == (64,)


def test_padded_bucket_decode_matches_unpadded(tokenizer) -> None:
    """The CUDA-graph path pads rows to a batch bucket and the span to a length bucket; run
    that padding eagerly on CPU: real rows must decode exactly as without it."""
    model = tiny_model(seed=7, n_positions=128)
    engine = make_engine(model, tokenizer, max_batch=8)
    engine._cache.reserve(8, 128)  # padded rows use free slots: make them exist
    engine._graphs = DecodeGraphs(
        engine._forward,
        engine._state.tokens,
        engine._state.positions,
        (1, 2, 4, 8),
        (16, 64, 128),
        replay=False,
    )
    prompts = [tuple(tokenizer.encode(t)) for t in ("Hi there", "A much longer prompt here", "x")]
    lengths = (12, 5, 9)
    requests = [
        EngineRequest(i, p, replace(GREEDY, max_new_tokens=n))
        for i, (p, n) in enumerate(zip(prompts, lengths, strict=True))
    ]
    run = run_engine(engine, requests[:2], joins={3: requests[2:]})
    assert 3 in run.batch_sizes  # batch 3 ran padded to the 4-row bucket
    for request in requests:
        expected = hf_greedy(model, request.prompt_ids, request.params.max_new_tokens)
        assert list(run.generations[request.request_id].token_ids) == expected


def _graphs(tokenizer, batch_buckets, spans) -> DecodeGraphs:
    """Graphs over a tiny engine, run eagerly (`replay=False`): capture itself needs a GPU."""
    engine = make_engine(tiny_model(seed=8, n_positions=128), tokenizer, max_batch=4)
    engine._cache.reserve(4, 128)
    state = engine._state
    return DecodeGraphs(engine._forward, state.tokens, state.positions, batch_buckets, spans, replay=False)


def test_graphs_that_pass_their_self_check_are_used(tokenizer) -> None:
    graphs = checked_graphs(_graphs(tokenizer, (1, 2, 4), (64, 128)))
    assert graphs is not None


def test_graphs_whose_replay_disagrees_are_dropped(tokenizer, monkeypatch, caplog) -> None:
    """Never run on a GPU here, so the engine must not trust its capture blindly: a replay
    that differs from the eager step turns graphs off with a warning instead of bad text."""
    run = DecodeGraphs.run
    monkeypatch.setattr(DecodeGraphs, "run", lambda self, b, s: run(self, b, s) + 0.5)
    with caplog.at_level(logging.WARNING, logger="bot.inference.graphs"):
        assert checked_graphs(_graphs(tokenizer, (1, 2, 4), (64, 128))) is None
    assert "CUDA graphs are off: the replayed step differs from the eager one" in caplog.text


def test_a_failed_capture_means_eager_decoding_not_a_failed_start(tokenizer, monkeypatch, caplog) -> None:
    def fail(self: DecodeGraphs) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(DecodeGraphs, "capture", fail)
    with caplog.at_level(logging.WARNING, logger="bot.inference.graphs"):
        assert checked_graphs(_graphs(tokenizer, (1, 2), (64,))) is None
    assert "capture failed: CUDA out of memory" in caplog.text


@pytest.mark.parametrize("parts", [1, 2])
def test_prefill_after_a_reused_prefix_equals_one_prefill(parts: int) -> None:
    """Positions 0..S-1 copied from another slot, S..P-1 prefilled on top: the next decode
    gives HF's logits (the masked attention over the prefix is right)."""
    model, forward = _setup(parts=parts)
    seq = torch.randint(0, 50257, (40,)).tolist()
    with torch.inference_mode():
        forward.prefill(0, torch.tensor(seq[:25]))  # an earlier, shorter turn
        prefix = forward.cache.read(0, 17)  # reuse only its first 17 positions
        forward.cache.load(2, prefix, 17)
        forward.prefill(2, torch.tensor(seq[17:39]), 17)
        logits = forward.decode(torch.tensor([0, 0, seq[39]]), torch.tensor([0, 0, 39]), 40)
    torch.testing.assert_close(logits[2], _reference(model, seq), atol=1e-5, rtol=0)
