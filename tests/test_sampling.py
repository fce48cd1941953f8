"""The vectorised logits processors against transformers' own, on fixed logits, and the
counter-based sampler's distribution."""

from __future__ import annotations

import pytest
import torch
from transformers.generation.logits_process import (
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from bot.inference.sampling import (
    SamplingPlan,
    apply_repetition_penalty,
    ban_repeated_ngrams,
    candidates,
    draw,
    uniforms,
)
from bot.settings import sampling_params
from tests.engine_kit import one_thread  # noqa: F401  (autouse fixture)

VOCAB = 50


@pytest.fixture
def scores() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(4, VOCAB) * 3


def _history(lengths: list[int], width: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of small-alphabet tokens (so n-grams repeat), padded with junk past each length."""
    torch.manual_seed(1)
    history = torch.randint(0, 6, (len(lengths), width))
    for row, n in enumerate(lengths):
        history[row, n:] = torch.randint(6, VOCAB, (width - n,))  # must be ignored
    return history, torch.tensor(lengths)


def test_repetition_penalty_matches_transformers(scores: torch.Tensor) -> None:
    history, lengths = _history([1, 7, 25, 40])
    penalties = [1.0, 1.2, 0.8, 2.0]
    ours = apply_repetition_penalty(scores, history, lengths, torch.tensor(penalties))
    for row, (n, p) in enumerate(zip(lengths.tolist(), penalties, strict=True)):
        ref = RepetitionPenaltyLogitsProcessor(p)(history[row : row + 1, :n], scores[row : row + 1])
        torch.testing.assert_close(ours[row], ref[0])


def test_no_repeat_ngram_matches_transformers(scores: torch.Tensor) -> None:
    history, lengths = _history([1, 5, 12, 40])
    for sizes in ([1, 2, 3, 4], [2, 0, 3, 2], [0, 0, 0, 0]):
        ours = ban_repeated_ngrams(scores, history, lengths, torch.tensor(sizes), max(sizes))
        for row, (n, size) in enumerate(zip(lengths.tolist(), sizes, strict=True)):
            ref = scores[row : row + 1]
            if size:
                ref = NoRepeatNGramLogitsProcessor(size)(history[row : row + 1, :n], ref.clone())
            assert torch.equal(ours[row], ref[0]), (sizes, row)
        if max(sizes) >= 2:
            assert torch.isinf(ours).any()  # the case really bans something


def _full(values: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return torch.full((values.shape[0], VOCAB), float("-inf")).scatter(1, ids, values)


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [
        ([1.0, 0.7, 1.5, 0.3], [0, 5, 10, 1], [1.0, 1.0, 1.0, 1.0]),
        ([1.0, 0.7, 1.5, 0.3], [0, 0, 0, 0], [0.9, 0.5, 0.95, 0.2]),
        ([0.8, 1.0, 1.2, 0.5], [40, 3, 0, 20], [0.9, 0.6, 0.8, 1.0]),
    ],
)
def test_temperature_top_k_top_p_match_transformers(
    scores: torch.Tensor, temperature: list[float], top_k: list[int], top_p: list[float]
) -> None:
    plan = SamplingPlan.of(
        [sampling_params(temperature=t, top_k=k, top_p=p) for t, k, p in zip(temperature, top_k, top_p, strict=True)],
        VOCAB,
    )
    values, ids = candidates(scores, torch.tensor(temperature), torch.tensor(top_k), torch.tensor(top_p), plan.limit)
    ours = _full(values, ids)
    for row in range(4):
        ref = scores[row : row + 1].clone()
        dummy = torch.zeros(1, 1, dtype=torch.long)
        if temperature[row] != 1.0:
            ref = TemperatureLogitsWarper(temperature[row])(dummy, ref)
        if top_k[row]:
            ref = TopKLogitsWarper(top_k[row])(dummy, ref)
        if top_p[row] < 1.0:
            ref = TopPLogitsWarper(top_p[row])(dummy, ref)
        torch.testing.assert_close(ours[row], ref[0])
        assert (ours[row] == float("-inf")).sum() == (ref[0] == float("-inf")).sum()


def test_plan_limits_candidates_only_when_every_sampled_row_has_top_k() -> None:
    greedy = sampling_params(do_sample=False, top_k=0)
    assert SamplingPlan.of([sampling_params(top_k=40), greedy], 1000).limit == 40
    assert SamplingPlan.of([sampling_params(top_k=40), sampling_params(top_k=0)], 1000).limit == 1000
    plan = SamplingPlan.of([greedy], 1000)
    assert not plan.sample and plan.max_ngram == 3 and plan.penalty


def test_uniforms_are_deterministic_and_spread() -> None:
    seeds = torch.arange(20000) % 100
    steps = torch.arange(20000) // 100
    u = uniforms(seeds, steps)
    assert torch.equal(u, uniforms(seeds, steps))
    assert float(u.min()) > 0.0 and float(u.max()) < 1.0
    counts = torch.histc(u, bins=10, min=0.0, max=1.0)
    assert float((counts - 2000).abs().max()) < 200  # ~4.5 sigma
    # neighbouring seeds and steps are not correlated
    assert abs(float(torch.corrcoef(torch.stack([u[:-1], u[1:]]))[0, 1])) < 0.03


def test_draw_follows_the_filtered_distribution() -> None:
    torch.manual_seed(2)
    logits = torch.randn(1, VOCAB).expand(40000, VOCAB)
    n = logits.shape[0]
    values, ids = candidates(logits, torch.full((n,), 0.8), torch.full((n,), 8), torch.ones(n), 8)
    tokens = draw(values, ids, uniforms(torch.arange(n), torch.zeros(n, dtype=torch.long)))
    probs = torch.softmax(logits[0] / 0.8, dim=0)
    top = probs.topk(8)
    expected = torch.zeros(VOCAB).index_put_((top.indices,), top.values / top.values.sum())
    freq = torch.bincount(tokens, minlength=VOCAB).float() / n
    assert set(tokens.unique().tolist()) <= set(top.indices.tolist())
    sigma = (expected * (1 - expected) / n).sqrt()
    assert bool(((freq - expected).abs() <= 5 * sigma + 1e-6).all())
