"""A quick check on a fixed sample of HateCheck's *dev* families (Röttger et al., ACL 2021,
CC BY 4.0): the rules must beat chance clearly. The full evaluation, including the
held-out families, is bench/safety_eval.py. Fails loudly when the data is missing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from bot.safety.hate import detect_hate
from bot.safety.normalise import normalise

_spec = importlib.util.spec_from_file_location(
    "safety_hatecheck", Path(__file__).resolve().parents[1] / "bench" / "safety_hatecheck.py"
)
assert _spec and _spec.loader
hatecheck = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("safety_hatecheck", hatecheck)
_spec.loader.exec_module(hatecheck)


def test_rules_beat_chance_on_a_dev_sample() -> None:
    cases = [c for c in hatecheck.load_cases() if c.part == "dev"][::10]  # raises with the fix if absent
    pos = [c for c in cases if c.hateful]
    neg = [c for c in cases if not c.hateful]
    hit = [max((h.score for h in detect_hate(normalise(c.text))), default=0.0) >= 0.5 for c in cases]
    by_case = dict(zip((id(c) for c in cases), hit, strict=True))
    recall = sum(by_case[id(c)] for c in pos) / len(pos)
    fpr = sum(by_case[id(c)] for c in neg) / len(neg)
    assert (recall + 1 - fpr) / 2 >= 0.75, (recall, fpr)


def test_split_keeps_template_families_apart() -> None:
    cases = hatecheck.load_cases()
    parts: dict[str, set[str]] = {}
    for c in cases:
        parts.setdefault(c.family, set()).add(c.part)
        parts.setdefault("t" + c.templ_id, set()).add(c.part)
    assert all(len(p) == 1 for p in parts.values())
    assert {c.part for c in cases} == {"dev", "heldout"}
