"""The learned classifier layer: a local model on its own thread, batched across concurrent
checks, combined with the rules by the documented rule. The model here is a tiny random
one built offline (bench/safety_tiny_model.py): these tests cover the plumbing, not quality."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.events import ChannelRef
from bot.safety import Category, Checker, Direction, MemorySafetyStore, Preset, Safety, resolve
from bot.safety.categories import Hit
from bot.safety.checker import combine
from bot.safety.classifiers import LABEL_MAP, ClassifierQueue, LocalModel, parse_labels, start_classifier
from tests.bench_scripts import load_bench

tiny = load_bench("safety_tiny_model")
STANDARD = resolve([], Preset.STANDARD)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tiny.build_tiny_classifier(tmp_path_factory.mktemp("tiny-classifier"))
    return path


async def test_concurrent_checks_are_scored_in_batches_off_the_event_loop(model_dir: Path) -> None:
    queue = start_classifier(str(model_dir), max_batch=64)
    assert queue is not None
    try:
        texts = [f"message number {i} in the chat" for i in range(40)]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        tick = asyncio.create_task(ticker())
        results = await asyncio.gather(*(queue.score(t) for t in texts))
        tick.cancel()
        assert len(results) == 40 and ticks > 0  # the loop kept running while the model scored
        assert all(set(r) == set(LABEL_MAP.values()) - {Category.SEXUAL} for r in results)
        assert all(0.0 <= s <= 1.0 for r in results for s in r.values())
        assert queue.batches < 40  # one forward pass served several checks
    finally:
        queue.close()


async def test_the_service_combines_the_model_with_the_rules(model_dir: Path) -> None:
    labels = [f"{label}=threat" for label in tiny.JIGSAW_LABELS]  # every label → one category the rules leave alone
    queue = start_classifier(str(model_dir), labels)
    assert queue is not None
    safety = Safety(MemorySafetyStore(), Checker(), Preset.STANDARD, classifier=queue)
    try:
        screen = await safety.screen(ChannelRef("console", "", "c"), "u1")
        verdict = await safety.check("hello there", screen.policy, Direction.INPUT)
        assert Category.THREAT in verdict.scores  # the model's score reached the decision
        hate = await safety.check("Immigrants are vermin", screen.policy, Direction.INPUT)
        assert hate.blocked and Category.SLUR_HATE in hate.categories  # the rules still decide what they see
    finally:
        safety.close()


class _Broken:
    name = "broken"
    device = "cpu"

    def score_batch(self, texts: Sequence[str]) -> list[Mapping[Category, float]]:
        raise RuntimeError("CUDA out of memory")


async def test_a_failing_model_leaves_the_rules_in_charge() -> None:
    queue = ClassifierQueue(_Broken())
    safety = Safety(MemorySafetyStore(), Checker(), Preset.STANDARD, classifier=queue)
    try:
        verdict = await safety.check("Immigrants are vermin", STANDARD, Direction.INPUT)
        assert verdict.blocked and not any(r.startswith("clf.") for r in verdict.rule_ids)
    finally:
        safety.close()


def test_a_missing_directory_means_rules_only(tmp_path: Path) -> None:
    assert start_classifier(str(tmp_path / "nowhere")) is None
    assert start_classifier("") is None


def test_the_combination_rule() -> None:
    rules = [Hit(Category.SLUR_HATE, 0.15, "hate.dehum.counter")]
    learned = {Category.SLUR_HATE: 0.99, Category.THREAT: 0.9, Category.PII: 1.0}
    hits = {h.category: h.score for h in combine(rules, learned, STANDARD, Direction.INPUT, "m")}
    assert Category.PII not in hits  # rules only
    assert hits[Category.THREAT] == 0.9  # the model adds what the rules did not see
    threshold = STANDARD.rule(Category.SLUR_HATE, Direction.INPUT).threshold
    assert hits[Category.SLUR_HATE] < threshold  # counter-speech: the model may flag, never block
    counter = 'People who say "immigrants are vermin" are bigots.'
    v = Checker().check(counter, STANDARD, Direction.INPUT, {Category.SLUR_HATE: 0.99}, "m")
    assert not v.blocked and v.scores[Category.SLUR_HATE] < threshold  # end to end: flagged at most
    plain = Checker().check("nice weather today", STANDARD, Direction.INPUT, {Category.SLUR_HATE: 0.99}, "m")
    assert plain.blocked and "clf.m" in plain.rule_ids  # where the rules saw nothing, the model decides


def test_labels_come_from_config(tmp_path: Path) -> None:
    assert parse_labels(()) is LABEL_MAP
    assert parse_labels(["Toxic=threat"]) == {"toxic": Category.THREAT}
    bad = tmp_path / "bad.toml"
    bad.write_text('[safety]\nclassifier_labels = ["toxic=rude"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(bad, environ={})
    assert "safety.classifier_labels" in str(err.value) and "slur_hate" in str(err.value)


def test_the_model_runs_on_the_configured_device(model_dir: Path) -> None:
    model = LocalModel(model_dir, device="cpu")
    with ThreadPoolExecutor(1) as pool:  # scoring pins its own thread to one CPU thread: not this one
        scores = pool.submit(model.score_batch, ["a", "b", "c"]).result()
    assert model.device == "cpu" and len(scores) == 3
