"""Stop patterns and streaming inside the engine, and beam search against transformers."""

from __future__ import annotations

import re
import threading
from dataclasses import replace

import pytest
import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase

from bot.inference import beam
from bot.inference.types import EngineRequest, FinishReason
from tests.engine_kit import (
    GREEDY,
    hf_greedy,
    make_engine,
    one_thread,  # noqa: F401  (autouse fixture)
    run_engine,
    tiny_model,
)

LONG = replace(GREEDY, max_new_tokens=40, repetition_penalty=1.5)


@pytest.fixture(scope="module")
def model() -> GPT2LMHeadModel:
    return tiny_model(seed=6)


@pytest.fixture(scope="module")
def prompt(tokenizer: PreTrainedTokenizerBase) -> tuple[int, ...]:
    return tuple(tokenizer.encode("Carol: what did you do this weekend?\nDave:"))


def _free_text(model, tokenizer, prompt) -> tuple[str, list[int]]:
    ids = hf_greedy(model, prompt, LONG.max_new_tokens, repetition_penalty=1.5)
    return tokenizer.decode(ids), ids


def _assert_prefix_stream(deltas: list[str], final: str) -> None:
    """Streaming never showed anything that is not in the final reply."""
    shown = ""
    for delta in deltas:
        shown += delta
        assert final.startswith(shown)
    assert shown == final


def test_stop_pattern_cuts_the_reply_where_the_match_starts(model, tokenizer, prompt) -> None:
    text, ids = _free_text(model, tokenizer, prompt)
    stream = [tokenizer.decode(ids[:k]) for k in range(len(ids) + 1)]
    # a stop target that spans several tokens, starting on a token boundary mid-reply
    start = len(stream[len(ids) // 3])
    target = text[start : start + 12]
    gen_run = run_engine(
        make_engine(model, tokenizer),
        [EngineRequest(1, prompt, LONG, stop_pattern=re.escape(target)), EngineRequest(2, prompt, LONG)],
    )
    gen = gen_run.generations[1]
    cut = text.index(target)
    assert gen.finish_reason is FinishReason.STOP
    assert gen.text == text[:cut]
    assert tokenizer.decode(list(gen.token_ids)) == text[:cut]
    _assert_prefix_stream(gen_run.deltas[1], gen.text)
    # the request without a pattern beside it ran to its length, streaming all of its text
    other = gen_run.generations[2]
    assert other.finish_reason is FinishReason.LENGTH and other.text == text
    _assert_prefix_stream(gen_run.deltas[2], text)


def test_stop_match_inside_a_token(model, tokenizer, prompt) -> None:
    text, _ = _free_text(model, tokenizer, prompt)
    word = next(w for w in text.split() if len(w) >= 4)
    target = word[1:]  # starts one character into a token
    gen = run_engine(
        make_engine(model, tokenizer), [EngineRequest(1, prompt, LONG, stop_pattern=re.escape(target))]
    ).generations[1]
    cut = text.index(target)
    assert gen.text == text[:cut]
    kept = tokenizer.decode(list(gen.token_ids))
    assert gen.text.startswith(kept) and len(gen.text) - len(kept) < len(word)


def test_speaker_pattern_never_matches_plain_text(model, tokenizer, prompt) -> None:
    text, _ = _free_text(model, tokenizer, prompt)
    assert re.search(r"\n[^\n:]{1,40}:", text) is None  # so the reply must run to its length
    run = run_engine(
        make_engine(model, tokenizer),
        [EngineRequest(1, prompt, LONG, stop_pattern=r"\n[^\n:]{1,40}:")],
    )
    assert run.generations[1].text == text
    _assert_prefix_stream(run.deltas[1], text)


def _hf_beam(model, prompt, beams: int, max_new: int, **options: object) -> list[int]:
    ids = torch.tensor([list(prompt)])
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            num_beams=beams,
            do_sample=False,
            max_new_tokens=max_new,
            pad_token_id=50256,
            **options,
        )
    generated: list[int] = out[0, len(prompt) :].tolist()
    return generated


def test_beam_search_equals_transformers(model, tokenizer, prompt) -> None:
    params = replace(GREEDY, num_beams=3, max_new_tokens=12, repetition_penalty=1.3, no_repeat_ngram_size=2)
    greedy = EngineRequest(2, prompt, replace(GREEDY, max_new_tokens=12))
    run = run_engine(make_engine(model, tokenizer), [EngineRequest(1, prompt, params), greedy])
    expected = _hf_beam(model, prompt, 3, 12, repetition_penalty=1.3, no_repeat_ngram_size=2)
    gen = run.generations[1]
    assert list(gen.token_ids) == expected
    assert gen.finish_reason is FinishReason.LENGTH
    assert gen.text == tokenizer.decode(expected)
    assert list(run.generations[2].token_ids) == hf_greedy(model, prompt, 12)
    assert expected != list(run.generations[2].token_ids)  # beams really searched


def test_beam_search_respects_the_stop_pattern(model, tokenizer, prompt) -> None:
    params = replace(GREEDY, num_beams=2, max_new_tokens=16)
    text = tokenizer.decode(_hf_beam(model, prompt, 2, 16))
    target = text[len(text) // 2 : len(text) // 2 + 5]
    run = run_engine(make_engine(model, tokenizer), [EngineRequest(1, prompt, params, stop_pattern=re.escape(target))])
    gen = run.generations[1]
    assert gen.finish_reason is FinishReason.STOP
    assert gen.text == text[: text.index(target)]
    assert run.streamed(1) == gen.text


def test_the_batch_keeps_decoding_while_a_beam_search_runs(model, tokenizer, prompt, monkeypatch) -> None:
    """A beam reply runs on its own thread: greedy rows finish while it is still searching,
    and cancelling it answers at once."""
    release = threading.Event()
    real = beam.beam_search

    def slow_beam_search(*args: object) -> list[int]:
        release.wait(timeout=30)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(beam, "beam_search", slow_beam_search)
    engine = make_engine(model, tokenizer)
    engine.add(EngineRequest(1, prompt, replace(GREEDY, num_beams=2, max_new_tokens=8)))
    engine.add(EngineRequest(2, prompt, replace(GREEDY, max_new_tokens=8)))
    finished: dict[int, FinishReason] = {}
    for _ in range(20):
        for update in engine.step().updates:
            if update.finished and update.generation is not None:
                finished[update.request_id] = update.generation.finish_reason
        if 2 in finished:
            break
    assert finished == {2: FinishReason.LENGTH}  # the greedy reply is done; the beam still searches
    release.set()
    for _ in range(200):
        finished.update({u.request_id: u.generation.finish_reason for u in engine.step().updates if u.generation})
        if 1 in finished:
            break
    assert finished[1] is FinishReason.LENGTH and engine.active() == 0
    release.clear()
    engine.add(EngineRequest(3, prompt, replace(GREEDY, num_beams=2, max_new_tokens=8)))
    engine.step()
    engine.cancel(3)
    (update,) = engine.step().updates
    assert update.request_id == 3 and update.generation is not None
    assert update.generation.finish_reason is FinishReason.CANCELLED and engine.active() == 0
    release.set()
