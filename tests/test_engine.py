"""BatchEngine against `transformers` `generate`: greedy equality solo, batched and with joins;
EOS, max_new_tokens, window, cancellation, admission limits and step failures."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase

from bot.inference.engine import BatchEngine, EngineStepError
from bot.inference.types import EngineRequest, FinishReason, SamplingParams
from tests.engine_kit import (
    GREEDY,
    hf_greedy,
    make_engine,
    one_thread,  # noqa: F401  (autouse fixture)
    run_engine,
    tiny_model,
)

PROMPTS = (
    "Alice: hi there, how are you doing today?\nBob:",
    "The",
    "In a shocking finding, scientists discovered a herd of unicorns living in a remote valley",
    "Bob: what is the capital of France?\nAlice: Paris.\nBob: and of Italy?\nAlice:",
)


@pytest.fixture(scope="module")
def model() -> GPT2LMHeadModel:
    return tiny_model(seed=1)


@pytest.fixture(scope="module")
def prompts(tokenizer: PreTrainedTokenizerBase) -> list[tuple[int, ...]]:
    return [tuple(tokenizer.encode(text)) for text in PROMPTS]


def _expected(model: GPT2LMHeadModel, prompt: tuple[int, ...], params: SamplingParams) -> list[int]:
    options = {}
    if params.repetition_penalty != 1.0:
        options["repetition_penalty"] = params.repetition_penalty
    if params.no_repeat_ngram_size:
        options["no_repeat_ngram_size"] = params.no_repeat_ngram_size
    return hf_greedy(model, prompt, params.max_new_tokens, **options)


def test_greedy_single_prompts_equal_transformers(model, tokenizer, prompts) -> None:
    for prompt in prompts:
        engine = make_engine(model, tokenizer)
        gen = run_engine(engine, [EngineRequest(1, prompt, GREEDY)]).generations[1]
        assert list(gen.token_ids) == _expected(model, prompt, GREEDY)
        assert gen.finish_reason is FinishReason.LENGTH
        assert gen.prompt_tokens == len(prompt)
        assert gen.text == tokenizer.decode(list(gen.token_ids))


def test_batch_of_different_lengths_equals_one_at_a_time(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer)
    lengths = (5, 16, 9, 12)  # rows leave at different steps: slots get compacted
    requests = [
        EngineRequest(i, p, replace(GREEDY, max_new_tokens=n))
        for i, (p, n) in enumerate(zip(prompts, lengths, strict=True))
    ]
    run = run_engine(engine, requests)
    assert run.batch_sizes[0] == 4
    for request in requests:
        gen = run.generations[request.request_id]
        assert list(gen.token_ids) == _expected(model, request.prompt_ids, request.params)
        assert gen.batch_size == 4
        assert run.streamed(request.request_id) == gen.text


def test_penalties_in_a_batch_equal_transformers(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer)
    settings = [
        replace(GREEDY, repetition_penalty=1.3, max_new_tokens=24),
        replace(GREEDY, no_repeat_ngram_size=2, max_new_tokens=24),
        replace(GREEDY, repetition_penalty=1.2, no_repeat_ngram_size=3, max_new_tokens=24),
        replace(GREEDY, max_new_tokens=24),
    ]
    requests = [EngineRequest(i, p, s) for i, (p, s) in enumerate(zip(prompts, settings, strict=True))]
    run = run_engine(engine, requests)
    for request in requests:
        expected = _expected(model, request.prompt_ids, request.params)
        assert list(run.generations[request.request_id].token_ids) == expected


@pytest.mark.parametrize("parts", [1, 2])  # 2: the column-split products of a 2-core CPU
def test_requests_joining_mid_generation_equal_transformers(model, tokenizer, prompts, parts) -> None:
    engine = make_engine(model, tokenizer, weight_parts=parts)
    first = EngineRequest(0, prompts[2], replace(GREEDY, max_new_tokens=20))
    joins = {
        3: [EngineRequest(1, prompts[0], GREEDY)],
        7: [EngineRequest(2, prompts[1], GREEDY), EngineRequest(3, prompts[3], GREEDY)],
    }
    run = run_engine(engine, [first], joins=joins)
    assert run.batch_sizes[:4] == [1, 1, 1, 2]
    assert max(run.batch_sizes) == 4
    for request in [first, *joins[3], *joins[7]]:
        gen = run.generations[request.request_id]
        assert list(gen.token_ids) == _expected(model, request.prompt_ids, request.params)


def test_float32_batch_matches_transformers_up_to_near_ties(tokenizer, prompts) -> None:
    model32 = tiny_model(seed=2, dtype=torch.float32)
    engine = make_engine(model32, tokenizer)
    requests = [EngineRequest(i, p, GREEDY) for i, p in enumerate(prompts)]
    run = run_engine(engine, requests)
    for request in requests:
        ours = list(run.generations[request.request_id].token_ids)
        ref = hf_greedy(model32, request.prompt_ids, GREEDY.max_new_tokens)
        for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
            if a != b:  # only allowed where fp32 logits of the two candidates (nearly) tie
                with torch.inference_mode():
                    ids = torch.tensor([[*request.prompt_ids, *ref[:i]]])
                    logits = model32(ids).logits[0, -1]
                assert abs(float(logits[a] - logits[b])) < 1e-4
                break


@pytest.mark.parametrize(("dtype", "tie"), [(torch.float16, 0.02), (torch.bfloat16, 0.1)])
def test_half_precision_batch_matches_transformers(tokenizer, prompts, dtype, tie) -> None:
    """The GPU dtypes, run eagerly on CPU: masks, softmax and sampling must survive fp16/bf16.
    Greedy rows batched beside a sampled row equal HF one at a time (up to near-ties in that
    dtype); the sampled row reproduces with its seed."""
    model = tiny_model(seed=2, dtype=dtype)
    sampled = SamplingParams(
        do_sample=True,
        temperature=0.8,
        top_k=40,
        top_p=0.9,
        repetition_penalty=1.2,
        no_repeat_ngram_size=3,
        num_beams=1,
        max_new_tokens=16,
        seed=11,
    )
    requests = [EngineRequest(i, p, GREEDY) for i, p in enumerate(prompts)]
    requests.append(EngineRequest(9, prompts[0], sampled))
    runs = [run_engine(make_engine(model, tokenizer, weight_parts=2), requests) for _ in range(2)]
    for request in requests[:-1]:
        ours = list(runs[0].generations[request.request_id].token_ids)
        ref = hf_greedy(model, request.prompt_ids, GREEDY.max_new_tokens)
        for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
            if a != b:
                with torch.inference_mode():
                    logits = model(torch.tensor([[*request.prompt_ids, *ref[:i]]])).logits[0, -1]
                assert abs(float(logits[a] - logits[b])) < tie
                break
    first, second = (run.generations[9].token_ids for run in runs)
    assert first == second and len(first) == 16


def test_eos_stops_and_is_not_part_of_the_reply(model, tokenizer, prompts) -> None:
    prompt = prompts[0]
    params = replace(GREEDY, repetition_penalty=1.5)
    free = _expected(model, prompt, params)
    cut = next(k for k in range(3, len(free)) if free[k] not in free[:k])
    eos = free[cut]  # pretend this greedy token is end-of-text
    engine = make_engine(model, tokenizer, eos=eos)
    gen = run_engine(engine, [EngineRequest(1, prompt, params)]).generations[1]
    assert gen.finish_reason is FinishReason.EOS
    assert list(gen.token_ids) == free[:cut]
    ref = hf_greedy(model, prompt, 16, eos_token_id=eos, repetition_penalty=1.5)
    assert ref == [*free[:cut], eos]


def test_max_new_tokens_is_exact(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer)
    for n in (1, 2, 7):
        request = EngineRequest(n, prompts[1], replace(GREEDY, max_new_tokens=n))
        gen = run_engine(engine, [request]).generations[n]
        assert len(gen.token_ids) == n
        assert gen.finish_reason is FinishReason.LENGTH


def test_window_cap(tokenizer) -> None:
    small = tiny_model(seed=3, n_positions=32)
    prompt = tuple(range(100, 126))  # 26 tokens: room for 6 more
    params = replace(GREEDY, max_new_tokens=20)
    with pytest.raises(ValueError, match="32-position window"):
        make_engine(small, tokenizer).add(EngineRequest(1, prompt, params))
    engine = make_engine(small, tokenizer, clip_to_window=True)
    gen = run_engine(engine, [EngineRequest(1, prompt, params)]).generations[1]
    assert gen.finish_reason is FinishReason.WINDOW
    assert len(prompt) + len(gen.token_ids) == 32
    assert list(gen.token_ids) == hf_greedy(small, prompt, 6)
    with pytest.raises(ValueError):  # a full prompt leaves no room at all
        engine.add(EngineRequest(2, tuple(range(32)), params))


def test_add_rejects_what_cannot_run(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer)
    engine.add(EngineRequest(1, prompts[0], GREEDY))
    bad = [
        EngineRequest(1, prompts[1], GREEDY),  # duplicate id
        EngineRequest(2, (), GREEDY),
        EngineRequest(3, (50257,), GREEDY),
        EngineRequest(4, prompts[0], replace(GREEDY, max_new_tokens=0)),
        EngineRequest(5, prompts[0], replace(GREEDY, top_p=0.0)),
        EngineRequest(6, prompts[0], GREEDY, stop_pattern="(unclosed"),
        EngineRequest(7, (1,) * 100, replace(GREEDY, max_new_tokens=29)),
    ]
    for request in bad:
        with pytest.raises(ValueError):
            engine.add(request)
    assert engine.active() == 1


def test_cancel_running_and_waiting(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer, max_batch=2)
    requests = [EngineRequest(i, p, replace(GREEDY, max_new_tokens=12)) for i, p in enumerate(prompts)]
    # 0 and 1 run, 2 and 3 wait; cancel 0 (running) and 3 (waiting) before step 4
    run = run_engine(engine, requests, cancels={4: [0, 3]})
    assert run.generations[0].finish_reason is FinishReason.CANCELLED
    assert len(run.generations[0].token_ids) == 4
    assert run.generations[3].finish_reason is FinishReason.CANCELLED
    assert run.generations[3].token_ids == ()
    assert max(run.batch_sizes) == 2
    for i in (1, 2):  # the others are unaffected by the freed slot being reused
        expected = _expected(model, requests[i].prompt_ids, requests[i].params)
        assert list(run.generations[i].token_ids) == expected
    assert engine.active() == 0
    engine.cancel(12345)  # unknown ids are ignored


def test_more_requests_than_slots_wait_their_turn(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer, max_batch=3)
    requests = [EngineRequest(i, prompts[i % 4], replace(GREEDY, max_new_tokens=4 + i)) for i in range(7)]
    run = run_engine(engine, requests)
    assert max(run.batch_sizes) == 3
    assert engine.active() == 0
    for request in requests:
        expected = _expected(model, request.prompt_ids, request.params)
        assert list(run.generations[request.request_id].token_ids) == expected


def test_prefill_budget_spreads_admissions(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer, max_prefill_tokens=20)
    requests = [EngineRequest(i, prompts[2], replace(GREEDY, max_new_tokens=6)) for i in range(3)]
    run = run_engine(engine, requests)  # each prompt is 17 tokens: one admission per step
    assert run.batch_sizes[:3] == [1, 2, 3]


def test_a_failed_step_drops_its_rows_and_the_engine_goes_on(model, tokenizer, prompts) -> None:
    engine: BatchEngine = make_engine(model, tokenizer)
    engine.add(EngineRequest(1, prompts[0], GREEDY))
    engine.add(EngineRequest(2, prompts[1], GREEDY))
    engine.step()
    engine.cancel(2)
    original = engine._forward.decode

    def broken(*args: object, **kwargs: object) -> torch.Tensor:
        raise RuntimeError("simulated device failure")

    engine._forward.decode = broken  # type: ignore[method-assign]
    with pytest.raises(EngineStepError) as info:
        engine.step()
    assert info.value.failed == (1,)
    assert [u.generation.finish_reason for u in info.value.updates if u.generation] == [FinishReason.CANCELLED]
    assert engine.active() == 0
    engine._forward.decode = original  # type: ignore[method-assign]
    gen = run_engine(engine, [EngineRequest(3, prompts[3], GREEDY)]).generations[3]
    assert list(gen.token_ids) == _expected(model, prompts[3], GREEDY)


def test_a_failed_prefill_drops_only_that_request(model, tokenizer, prompts) -> None:
    engine = make_engine(model, tokenizer)
    engine.add(EngineRequest(1, prompts[0], GREEDY))
    engine.step()
    original = engine._forward.prefill

    def broken(slot: int, ids: torch.Tensor, start: int = 0) -> None:
        raise RuntimeError("simulated out of memory")

    engine._forward.prefill = broken  # type: ignore[method-assign]
    engine.add(EngineRequest(2, prompts[2], GREEDY))
    with pytest.raises(EngineStepError) as info:
        engine.step()
    assert info.value.failed == (2,)
    engine._forward.prefill = original  # type: ignore[method-assign]
    run = run_engine(engine)
    assert list(run.generations[1].token_ids) == _expected(model, prompts[0], GREEDY)
