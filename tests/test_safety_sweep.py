"""Ordinary words are left alone: wordfreq's 50,000 most frequent English words, each in one
neutral sentence, are never blocked, and every word acted on at all is listed, with the
reason, in tests/fixtures/safety/sweep_acted.tsv (regenerate it with
`bench/safety_eval.py --write-sweep` and review the diff)."""

from __future__ import annotations

from bot.safety import Checker, Preset, resolve
from tests.bench_scripts import load_bench

sets = load_bench("safety_sets")


def test_no_frequent_word_is_blocked_and_every_action_is_listed() -> None:
    words = sets.sweep_words(50_000)
    assert len(words) == 50_000
    acted = sets.sweep(Checker(), resolve([], Preset.STANDARD), words)
    blocked = {w: n for w, n in acted.items() if any(":block:" in x for x in n)}
    assert not blocked, blocked
    listed = [
        line.split("\t")
        for line in sets.SWEEP_FIXTURE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all("UNJUSTIFIED" not in why for _, _, why in listed)
    expected = {word: tuple(notes.split(" ")) for word, notes, _ in listed}
    new = {w: n for w, n in acted.items() if expected.get(w) != n}
    gone = {w: n for w, n in expected.items() if w not in acted}
    assert not new and not gone, (new, gone)
