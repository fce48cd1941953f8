"""Word rules in severity buckets, on the original text so hits can be censored in place.

Buckets: slurs and strong swearing (profanity 0.9), mild swearing (profanity 0.4),
explicit sexual words (sexual 0.9), and the words a guild or channel added (profanity
1.0). Words on the allow list are never matched. Each chunk of text is normalised on
its own (leetspeak, look-alikes, repeats, typos), and letters spaced out are joined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.safety import lexicon as lx
from bot.safety.categories import Category, Hit
from bot.safety.normalise import fold, normalise

__all__ = ["WordLists", "censor_word", "scan_words"]

_CHUNK = re.compile(r"[^\s,.;:?\"'()\[\]{}<>/\\]+")
_SPACED = re.compile(r"(?<!\S)(?:\S[ .\-_*]{1,2}){2,}\w(?![^\s,.;:!?])")
_SLURS = lx.SLUR_STRONG | lx.SLUR_MILD | lx.SLUR_GENDERED


@dataclass(frozen=True)
class WordLists:
    """A guild's or channel's additions: words to block, and words never to match."""

    blocked: frozenset[str] = field(default_factory=frozenset)
    allowed: frozenset[str] = field(default_factory=frozenset)


def censor_word(word: str) -> str:
    return word[0] + "*" * (len(word) - 1) if len(word) > 1 else "*"


def _classify(word: str, lists: WordLists, context: frozenset[str]) -> tuple[Category, float, str]:
    if word in lists.allowed:
        return Category.PROFANITY, 0.0, ""
    if word in lists.blocked:
        return Category.PROFANITY, 1.0, "words.custom"
    if word in _SLURS:
        base = word.rstrip("s") if word.rstrip("s") in lx.HOMONYM_CONTEXT else word
        if not (context & lx.HOMONYM_CONTEXT.get(base, frozenset())):
            return Category.PROFANITY, 0.9, "words.slur"
    if word in lx.PROFANITY_STRONG:
        return Category.PROFANITY, 0.9, "words.strong"
    if word in lx.SEXUAL_EXPLICIT:
        return Category.SEXUAL, 0.9, "words.sexual"
    if word in lx.PROFANITY_MILD:
        return Category.PROFANITY, 0.4, "words.mild"
    return Category.PROFANITY, 0.0, ""


def scan_words(text: str, lists: WordLists | None = None) -> list[Hit]:
    lists = lists or WordLists()
    context = frozenset(normalise(text).tokens)
    hits: list[Hit] = []
    spans: list[tuple[int, int]] = []
    candidates = [(m, re.sub(r"[ .\-_*]", "", m.group(0))) for m in _SPACED.finditer(text)]
    candidates += [(m, m.group(0)) for m in _CHUNK.finditer(text)]
    for m, chunk in candidates:
        if any(a <= m.start() < b for a, b in spans):
            continue
        raw = fold(chunk).strip("!*")
        words = {raw, *normalise(raw).tokens} if raw else set()
        best = max((_classify(w, lists, context) for w in words), key=lambda c: c[1], default=None)
        if raw in lists.allowed:
            continue
        if best and best[1] > 0:
            spans.append(m.span())
            hits.append(Hit(best[0], best[1], best[2], m.span(), censor_word(m.group(0))))
    return hits
