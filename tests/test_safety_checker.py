"""The checker end to end: verdicts, marks, fixtures (PII neutralised, benign chat allowed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.safety import Category, Checker, Direction, Preset, resolve
from bot.safety.categories import Action, Hit
from bot.safety.policy import PolicyConfig, Scope

FIXTURES = Path(__file__).parent / "fixtures" / "safety"
CHECKER = Checker()
STANDARD = resolve([], Preset.STANDARD)


def _cases(*kinds: str) -> list[str]:
    rows = [line.split("\t", 2) for line in (FIXTURES / "cases.tsv").read_text("utf-8").splitlines()]
    return [r[2] for r in rows if len(r) == 3 and r[0] in kinds]


def test_output_redaction_marks() -> None:
    text = "mail a.b@example.com, @everyone see https://x.xyz/p and what the fuck"
    v = CHECKER.check(text, STANDARD, Direction.OUTPUT)
    assert v.action is Action.REDACT and v.ref
    assert v.text_out == "mail [email], @\u200beveryone see [link removed] and what the f***"
    assert {Category.PII, Category.MENTION, Category.LINK, Category.PROFANITY} <= set(v.categories)


def test_block_on_hate_and_clean_text_is_allowed() -> None:
    v = CHECKER.check("Immigrants are vermin", STANDARD, Direction.INPUT)
    assert v.blocked and Category.SLUR_HATE in v.categories and "hate.dehum" in v.rule_ids
    ok = CHECKER.check("hello, how are you?", STANDARD, Direction.OUTPUT)
    assert ok.action is Action.ALLOW and ok.text_out == "hello, how are you?" and ok.ref == ""


def test_redact_without_a_span_becomes_block() -> None:
    policy = resolve(
        [PolicyConfig(Scope.CHANNEL, "k", overrides=((Category.HARASSMENT, Direction.OUTPUT, Action.CENSOR),))]
    )
    v = CHECKER.check("you are a worthless idiot", policy, Direction.OUTPUT)
    assert v.blocked


def test_a_failing_classifier_does_not_disable_the_rules() -> None:
    class Broken:
        name = "broken"

        def score(self, text: str) -> dict[Category, float]:
            raise RuntimeError("model file missing")

    v = Checker([Broken()]).check("Immigrants are vermin", STANDARD, Direction.INPUT)
    assert v.blocked


def test_classifier_scores_feed_categories() -> None:
    class Fixed:
        name = "fixed"

        def score(self, text: str) -> dict[Category, float]:
            return {Category.THREAT: 0.99}

    assert Checker([Fixed()]).check("nice weather", STANDARD, Direction.OUTPUT).blocked


@pytest.mark.parametrize("preset", [Preset.STANDARD, Preset.STRICT])
def test_every_pii_secret_and_mention_fixture_is_neutralised(preset: Preset) -> None:
    policy = resolve([], preset)
    for text in _cases("pii", "secret", "mention"):
        v = CHECKER.check(text, policy, Direction.OUTPUT)
        assert v.action is not Action.ALLOW and v.text_out != text, text


def test_benign_chat_false_positives_at_most_3_percent() -> None:
    lines = [t for t in (FIXTURES / "benign_chat.txt").read_text("utf-8").splitlines() if t.strip()]
    assert len(lines) >= 300
    for direction in Direction:
        flagged = [t for t in lines if CHECKER.check(t, STANDARD, direction).action is not Action.ALLOW]
        assert len(flagged) / len(lines) <= 0.03, flagged


def test_hit_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Hit(Category.PII, 1.0, "x").score = 0.0  # type: ignore[misc]
