"""Slurs: strong, mild (often reclaimed in-group) and gendered, with homonyms ("a fag" as a
cigarette, "a bitch" at the vet) and reclaimed first-person uses ("proud to be a ...")
scored low. Used by `hate.py`.
"""

from __future__ import annotations

from bot.safety import lexicon as lx
from bot.safety.clauses import Sentence

__all__ = ["QUEER_ADJ_OF", "slur_hits"]

QUEER_ADJ_OF = lx.ABLE_HEADS | frozenset(
    "culture community rights studies theory representation liberation identity youth joy "
    "pride history art scene space spaces friends icon icons couple couples love film "
    "films characters people's activists".split()
)
_SLUR_DET = frozenset(
    "a an the you another common stupid dumb fucking filthy dirty all these those many "
    "that her his such typical some".split()
)
# the slur names the speaker or the speaker's own: "I'm a ...", "we ... are here", "my ...",
# "proud ...", "fellow ...". A first-person word elsewhere in the sentence is not enough
# ("no ... allowed on my team" is aimed at others).
_SELF = frozenset("i me myself we us ourselves".split())
_OWN = frozenset("my our fellow proud".split())


def _reclaimed(toks: tuple[str, ...], p: int) -> bool:
    before, after = toks[max(0, p - 4) : p], toks[p + 1 : p + 3]
    if (before[-1:] and before[-1] in _OWN) or "proud" in before:
        return True
    if after[:1] in (("myself",), ("ourselves",)) or after in (("like", "me"), ("like", "us")):
        return True  # "as a ... myself", "... like me"
    if before[-2:] in (("as", "a"), ("as", "an")):
        return True  # "as a ..., I ...": the speaker's own identity
    if before[-2:-1] and before[-2] in _OWN and before[-1] in ("fellow", "little", "dear", "own"):
        return True
    lead = [w for w in before if w not in ("a", "an", "the", "just", "proud", "and", "still")]
    return bool(lead) and ((lead[-1] in ("am", "are", "as") and bool(_SELF & set(before))) or lead[-1] in _SELF)


def slur_hits(s: Sentence, context: frozenset[str], reclaimed_max: float) -> list[tuple[float, str, int]]:
    found: list[tuple[float, str, int]] = []
    toks = s.tokens
    for p, tok in enumerate(toks):
        base = tok[:-1] if tok.endswith("s") and tok[:-1] in lx.HOMONYM_CONTEXT else tok
        if base in lx.HOMONYM_CONTEXT and context & lx.HOMONYM_CONTEXT[base]:
            continue
        prev = toks[p - 1] if p else ""
        if tok in lx.SLUR_STRONG or tok in ("queers",):
            score, rule = 0.95, "slur.strong"
        elif tok == "queer" and (prev in _SLUR_DET or p + 1 == len(toks) or not p):
            if p + 1 < len(toks) and toks[p + 1] in QUEER_ADJ_OF:
                continue
            score, rule = 0.9, "slur.strong"
        elif tok in lx.SLUR_MILD:
            score, rule = 0.45, "slur.mild"
        elif tok in lx.SLUR_GENDERED and (prev in _SLUR_DET or (tok.endswith("s") and p < 2)):
            score, rule = 0.6, "slur.gendered"
        else:
            continue
        if _reclaimed(toks, p):
            score, rule = min(score, reclaimed_max), rule + ".reclaimed"
        found.append((score, rule, p))
    text = " ".join(toks)
    for phrase in lx.SLUR_PHRASES:
        if phrase in text:
            found.append((0.95, "slur.strong", text[: text.index(phrase)].count(" ")))
    return found
