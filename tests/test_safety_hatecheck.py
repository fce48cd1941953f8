"""A quick check on a fixed sample of HateCheck's *dev* families (Röttger et al., ACL 2021,
CC BY 4.0): the rules must beat chance clearly. The full evaluation, including the
held-out families, is bench/safety_eval.py. Fails loudly when the data is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.safety.hate import detect_hate
from bot.safety.normalise import normalise
from tests.bench_scripts import load_bench

hatecheck = load_bench("safety_hatecheck")


def test_rules_beat_chance_on_a_dev_sample() -> None:
    cases = [c for c in hatecheck.load_cases() if c.part == "dev"][::10]  # raises with the fix if absent
    pos = [c for c in cases if c.hateful]
    neg = [c for c in cases if not c.hateful]
    hit = [max((h.score for h in detect_hate(normalise(c.text))), default=0.0) >= 0.5 for c in cases]
    by_case = dict(zip((id(c) for c in cases), hit, strict=True))
    recall = sum(by_case[id(c)] for c in pos) / len(pos)
    fpr = sum(by_case[id(c)] for c in neg) / len(neg)
    assert (recall + 1 - fpr) / 2 >= 0.75, (recall, fpr)


_PROBES = Path(__file__).resolve().parent / "fixtures" / "safety"


@pytest.mark.parametrize("name", ["hate_probes.tsv", "hate_probes_2.tsv"])
def test_project_probes_still_pass(name: str) -> None:
    """The project's own probes (no HateCheck text): other groups, wordings and shapes."""
    rows = [
        line.split("\t", 2)
        for line in (_PROBES / name).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    scores = [
        (label == "h", max((h.score for h in detect_hate(normalise(text))), default=0.0)) for label, _, text in rows
    ]
    for threshold in (0.5, 0.2):  # standard and strict block thresholds
        recall = sum(s >= threshold for h, s in scores if h) / sum(h for h, _ in scores)
        fpr = sum(s >= threshold for h, s in scores if not h) / sum(not h for h, _ in scores)
        assert recall >= 0.9 and fpr <= 0.05, (name, threshold, recall, fpr)


def test_split_keeps_template_families_apart() -> None:
    cases = hatecheck.load_cases()
    parts: dict[str, set[str]] = {}
    for c in cases:
        parts.setdefault(c.family, set()).add(c.part)
        parts.setdefault("t" + c.templ_id, set()).add(c.part)
    assert all(len(p) == 1 for p in parts.values())
    assert {c.part for c in cases} == {"dev", "heldout"}
