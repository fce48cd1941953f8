"""Safety filters: precision, recall and false-positive rates, plus time per check.

    .venv/bin/python bench/safety_eval.py              # fixtures, HateCheck dev, timing
    .venv/bin/python bench/safety_eval.py --dev-errors # also list the dev cases it gets wrong
    .venv/bin/python bench/safety_eval.py --heldout    # also measure the held-out families

The held-out families are measured only with ``--heldout``, and only as aggregate numbers
(recall, FPR, balanced accuracy; per functionality with ``--per-functionality``): no
held-out text is ever printed. Every ``--heldout`` run appends its numbers, the commit and
the time to ``bench/safety_heldout_runs.log``, so the number of looks stays on record.

Prints, for the standard and strict presets:
  * per category on the project's own labelled fixtures (tests/fixtures/safety/), checked
    as the bot's output (where every category has an action), and the false-positive rate
    on 300+ lines of ordinary chat, in both directions;
  * HateCheck (Röttger et al., ACL 2021, CC BY 4.0; path from GPT2BOT_HATECHECK): the
    threshold sweep on the dev families, then dev (and, on request, held-out) results.
    Thresholds and word lists were chosen on dev only; no held-out text was looked at;
  * p50/p95 milliseconds per check on this CPU (fixtures, chat lines and dev cases).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
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
HELDOUT_LOG = Path(__file__).resolve().parent / "safety_heldout_runs.log"
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
        print(
            f"benign chat, {d.value}: {len(flagged)}/{len(benign)} = {len(flagged) / len(benign):.1%} "
            f"not allowed {flagged[:6]}"
        )


def _rates(pred: list[bool], cases: list[Case]) -> tuple[float, float, float]:
    pos = [p for p, c in zip(pred, cases, strict=True) if c.hateful]
    neg = [p for p, c in zip(pred, cases, strict=True) if not c.hateful]
    rec, fpr = sum(pos) / len(pos), sum(neg) / len(neg)
    return rec, fpr, (rec + 1 - fpr) / 2


def _predict(checker: Checker, preset: Preset, part: list[Case]) -> tuple[list[bool], list[bool]]:
    """(slur_hate blocked, anything blocked) per case, checked as input."""
    policy = resolve([], preset)
    verdicts = [checker.check(c.text, policy, Direction.INPUT) for c in part]
    return [v.blocked and Category.SLUR_HATE in v.categories for v in verdicts], [v.blocked for v in verdicts]


def _per_functionality(pred: list[bool], part: list[Case]) -> str:
    per_func: dict[str, list[bool]] = defaultdict(list)
    for p, c in zip(pred, part, strict=True):
        per_func[c.functionality].append(p == c.hateful)
    return "  " + "  ".join(f"{f} {sum(v) / len(v):.2f}" for f, v in sorted(per_func.items()))


def hatecheck_report(checker: Checker, heldout: bool, per_functionality: bool, dev_errors: bool) -> None:
    try:
        cases = load_cases()
    except FileNotFoundError as exc:
        print(f"\n## HateCheck: SKIPPED: {exc}")
        return
    dev = [c for c in cases if c.part == "dev"]
    held = [c for c in cases if c.part == "heldout"] if heldout else []
    n_held = sum(c.part == "heldout" for c in cases)
    print(f"\n## HateCheck ({len(cases)} cases; dev {len(dev)}, held-out {n_held}; split by template family)")
    dev_scores = [max((h.score for h in detect_hate(normalise(c.text))), default=0.0) for c in dev]
    print("threshold sweep on dev only (slur_hate score ≥ t):")
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        rec, fpr, bal = _rates([s >= t for s in dev_scores], dev)
        print(f"  t={t:.1f} recall {rec:.3f} FPR {fpr:.3f} balanced {bal:.3f}")
    print(
        f"{'preset':9s} {'part':8s} {'recall':>6s} {'FPR':>6s} {'bal.acc':>7s}   (hateful = slur_hate blocked on input)"
    )
    log_lines: list[str] = []
    for preset in (Preset.STANDARD, Preset.STRICT):
        for name, part in (("dev", dev), ("held-out", held)):
            if not part:
                continue
            pred, anyblock = _predict(checker, preset, part)
            rec, fpr, bal = _rates(pred, part)
            anyb = _rates(anyblock, part)
            line = (
                f"{preset.value:9s} {name:8s} {_pct(rec)} {_pct(fpr)} {bal:7.3f}   "
                f"(any block: recall {anyb[0]:.3f} FPR {anyb[1]:.3f} bal {anyb[2]:.3f})"
            )
            print(line)
            if name == "held-out":
                log_lines.append(line)
            if name == "dev":
                print(f"  dev accuracy per functionality ({preset.value}):\n" + _per_functionality(pred, part))
                if dev_errors:
                    for p, c in zip(pred, part, strict=True):
                        if p != c.hateful:
                            print(f"    dev miss [{preset.value}] {c.functionality}: {c.text}")
            elif per_functionality:
                print(f"  held-out accuracy per functionality ({preset.value}):\n" + _per_functionality(pred, part))
    if held:
        _packaged(held)
        _log_heldout(log_lines)
    else:
        print("held-out families: not measured (pass --heldout; every such run is logged)")


def _log_heldout(lines: list[str]) -> None:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "bot/safety"], capture_output=True, text=True).stdout
    except OSError:
        commit, dirty = "?", ""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with HELDOUT_LOG.open("a", encoding="utf-8") as fh:
        fh.write(f"# {stamp} commit {commit}{' +uncommitted bot/safety changes' if dirty else ''}\n")
        fh.writelines(f"{line}\n" for line in lines)


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
        texts += [c.text for c in load_cases() if c.part == "dev"][::2]  # dev only: held-out stays unseen
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
    print(
        f"\n## time per check ({len(times)} texts, one thread): p50 {statistics.median(times):.2f} ms, "
        f"p95 {p95:.2f} ms, max {times[-1]:.2f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heldout", action="store_true", help="also measure the held-out families (logged)")
    ap.add_argument("--per-functionality", action="store_true", help="held-out accuracy per functionality")
    ap.add_argument("--dev-errors", action="store_true", help="list the dev cases the detector gets wrong")
    args = ap.parse_args(argv)
    checker = Checker()
    for preset in (Preset.STANDARD, Preset.STRICT):
        fixture_report(checker, preset)
    hatecheck_report(checker, args.heldout, args.per_functionality, args.dev_errors)
    timing_report(checker)


if __name__ == "__main__":
    main()
