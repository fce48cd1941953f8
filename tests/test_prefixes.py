"""PrefixCache and its use by the engine: the next turn of a conversation reuses the keys and
values of the last one and still answers exactly as `transformers` does."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase

from bot.inference.engine import BatchEngine
from bot.inference.prefixes import MIN_REUSE, PrefixCache
from bot.inference.types import EngineRequest
from tests.engine_kit import (
    GREEDY,
    hf_greedy,
    make_engine,
    one_thread,  # noqa: F401  (autouse fixture)
    run_engine,
    tiny_model,
)


def kv(length: int, fill: float = 0.0) -> torch.Tensor:
    return torch.full((2, 2, 4, length, 16), fill)  # 1 KiB per position (float32)


def test_the_longest_shared_prefix_wins_and_is_taken_out() -> None:
    cache = PrefixCache(10**6)
    cache.put(range(20), kv(20, 1.0))
    cache.put([*range(12), 99, 99], kv(14, 2.0))
    taken = cache.take([*range(16), 7, 7])
    assert taken is not None
    count, got = taken
    assert count == 16 and float(got[0, 0, 0, 0, 0]) == 1.0
    assert len(cache) == 1 and cache.hits == 1 and cache.reused_tokens == 16
    again = cache.take([*range(16), 7, 7])
    assert again is not None and again[0] == 12  # the other entry now
    assert cache.take(range(30)) is None and cache.bytes == 0


def test_short_matches_are_not_reused() -> None:
    cache = PrefixCache(10**6)
    cache.put(range(20), kv(20))
    assert cache.take([*range(MIN_REUSE - 1), 500, 501]) is None
    assert cache.take([*range(MIN_REUSE), 500]) is not None


def test_the_budget_evicts_the_oldest() -> None:
    cache = PrefixCache(1024 * 50)  # room for 50 positions
    cache.put(range(100, 130), kv(30))
    cache.put(range(200, 230), kv(30))  # 60 positions: the first entry goes
    assert len(cache) == 1 and cache.bytes == 1024 * 30
    assert cache.take(range(100, 130)) is None and cache.take(range(200, 230)) is not None
    cache.put(range(300, 400), kv(100))  # larger than the whole budget: not kept
    assert len(cache) == 0


@pytest.fixture(scope="module")
def model() -> GPT2LMHeadModel:
    return tiny_model(seed=9, n_positions=256)


Turns = list[tuple[list[int], list[int]]]  # (ours, transformers') reply ids per turn


def _turns(
    tokenizer: PreTrainedTokenizerBase, model: GPT2LMHeadModel, prefix_cache_bytes: int
) -> tuple[Turns, BatchEngine]:
    """Three turns of one conversation: each prompt is the last prompt, its reply and a new line."""
    engine = make_engine(model, tokenizer, prefix_cache_bytes=prefix_cache_bytes)
    params = replace(GREEDY, max_new_tokens=12)
    prompt = tuple(tokenizer.encode("Alice: hi there, how are you doing today?\nBob:"))
    checked: Turns = []
    for turn, line in enumerate(("\nAlice: tell me more about it\nBob:", "\nAlice: and then?\nBob:", "")):
        run = run_engine(engine, [EngineRequest(turn, prompt, params)])
        reply = list(run.generations[turn].token_ids)
        checked.append((reply, hf_greedy(model, prompt, params.max_new_tokens)))
        prompt = (*prompt, *reply, *tokenizer.encode(line))
    return checked, engine


def test_later_turns_reuse_the_conversation_and_answer_like_transformers(tokenizer, model) -> None:
    checked, engine = _turns(tokenizer, model, 64 * 10**6)
    for ours, reference in checked:
        assert ours == reference
    prefixes = engine.prefixes
    assert prefixes is not None
    assert prefixes.hits == 2 and prefixes.reused_tokens > 2 * 12  # whole earlier turns, not a few tokens


def test_with_the_cache_off_nothing_is_kept(tokenizer, model) -> None:
    checked, engine = _turns(tokenizer, model, 0)
    assert all(ours == reference for ours, reference in checked)
    assert engine.prefixes is None


def test_a_prompt_that_diverges_midway_reuses_only_the_shared_part(tokenizer, model) -> None:
    engine = make_engine(model, tokenizer, prefix_cache_bytes=64 * 10**6)
    base = tuple(tokenizer.encode("Alice: the weather is lovely today, is it not? Bob: yes it is, very sunny."))
    other = (*base[:12], *tokenizer.encode(" something else entirely, about trains"))
    params = replace(GREEDY, max_new_tokens=10)
    run_engine(engine, [EngineRequest(1, base, params)])
    run = run_engine(engine, [EngineRequest(2, other, params)])
    assert engine.prefixes.reused_tokens == 12  # type: ignore[union-attr]
    assert list(run.generations[2].token_ids) == hf_greedy(model, other, 10)


def test_cancelled_requests_leave_nothing_behind(tokenizer, model) -> None:
    engine = make_engine(model, tokenizer, prefix_cache_bytes=64 * 10**6)
    prompt = tuple(tokenizer.encode("Alice: a prompt long enough to be worth keeping around\nBob:"))
    run_engine(engine, [EngineRequest(1, prompt, replace(GREEDY, max_new_tokens=30))], cancels={3: [1]})
    assert len(engine.prefixes) == 0  # type: ignore[arg-type]
