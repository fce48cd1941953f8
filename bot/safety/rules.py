"""Word rules in severity buckets, on the original text so hits can be censored in place.

Buckets: slurs and strong swearing (profanity 0.9), mild swearing (profanity 0.4),
explicit sexual words (sexual 0.6: a word is flagged, content is `sexual.py`'s), and the
words a guild or channel added (profanity 1.0). Words on the allow list are never
matched. Each chunk of text is normalised on its own (leetspeak, look-alikes, repeats,
typos), and letters spaced out are joined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.safety import lexicon as lx
from bot.safety.categories import Category, Hit
from bot.safety.normalise import Normalised, fold, mid_run, normalise, word_forms
from bot.safety.spans import Spans

__all__ = ["WordLists", "censor_word", "scan_words"]

_CHUNK = re.compile(r"[^\s,.;:?\"'()\[\]{}<>/\\]+")
# Letters spaced out ("f u c k", "f.u.c.k"): a unit is one character that is not a
# separator, so a unit and a separator can never match the same character (the old `\S`
# unit matched "-" too and backtracked exponentially on dash runs). Linear on any input:
# a run starts only where no run is under way, and nothing inside it is retried.
_UNIT = r"[^\s.\-_*,;:!?\"'()\[\]{}<>/\\]"
_SEP = r"[ .\-_*]"
_MID = mid_run(_UNIT, _SEP)
_SPACED = re.compile(rf"(?<!\S)(?<!{_MID}){_UNIT}(?!{_UNIT})(?:{_SEP}{{1,2}}+{_UNIT}(?!{_UNIT})){{2,}}+(?![^\s,.;:!?])")
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
    if word in lx.SEXUAL_EXPLICIT:  # a word, not content: flagged; `sexual.py` scores content
        return Category.SEXUAL, 0.6, "words.sexual"
    if word in lx.PROFANITY_MILD:
        return Category.PROFANITY, 0.4, "words.mild"
    return Category.PROFANITY, 0.0, ""


def scan_words(text: str, lists: WordLists | None = None, norm: Normalised | None = None) -> list[Hit]:
    """Word hits with their spans; `norm` is the text's normalisation, if the caller has it."""
    lists = lists or WordLists()
    context = frozenset((norm or normalise(text)).tokens)
    hits: list[Hit] = []
    spans = Spans()
    candidates = [(m, re.sub(r"[ .\-_*]", "", m.group(0))) for m in _SPACED.finditer(text)]
    candidates += [(m, m.group(0)) for m in _CHUNK.finditer(text)]
    for m, chunk in candidates:
        if spans.overlaps(m.start(), m.start() + 1):
            continue
        raw = fold(chunk).strip("!*")
        if not raw or raw in lists.allowed:
            continue
        # the chunk as written first, then what it normalises to: the first best score wins
        best = max((_classify(w, lists, context) for w in (raw, *word_forms(raw))), key=lambda c: c[1])
        if best[1] > 0:
            spans.claim(*m.span())
            hits.append(Hit(best[0], best[1], best[2], m.span(), censor_word(m.group(0))))
    return hits
