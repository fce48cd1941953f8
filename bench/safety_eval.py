"""Safety filters: precision, recall and false-positive rates, plus time per check.

    .venv/bin/python bench/safety_eval.py

Prints, for the standard and strict presets:
  * per category on the project's own labelled fixtures (tests/fixtures/safety/), checked
    as the bot's output (where every category has an action), and the false-positive rate
    on 300+ lines of ordinary chat, in both directions;
  * HateCheck (Röttger et al., ACL 2021, CC BY 4.0; path from GPT2BOT_HATECHECK): the
    threshold sweep on the dev families, then dev and held-out results. Thresholds and
    word lists were chosen on dev only; no held-out template family was looked at;
  * p50/p95 milliseconds per check on this CPU.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from safety_hatecheck import Case, load_cases

from bot.safety import Category, Checker, Direction, Preset, resolve
from bot.safety.categories import Action
from bot.safety.hate import detect_hate
from bot.safety.normalise import normalise

FIXTURES = Path(__file__).resolve().parents[1] / "tests/fixtures/safety"
SPAN_KINDS = {"pii": Category.PII, "secret": Category.SECRET, "mention": Category.MENTION}


def load_fixtures() -> tuple[list[tuple[str, frozenset[Category], str]], list[str]]:
    cases = []
    for line in (FIXTURES / "cases.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        kind, cats, text = line.split("\t", 2)
        expected = frozenset() if cats == "-" else frozenset(Category(c) for c in cats.split(","))
        cases.append((kind, expected, text))
    benign = [t for t in (FIXTURES / "benign_chat.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    return cases, benign


def _pct(x: float) -> str:
    return f"{x:6.3f}"


def fixture_report(checker: Checker, preset: Preset) -> None:
    cases, benign = load_fixtures()
    policy = resolve([], preset)
    stats: dict[Category, Counter[str]] = defaultdict(Counter)
    unneutralised = []
    for kind, expected, text in cases + [("benign", frozenset(), t) for t in benign]:
        v = checker.check(text, policy, Direction.OUTPUT)
        for c in Category:
            key = ("tp" if c in v.categories else "fn") if c in expected else ("fp" if c in v.categories else "tn")
            stats[c][key] += 1
        if kind in SPAN_KINDS and (v.action is Action.ALLOW or (not v.blocked and v.text_out == text)):
            unneutralised.append(text)
    print(f"\n## fixtures, preset {preset.value} (checked as output; {len(cases)} labelled + {len(benign)} chat)")
    print(f"{'category':14s} {'n+':>4s} {'prec':>6s} {'recall':>6s} {'FPR':>6s}")
    for c in Category:
        s = stats[c]
        pos, neg = s["tp"] + s["fn"], s["fp"] + s["tn"]
        prec = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else float("nan")
        rec = s["tp"] / pos if pos else float("nan")
        print(f"{c.value:14s} {pos:4d} {_pct(prec)} {_pct(rec)} {_pct(s['fp'] / neg)}")
    print(f"PII/secret/mention cases not redacted or neutralised: {len(unneutralised)} {unneutralised}")
    for d in Direction:
        flagged = [t for t in benign if checker.check(t, policy, d).action is not Action.ALLOW]
        print(f"benign chat, {d.value}: {len(flagged)}/{len(benign)} = {len(flagged) / len(benign):.1%} "
              f"not allowed {flagged[:6]}")  # fmt: skip


def _rates(pred: list[bool], cases: list[Case]) -> tuple[float, float, float]:
    pos = [p for p, c in zip(pred, cases, strict=True) if c.hateful]
    neg = [p for p, c in zip(pred, cases, strict=True) if not c.hateful]
    rec, fpr = sum(pos) / len(pos), sum(neg) / len(neg)
    return rec, fpr, (rec + 1 - fpr) / 2


def hatecheck_report(checker: Checker) -> None:
    try:
        cases = load_cases()
    except FileNotFoundError as exc:
        print(f"\n## HateCheck: SKIPPED: {exc}")
        return
    dev = [c for c in cases if c.part == "dev"]
    held = [c for c in cases if c.part == "heldout"]
    print(f"\n## HateCheck ({len(cases)} cases; dev {len(dev)}, held-out {len(held)}; split by template family)")
    dev_scores = [max((h.score for h in detect_hate(normalise(c.text))), default=0.0) for c in dev]
    print("threshold sweep on dev only (slur_hate score ≥ t):")
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        rec, fpr, bal = _rates([s >= t for s in dev_scores], dev)
        print(f"  t={t:.1f} recall {rec:.3f} FPR {fpr:.3f} balanced {bal:.3f}")
    print(
        f"{'preset':9s} {'part':8s} {'recall':>6s} {'FPR':>6s} {'bal.acc':>7s}   (hateful = slur_hate blocked on input)"
    )
    per_func: dict[str, list[bool]] = defaultdict(list)
    for preset in (Preset.STANDARD, Preset.STRICT):
        policy = resolve([], preset)
        for name, part in (("dev", dev), ("held-out", held)):
            verdicts = [checker.check(c.text, policy, Direction.INPUT) for c in part]
            pred = [v.blocked and Category.SLUR_HATE in v.categories for v in verdicts]
            rec, fpr, bal = _rates(pred, part)
            anyb = _rates([v.blocked for v in verdicts], part)
            print(f"{preset.value:9s} {name:8s} {_pct(rec)} {_pct(fpr)} {bal:7.3f}   "
                  f"(any block: recall {anyb[0]:.3f} FPR {anyb[1]:.3f} bal {anyb[2]:.3f})")  # fmt: skip
            if preset is Preset.STANDARD and name == "held-out":
                for p, c in zip(pred, part, strict=True):
                    per_func[c.functionality].append(p == c.hateful)
    print("held-out accuracy per functionality (standard):")
    print("  " + "  ".join(f"{f} {sum(v) / len(v):.2f}" for f, v in sorted(per_func.items())))
    _packaged(held)


def _packaged(held: list[Case]) -> None:
    try:
        from profanity_check import predict_prob
    except ImportError:
        print("alt-profanity-check not installed: packaged-detector comparison skipped")
        return
    probs = predict_prob([c.text for c in held])
    rec, fpr, bal = _rates([float(p) > 0.5 for p in probs], held)
    print(f"alt-profanity-check on held-out (p>0.5): recall {rec:.3f} FPR {fpr:.3f} balanced {bal:.3f}")


def timing_report(checker: Checker) -> None:
    cases, benign = load_fixtures()
    texts = [t for _, _, t in cases] + benign
    with contextlib.suppress(FileNotFoundError):
        texts += [c.text for c in load_cases()][::4]
    policy = resolve([], Preset.STANDARD)
    for t in texts[:50]:
        checker.check(t, policy, Direction.INPUT)  # warm caches (lexicons, vocabulary)
    times = []
    for t in texts:
        start = time.perf_counter()
        checker.check(t, policy, Direction.OUTPUT)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"\n## time per check ({len(times)} texts, one thread): p50 {statistics.median(times):.2f} ms, "
          f"p95 {p95:.2f} ms, max {times[-1]:.2f} ms")  # fmt: skip


def main() -> None:
    checker = Checker()
    for preset in (Preset.STANDARD, Preset.STRICT):
        fixture_report(checker, preset)
    hatecheck_report(checker)
    timing_report(checker)


if __name__ == "__main__":
    main()
