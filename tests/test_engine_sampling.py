"""Sampling inside the engine: top_k=1 is greedy, seeds reproduce (alone or batched), and every
sampled token survives HF's own processors and warpers at its step."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase
from transformers.generation.logits_process import (
    LogitsProcessorList,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from bot.inference.types import EngineRequest, SamplingParams
from tests.engine_kit import (
    GREEDY,
    make_engine,
    one_thread,  # noqa: F401  (autouse fixture)
    run_engine,
    tiny_model,
)

SAMPLED = SamplingParams(
    temperature=0.9,
    top_k=40,
    top_p=0.9,
    repetition_penalty=1.2,
    no_repeat_ngram_size=3,
    num_beams=1,
    max_new_tokens=20,
    do_sample=True,
)


@pytest.fixture(scope="module")
def model() -> GPT2LMHeadModel:
    return tiny_model(seed=4, dtype=torch.float32)


@pytest.fixture(scope="module")
def prompt(tokenizer: PreTrainedTokenizerBase) -> tuple[int, ...]:
    return tuple(tokenizer.encode("Alice: have you seen the new film?\nBob:"))


def _tokens(model, tokenizer, requests) -> dict[int, tuple[int, ...]]:
    run = run_engine(make_engine(model, tokenizer), requests)
    return {i: g.token_ids for i, g in run.generations.items()}


def test_top_k_one_is_greedy(model, tokenizer, prompt) -> None:
    greedy = replace(GREEDY, repetition_penalty=1.2, no_repeat_ngram_size=3, max_new_tokens=20)
    top1 = replace(SAMPLED, top_k=1, seed=7)
    out = _tokens(model, tokenizer, [EngineRequest(1, prompt, greedy), EngineRequest(2, prompt, top1)])
    assert out[1] == out[2]


def test_same_seed_same_sample_alone_or_batched(model, tokenizer, prompt) -> None:
    seeded = replace(SAMPLED, temperature=1.0, top_k=0, top_p=1.0, seed=1234)
    alone = _tokens(model, tokenizer, [EngineRequest(1, prompt, seeded)])[1]
    again = _tokens(model, tokenizer, [EngineRequest(1, prompt, seeded)])[1]
    others = [
        EngineRequest(2, prompt[:5], replace(SAMPLED, seed=None)),
        EngineRequest(3, prompt, GREEDY),
        EngineRequest(4, prompt[3:], replace(SAMPLED, seed=99, top_k=5)),
    ]
    batched = _tokens(model, tokenizer, [*others[:2], EngineRequest(1, prompt, seeded), others[2]])
    assert alone == again == batched[1]
    other_seed = _tokens(model, tokenizer, [EngineRequest(1, prompt, replace(seeded, seed=1235))])
    assert other_seed[1] != alone
    # unseeded requests draw a fresh seed each time
    unseeded = replace(seeded, seed=None)
    first = _tokens(model, tokenizer, [EngineRequest(1, prompt, unseeded)])[1]
    second = _tokens(model, tokenizer, [EngineRequest(1, prompt, unseeded)])[1]
    assert first != second


def test_sampled_tokens_survive_transformers_processors(model, tokenizer, prompt) -> None:
    settings = [
        SAMPLED,
        replace(SAMPLED, temperature=0.5, top_k=5, top_p=1.0, no_repeat_ngram_size=2),
        replace(SAMPLED, temperature=1.3, top_k=0, top_p=0.5, repetition_penalty=1.0),
    ]
    requests = [EngineRequest(i, prompt, replace(s, seed=i)) for i, s in enumerate(settings)]
    out = _tokens(model, tokenizer, requests)
    for request in requests:
        p = request.params
        processors = LogitsProcessorList(
            [
                RepetitionPenaltyLogitsProcessor(p.repetition_penalty),
                NoRepeatNGramLogitsProcessor(p.no_repeat_ngram_size),
                TemperatureLogitsWarper(p.temperature),
            ]
        )
        if p.top_k:
            processors.append(TopKLogitsWarper(p.top_k))
        if p.top_p < 1.0:
            processors.append(TopPLogitsWarper(p.top_p))
        sequence = list(request.prompt_ids)
        for token in out[request.request_id]:
            ids = torch.tensor([sequence])
            with torch.inference_mode():
                scores = processors(ids, model(ids).logits[:, -1].float())  # type: ignore[arg-type]
            assert torch.isfinite(scores[0, token]), (request.request_id, len(sequence))
            sequence.append(token)
