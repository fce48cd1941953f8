"""The project's own safety evaluation sets, and how a verdict is scored on each.

* chat cases (``tests/fixtures/safety/chat_{dev,heldout}.tsv``): realistic Discord/Slack
  lines, harmful and benign-but-tricky, split into a dev half and a held-out half;
* PII and secret cases (``tests/fixtures/safety/pii_cases.tsv``);
* chatterbot-corpus (PyPI ``chatterbot-corpus``, BSD-3): every English conversation line,
  as ordinary chat the filter should leave alone;
* the frequent-word sweep: wordfreq's 50,000 most frequent English words, each in one
  neutral sentence.

Scoring is shared with the tests, so a number in bench/RESULTS.md and an assertion in
tests/ mean the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.safety import Checker, Direction, EffectivePolicy, Verdict
from bot.safety.categories import Action

__all__ = [
    "FIXTURES",
    "SWEEP_FIXTURE",
    "SWEEP_FRAME",
    "SWEEP_REASONS",
    "ChatCase",
    "PiiCase",
    "chat_right",
    "chatterbot_lines",
    "load_chat",
    "load_pii",
    "pii_right",
    "sweep",
    "sweep_fixture_lines",
    "sweep_words",
]

FIXTURES = Path(__file__).resolve().parents[1] / "tests/fixtures/safety"
# The frame the frequent-word sweep puts each word in: a plain sentence that mentions it.
SWEEP_FRAME = 'I looked up the word "{}" in the dictionary.'
SWEEP_FIXTURE = FIXTURES / "sweep_acted.tsv"
# Why a frequent word may be acted on in the sweep ("direction:action:category" → reason).
# Anything else (and any block) is a false positive to fix, not to list.
SWEEP_REASONS = {
    "output:censor:profanity": "a swear word or slur: the standard preset censors it in the bot's own posts",
    "output:redact:link": "a domain name: the bot's own posts never carry links",
    "input:flag:sexual": "an explicit sexual term: moderators see it flagged, nothing is blocked",
    "output:flag:sexual": "an explicit sexual term: moderators see it flagged, nothing is blocked",
}


def _rows(name: str, columns: int) -> Iterator[list[str]]:
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            row = line.split("\t", columns - 1)
            if len(row) != columns:
                raise ValueError(f"{name}: expected {columns} tab-separated columns: {line!r}")
            yield row


@dataclass(frozen=True)
class ChatCase:
    harmful: bool
    expected: frozenset[str]  # category values; any one of them must get its policy action
    kind: str
    text: str


def load_chat(part: str) -> list[ChatCase]:
    """`part` is "dev" or "heldout"."""
    return [
        ChatCase(label == "h", frozenset() if cats == "-" else frozenset(cats.split(",")), kind, text)
        for label, cats, kind, text in _rows(f"chat_{part}.tsv", 4)
    ]


def chat_right(verdict: Verdict, case: ChatCase, policy: EffectivePolicy) -> bool:
    """A harmful case is right when one of its expected categories fired and the verdict
    took that category's full policy action (block for hate, flag for harassment under
    standard input ...); a benign case is right when nothing at all was done to it."""
    if not case.harmful:
        return verdict.action is Action.ALLOW
    for c in verdict.categories:
        if c.value in case.expected and verdict.action >= policy.rule(c, verdict.direction).action:
            return True
    return False


@dataclass(frozen=True)
class PiiCase:
    expected: str  # "pii", "secret" or "" (neither may be found)
    kind: str
    text: str


def load_pii() -> list[PiiCase]:
    return [PiiCase("" if exp == "-" else exp, kind, text) for exp, kind, text in _rows("pii_cases.tsv", 3)]


def pii_right(verdict: Verdict, case: PiiCase) -> bool:
    found = {c.value for c in verdict.categories} & {"pii", "secret"}
    if not case.expected:
        return not found
    return case.expected in found and verdict.text_out != case.text


def chatterbot_lines() -> list[str]:
    """Every English line of chatterbot-corpus's conversations (duplicates kept)."""
    import yaml

    data = resources.files("chatterbot_corpus").joinpath("data/english")
    lines: list[str] = []
    for path in sorted(data.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yml"):
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in doc.get("conversations", []):
            lines += [s for s in conversation if isinstance(s, str) and s.strip()]
    return lines


def sweep_words(n: int = 50_000) -> list[str]:
    from wordfreq import top_n_list

    return list(top_n_list("en", n))


def sweep_fixture_lines(acted: dict[str, tuple[str, ...]]) -> list[str]:
    """The fixture's lines: word, what was done (in either direction), why it is acceptable."""
    lines = []
    for word, notes in acted.items():
        reasons = dict.fromkeys(SWEEP_REASONS.get(n, "UNJUSTIFIED") for n in notes)
        lines.append(f"{word}\t{' '.join(notes)}\t{'; '.join(reasons)}")
    return lines


def sweep(checker: Checker, policy: EffectivePolicy, words: list[str]) -> dict[str, tuple[str, ...]]:
    """Each word the checker acts on in `SWEEP_FRAME`, in either direction →
    ("input:flag:sexual", "output:censor:profanity", ...), one note per category."""
    acted: dict[str, tuple[str, ...]] = {}
    for word in words:
        text = SWEEP_FRAME.format(word)
        hits = checker.scan(text, policy.words, policy.allowed_domains)
        if not hits:
            continue
        notes = []
        for d in Direction:
            v = checker.decide(text, hits, policy, d)
            for c in sorted(v.categories, key=lambda c: c.value):
                rule = policy.rule(c, d)
                took = rule.action if v.scores[c] >= rule.threshold else Action.FLAG
                notes.append(f"{d.value}:{took.name.lower()}:{c.value}")
        if notes:
            acted[word] = tuple(notes)
    return acted
