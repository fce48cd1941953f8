"""Safety filters: every evaluation set side by side, plus time per check.

    .venv/bin/python bench/safety_eval.py              # everything but the held-out halves
    .venv/bin/python bench/safety_eval.py --dev-errors # also list the dev cases it gets wrong
    .venv/bin/python bench/safety_eval.py --heldout    # also HateCheck's and the chat set's held-out halves
    .venv/bin/python bench/safety_eval.py --chat-heldout  # only the chat set's held-out half

The held-out halves are measured only on request, and only as aggregate numbers (per
functionality or kind with ``--per-functionality``): no held-out text is ever printed.
Every such run appends its numbers, the commit and the time to
``bench/safety_heldout_runs.log``, so the number of looks stays on record.

Prints, for the standard and strict presets:
  * per category on the project's own labelled fixtures (tests/fixtures/safety/), checked
    as the bot's output (where every category has an action), and the false-positive rate
    on 300+ lines of ordinary chat, in both directions;
  * HateCheck (Röttger et al., ACL 2021, CC BY 4.0; path from GPT2BOT_HATECHECK): the
    threshold sweep on the dev families, then dev (and, on request, held-out) results.
    Thresholds and word lists were chosen on dev only; no held-out text was looked at;
  * the project's own sets (bench/safety_sets.py): hate probes 1 and 2, realistic chat
    (dev; held-out on request), PII and secrets, chatterbot-corpus lines, and the
    50,000 most frequent English words (wordfreq) in a neutral sentence;
  * p50/p95 milliseconds per check on this CPU (fixtures, chat lines and dev cases);
  * one summary table of all of the above.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from safety_hatecheck import Case, load_cases
from safety_sets import (
    SWEEP_FIXTURE,
    chat_right,
    chatterbot_lines,
    load_chat,
    load_pii,
    pii_right,
    sweep,
    sweep_fixture_lines,
    sweep_words,
)

from bot.safety import Category, Checker, Direction, Preset, resolve
from bot.safety.categories import Action
from bot.safety.hate import detect_hate
from bot.safety.normalise import normalise

FIXTURES = Path(__file__).resolve().parents[1] / "tests/fixtures/safety"
HELDOUT_LOG = Path(__file__).resolve().parent / "safety_heldout_runs.log"
SPAN_KINDS = {"pii": Category.PII, "secret": Category.SECRET, "mention": Category.MENTION}
SUMMARY: list[tuple[str, str, str]] = []  # (set, size, result) for the closing table


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
    print(f"{'category':22s} {'n+':>4s} {'prec':>6s} {'recall':>6s} {'FPR':>6s}")
    for c in Category:
        s = stats[c]
        pos, neg = s["tp"] + s["fn"], s["fp"] + s["tn"]
        prec = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else float("nan")
        rec = s["tp"] / pos if pos else float("nan")
        print(f"{c.value:22s} {pos:4d} {_pct(prec)} {_pct(rec)} {_pct(s['fp'] / neg)}")
    print(f"PII/secret/mention cases not redacted or neutralised: {len(unneutralised)} {unneutralised}")
    for d in Direction:
        flagged = [t for t in benign if checker.check(t, policy, d).action is not Action.ALLOW]
        rate = len(flagged) / len(benign)
        print(f"benign chat, {d.value}: {len(flagged)}/{len(benign)} = {rate:.1%} not allowed {flagged[:6]}")
        if preset is Preset.STANDARD:
            SUMMARY.append((f"benign_chat.txt, {d.value}", str(len(benign)), f"{rate:.1%} not allowed"))


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


def hatecheck_report(checker: Checker, heldout: bool, per_functionality: bool, dev_errors: bool) -> list[str]:
    """Prints HateCheck results; returns the held-out lines to log (empty when not measured)."""
    try:
        cases = load_cases()
    except FileNotFoundError as exc:
        print(f"\n## HateCheck: SKIPPED: {exc}")
        SUMMARY.append(("HateCheck", "-", "SKIPPED: data not found"))
        return []
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
            SUMMARY.append(
                (f"HateCheck {name}, {preset.value}", str(len(part)), f"recall {rec:.3f} FPR {fpr:.3f} bal {bal:.3f}")
            )
            if name == "held-out":
                log_lines.append("hatecheck " + line)
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
    else:
        print("held-out families: not measured (pass --heldout; every such run is logged)")
    return log_lines


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


def probes_report(checker: Checker) -> None:
    """The hate probe sets (no HateCheck text): slur_hate blocked on input, standard | strict."""
    print("\n## hate probes (tests/fixtures/safety/hate_probes*.tsv), slur_hate blocked on input")
    for name in ("hate_probes.tsv", "hate_probes_2.tsv"):
        rows = [
            line.split("\t", 2)
            for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        cells = []
        for preset in (Preset.STANDARD, Preset.STRICT):
            policy = resolve([], preset)
            pred = []
            for _, _, text in rows:
                v = checker.check(text, policy, Direction.INPUT)
                pred.append(v.blocked and Category.SLUR_HATE in v.categories)
            pos = [p for p, r in zip(pred, rows, strict=True) if r[0] == "h"]
            neg = [p for p, r in zip(pred, rows, strict=True) if r[0] != "h"]
            cells.append(f"{preset.value} recall {sum(pos) / len(pos):.3f} FPR {sum(neg) / len(neg):.3f}")
        print(f"{name}: {len(rows)} cases; " + "; ".join(cells))
        SUMMARY.append((name, str(len(rows)), "; ".join(cells)))


def chat_report(checker: Checker, part: str, per_kind: bool, errors: bool) -> str:
    """Realistic chat, standard preset, input (and output for comparison). Returns the result line."""
    cases = load_chat(part)
    harmful = [c for c in cases if c.harmful]
    benign = [c for c in cases if not c.harmful]
    policy = resolve([], Preset.STANDARD)
    label = "dev" if part == "dev" else "held-out"
    print(f"\n## realistic chat, {label} ({len(harmful)} harmful, {len(benign)} benign), standard preset")
    result = ""
    for d in (Direction.INPUT, Direction.OUTPUT):
        right = [chat_right(checker.check(c.text, policy, d), c, policy) for c in cases]
        rec = sum(r for r, c in zip(right, cases, strict=True) if c.harmful) / len(harmful)
        fpr = sum(not r for r, c in zip(right, cases, strict=True) if not c.harmful) / len(benign)
        line = f"{d.value}: right {sum(right) / len(cases):.3f}  recall on harmful {rec:.3f}  benign FP {fpr:.3f}"
        print(line)
        if d is Direction.INPUT:
            result = line
            SUMMARY.append((f"chat {label}, standard input", str(len(cases)), line.split(": ", 1)[1]))
            if per_kind:
                kinds: dict[str, list[bool]] = defaultdict(list)
                for r, c in zip(right, cases, strict=True):
                    kinds[c.kind].append(r)
                print("  right per kind: " + "  ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(kinds.items())))
            if errors:
                for r, c in zip(right, cases, strict=True):
                    if not r:
                        v = checker.check(c.text, policy, d)
                        cats = ",".join(x.value for x in v.categories)
                        print(f"    miss [{c.kind}] {v.action.name.lower()} {cats} {v.rule_ids}: {c.text}")
    return result


def pii_report(checker: Checker) -> None:
    cases = load_pii()
    policy = resolve([], Preset.STANDARD)
    right = [pii_right(checker.check(c.text, policy, Direction.OUTPUT), c) for c in cases]
    pos = [r for r, c in zip(right, cases, strict=True) if c.expected]
    neg = [r for r, c in zip(right, cases, strict=True) if not c.expected]
    print(f"\n## PII and secrets (tests/fixtures/safety/pii_cases.tsv), standard output: {len(cases)} cases")
    kinds: dict[str, list[bool]] = defaultdict(list)
    for r, c in zip(right, cases, strict=True):
        kinds[c.kind].append(r)
    print("  right per kind: " + "  ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(kinds.items())))
    for r, c in zip(right, cases, strict=True):
        if not r:
            print(f"    wrong [{c.kind}]: {c.text}")
    line = f"found {sum(pos) / len(pos):.3f}  false positives {1 - sum(neg) / len(neg):.3f}"
    print(line)
    SUMMARY.append(("PII/secrets", str(len(cases)), line))


def chatterbot_report(checker: Checker) -> None:
    try:
        lines = chatterbot_lines()
    except ModuleNotFoundError:
        print("\n## chatterbot-corpus: SKIPPED: pip install chatterbot-corpus")
        SUMMARY.append(("chatterbot-corpus", "-", "SKIPPED: not installed"))
        return
    policy = resolve([], Preset.STANDARD)
    flagged: dict[str, str] = {}
    at_bot: set[str] = set()
    for d in Direction:
        for text in lines:
            v = checker.check(text, policy, d)
            if v.action is not Action.ALLOW:
                cats = ",".join(c.value for c in v.categories)
                flagged.setdefault(text, f"{d.value} {v.action.name.lower()} {cats} {v.rule_ids}")
                # an insult aimed at the bot: harassment or a threat at "you" and nothing else
                if set(v.categories) <= {Category.HARASSMENT, Category.THREAT} and " you " in f" {text.lower()} ":
                    at_bot.add(text)
    n = sum(t in flagged for t in lines)
    others = sum(t in flagged and t not in at_bot for t in lines)
    print(f"\n## chatterbot-corpus (English, {len(lines)} lines), standard preset, either direction")
    for text, why in sorted(flagged.items()):
        print(f"    {'(at the bot) ' if text in at_bot else ''}{why}: {text[:120]}")
    line = (
        f"{n}/{len(lines)} = {n / len(lines):.2%} not allowed (input or output); "
        f"without insults aimed at the bot {others} = {others / len(lines):.2%}"
    )
    print(line)
    SUMMARY.append(("chatterbot-corpus", str(len(lines)), line))


def sweep_report(checker: Checker, n_words: int, write: bool) -> None:
    try:
        words = sweep_words(n_words)
    except ModuleNotFoundError:
        print("\n## frequent-word sweep: SKIPPED: pip install wordfreq")
        return
    policy = resolve([], Preset.STANDARD)
    start = time.perf_counter()
    acted = sweep(checker, policy, words)
    took = time.perf_counter() - start
    blocks = {w: n for w, n in acted.items() if any(":block:" in x for x in n)}
    print(f"\n## frequent-word sweep: {len(words)} words (wordfreq), standard preset, {took:.1f} s")
    for w, notes in sorted(acted.items(), key=lambda kv: words.index(kv[0])):
        print(f"    {w}: {' '.join(notes)}")
    line = f"{len(blocks)} blocked, {len(acted)} acted on (flag/censor/redact/block, either direction)"
    print(line)
    if write:
        header = "# wordfreq's most frequent English words that the checker acts on (tests/test_safety_sweep.py)\n"
        SWEEP_FIXTURE.write_text(header + "".join(f"{x}\n" for x in sweep_fixture_lines(acted)), encoding="utf-8")
        print(f"wrote {SWEEP_FIXTURE}")
    SUMMARY.append((f"{len(words)} frequent words", str(len(words)), line))


def timing_report(checker: Checker) -> None:
    cases, benign = load_fixtures()
    texts = [t for _, _, t in cases] + benign + [c.text for c in load_chat("dev")]
    with contextlib.suppress(FileNotFoundError):
        texts += [c.text for c in load_cases() if c.part == "dev"][::2]  # dev only: held-out stays unseen
    policy = resolve([], Preset.STANDARD)
    for t in texts[:50]:
        checker.check(t, policy, Direction.INPUT)  # warm caches (lexicons, vocabulary)
    cpu, wall = [], []
    for t in texts:
        start, start_cpu = time.perf_counter(), time.thread_time()
        checker.check(t, policy, Direction.OUTPUT)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    line = f"CPU p50 {_p(cpu, 0.5):.2f} ms, p95 {_p(cpu, 0.95):.2f} ms, max {max(cpu):.2f} ms"
    print(f"\n## time per check ({len(texts)} texts, one thread): {line}")
    print(f"wall clock (includes waiting for a shared CPU): p50 {_p(wall, 0.5):.2f} ms, p95 {_p(wall, 0.95):.2f} ms")
    SUMMARY.append(("time per check, rules (CPU)", str(len(texts)), line))


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def classifier_report(model_dir: str) -> None:
    """Time per check with a learned model beside the rules, one at a time and 16 at once.
    Without --classifier the tiny random model stands in: its cost, not its quality."""
    import asyncio
    import tempfile

    from bot.safety import MemorySafetyStore, Safety
    from bot.safety.classifiers import start_classifier

    cases, benign = load_fixtures()
    texts = ([t for _, _, t in cases] + benign + [c.text for c in load_chat("dev")])[:400]
    with tempfile.TemporaryDirectory() as tmp:
        label = model_dir or "tiny random BERT (2 layers, hidden 32): plumbing cost only, quality unmeasured"
        if not model_dir:
            from safety_tiny_model import build_tiny_classifier

            model_dir = str(build_tiny_classifier(Path(tmp) / "tiny"))
        queue = start_classifier(model_dir)
        if queue is None:
            print(f"\n## classifier: {model_dir} could not be loaded (see the log)")
            return
        safety = Safety(MemorySafetyStore(), Checker(), Preset.STANDARD, classifier=queue)
        policy = resolve([], Preset.STANDARD)

        async def one(text: str) -> float:
            start = time.perf_counter()
            await safety.check(text, policy, Direction.INPUT)
            return (time.perf_counter() - start) * 1000

        async def run() -> tuple[list[float], list[float], float]:
            for t in texts[:20]:
                await one(t)  # warm up
            alone = [await one(t) for t in texts]
            start = time.perf_counter()
            together: list[float] = []
            for i in range(0, len(texts), 16):
                together += await asyncio.gather(*(one(t) for t in texts[i : i + 16]))
            return alone, together, time.perf_counter() - start

        try:
            alone, together, took = asyncio.run(run())
        finally:
            safety.close()
    print(f"\n## rules + classifier ({label}), {queue.model.device}, {len(texts)} texts")
    line = f"one at a time p50 {_p(alone, 0.5):.2f} ms, p95 {_p(alone, 0.95):.2f} ms"
    line16 = f"16 at once p50 {_p(together, 0.5):.2f} ms, p95 {_p(together, 0.95):.2f} ms"
    print(f"{line}; {line16} ({len(texts) / took:.0f} checks/s, {queue.batches} forward passes)")
    SUMMARY.append(("time per check, rules + tiny classifier (wall)", str(len(texts)), f"{line}; {line16}"))


def summary() -> None:
    print("\n## summary\n")
    print("| set | n | result |\n| --- | --- | --- |")
    for name, n, result in SUMMARY:
        print(f"| {name} | {n} | {result} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heldout", action="store_true", help="also measure both held-out halves (logged)")
    ap.add_argument("--chat-heldout", action="store_true", help="also measure the chat set's held-out half (logged)")
    ap.add_argument("--per-functionality", action="store_true", help="held-out accuracy per functionality / kind")
    ap.add_argument("--dev-errors", action="store_true", help="list the dev cases the detector gets wrong")
    ap.add_argument("--sweep-words", type=int, default=50_000, help="how many frequent words to sweep (0 = skip)")
    ap.add_argument("--write-sweep", action="store_true", help="rewrite the sweep fixture from this run")
    ap.add_argument(
        "--classifier", default="", help="a local classifier directory to time (default: a tiny random one)"
    )
    ap.add_argument("--no-classifier", action="store_true", help="skip timing the classifier layer")
    args = ap.parse_args(argv)
    checker = Checker()
    for preset in (Preset.STANDARD, Preset.STRICT):
        fixture_report(checker, preset)
    log_lines = hatecheck_report(checker, args.heldout, args.per_functionality, args.dev_errors)
    probes_report(checker)
    chat_report(checker, "dev", True, args.dev_errors)
    if args.heldout or args.chat_heldout:
        log_lines.append("chat held-out " + chat_report(checker, "heldout", args.per_functionality, False))
    pii_report(checker)
    chatterbot_report(checker)
    if args.sweep_words:
        sweep_report(checker, args.sweep_words, args.write_sweep)
    timing_report(checker)
    if not args.no_classifier:
        classifier_report(args.classifier)
    summary()
    if log_lines:
        _log_heldout(log_lines)


if __name__ == "__main__":
    main()
