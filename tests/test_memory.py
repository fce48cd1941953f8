"""How many KV-cache slots fit: slot sizes, the fitting rule, and the engine staying inside it."""

from __future__ import annotations

import pytest
import torch

from bot.inference.kvcache import SlotKvCache
from bot.inference.memory import KvFit, available_bytes, fit_batch, fit_model, slot_bytes

MB = 1_000_000


def test_slot_bytes_equal_a_real_full_slot() -> None:
    cache = SlotKvCache(3, 4, 16, 1, 96, torch.float16, torch.device("cpu"), preallocate=True)
    assert slot_bytes(3, 64, 96, torch.float16) == cache.nbytes()
    assert slot_bytes(24, 1024, 1024, torch.float32) == 201_326_592  # gpt2-medium, fp32
    assert slot_bytes(48, 1600, 1024, torch.float16) == 314_572_800  # gpt2-xl, fp16


def test_a_batch_that_fits_is_kept() -> None:
    fit = fit_batch(64, 10 * MB, 2000 * MB, 0.5, graph_buckets=False)
    assert (fit.max_batch, fit.slots, fit.lowered) == (64, 64, False)


def test_cpu_lowers_to_what_fits() -> None:
    fit = fit_batch(64, 10 * MB, 500 * MB, 0.5, graph_buckets=False)  # 250 MB for 10 MB slots
    assert (fit.max_batch, fit.slots, fit.lowered) == (25, 25, True)
    assert "25 slots x 10 MB = 250 MB" in fit.describe() and "50% of 500 MB free" in fit.describe()


def test_cuda_graphs_lower_to_a_bucket_and_count_the_rounding() -> None:
    # 48 rows would allocate the 64-row bucket: 640 MB > 400 MB, so 32 (320 MB) it is
    assert fit_batch(48, 10 * MB, 500 * MB, 0.8, graph_buckets=True).max_batch == 32
    assert fit_batch(48, 10 * MB, 900 * MB, 0.8, graph_buckets=True).slots == 64  # fits: kept
    assert fit_batch(100, 10 * MB, 900 * MB, 0.8, graph_buckets=True).max_batch == 64


def test_never_below_one_and_unknown_memory_is_not_checked() -> None:
    assert fit_batch(64, 10 * MB, 1 * MB, 0.5, graph_buckets=True).max_batch == 1
    assert fit_batch(64, 10 * MB, 1 * MB, 0.5, graph_buckets=False).max_batch == 1
    unknown = fit_batch(64, 10 * MB, None, 0.5, graph_buckets=False)
    assert unknown.max_batch == 64 and "not checked" in unknown.describe()


def test_this_machine_reports_its_memory() -> None:
    free = available_bytes(torch.device("cpu"))
    assert free is not None and free > 0
    assert available_bytes(torch.device("mps")) is None


def test_fit_model_uses_the_models_shape_and_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.engine_kit import tiny_model

    model = tiny_model(n_positions=128, dtype=torch.float32)  # 2 layers, 64 wide: 131,072 B per slot
    monkeypatch.setattr("bot.inference.memory.available_bytes", lambda device: 1_048_576)
    fit = fit_model(model, 64, cuda_graphs=True)
    assert fit == KvFit(4, 64, 4, 131_072, 1_048_576, 0.5)  # CPU: no buckets, half of 1 MiB


def test_the_engine_stays_within_a_lowered_batch(tokenizer) -> None:
    from bot.inference.types import EngineRequest
    from tests.engine_kit import GREEDY, hf_greedy, make_engine, run_engine, tiny_model

    model = tiny_model(seed=4, n_positions=128)
    per_slot = slot_bytes(2, 64, 128, torch.float64)
    fit = fit_batch(8, per_slot, 3 * per_slot * 2, 0.5, graph_buckets=False)
    assert fit.max_batch == 3
    engine = make_engine(model, tokenizer, max_batch=fit.max_batch)
    prompts = [tuple(tokenizer.encode(f"Message number {i}:")) for i in range(6)]
    run = run_engine(engine, [EngineRequest(i, p, GREEDY) for i, p in enumerate(prompts)])
    assert max(run.batch_sizes) == 3
    assert engine._cache.slots <= 3 and engine._cache.nbytes() <= 3 * per_slot
    for i, prompt in enumerate(prompts):
        assert list(run.generations[i].token_ids) == hf_greedy(model, prompt, GREEDY.max_new_tokens)


def test_the_prefix_cache_comes_first_but_takes_at_most_a_quarter(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.engine_kit import tiny_model

    model = tiny_model(n_positions=128, dtype=torch.float32)  # 131,072 B per slot
    monkeypatch.setattr("bot.inference.memory.available_bytes", lambda device: 4_000_000)
    fit = fit_model(model, 64, cuda_graphs=False, prefix_bytes=3_000_000)
    assert fit.prefix_bytes == 1_000_000 and fit.available == 3_000_000
    assert fit.max_batch == 11  # half of the 3 MB left, in 131 kB slots
    assert "prefix cache 1 MB" in fit.describe()
    small = fit_model(model, 64, cuda_graphs=False, prefix_bytes=200_000)
    assert small.prefix_bytes == 200_000 and small.available == 3_800_000
