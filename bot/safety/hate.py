"""Targeted hate: slurs, and an identity group joined to dehumanising, derogatory,
hostile or threatening language, with negation and counter-speech taken into account.

A hateful sentence needs a *target* (a protected group, or a pronoun standing for one in
the same or a neighbouring sentence) and *evidence* linked to it. Abuse of a person, an
object or a non-protected group is left to the harassment and threat detectors.
"""

from __future__ import annotations

import re

from bot.safety import lexicon as lx
from bot.safety.categories import Category, Hit
from bot.safety.clauses import Role, Sentence, negated, role_of, sentences
from bot.safety.normalise import Normalised

__all__ = ["detect_hate", "group_positions"]

_PRONOUNS = frozenset("they them their themselves you your these those ones".split())
_BREAK = frozenset(", ; : which i".split())
_FUCK = frozenset("fuck fuk fck fk".split())
_LINK = frozenset(
    "are is am be been being were was like as than become becomes became seem seems act "
    "acts acting behave such remain stay nothing but just".split()
)
_QUEER_ADJ_OF = lx.ABLE_HEADS | frozenset(
    "culture community rights studies theory representation liberation identity youth joy "
    "pride history art scene space spaces friends icon icons couple couples love film "
    "films characters people's activists".split()
)
_SLUR_DET = frozenset(
    "a an the you another common stupid dumb fucking filthy dirty all these those many "
    "that her his such typical some".split()
)
_RECLAIM = frozenset("i me my myself we us our ourselves fellow proud".split())
_IMPLICIT = tuple(
    re.compile(p)
    for p in (
        r"\bbelong (in|on) (a|the) (zoo|cage|kitchen|bin|trash|gutter|jail|prison|sewer|farm)",
        r"\b(no|not any) (place|room|space) (in|for|on)\b",
        r"\b(never|not|can not) (be )?trust",
        r"\b(ruin|ruins|ruined|ruining|destroy|destroys|destroying|infest|infesting) "
        r"(our|this|the) (country|society|nation|city|town|neighbourhood|neighborhood|culture)",
        r"\b(go|send (them|you)) back (to|where)\b",
        r"\b(be|get|are) (deported|sterili[sz]ed|locked up|banned|removed|kicked out|expelled)",
        r"\b(more|smarter|cleaner) .{0,30} than .{0,30}",
        r"\brather (have|be|die|eat) .{0,40} than\b",
        r"\b(taken|sent|go|belong) to (a|the) (vet|zoo|pound)",
    )
)


def group_positions(tokens: tuple[str, ...]) -> list[int]:
    """Where a protected group is named ("women", "trans people", "female trash")."""
    out: list[int] = []
    for i, t in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t == "queer" and nxt not in _QUEER_ADJ_OF:
            continue
        if t in lx.GROUP_NOUN or (
            t in lx.GROUP_ADJ and (nxt in lx.ABLE_HEADS or nxt in lx.DEHUM or nxt in lx.ABUSE_NOUN or nxt == "neck")
        ):
            out.append(i)
    return out


def _targets(s: Sentence, near_group: bool) -> list[int]:
    groups = group_positions(s.tokens)
    if groups or near_group:
        groups += [i for i, t in enumerate(s.tokens) if t in _PRONOUNS]
    return sorted(groups)


def _linked(s: Sentence, targets: list[int], p: int, role: str) -> bool:
    toks = s.tokens
    if role in (Role.EMOTE_OBJ,):
        return any(t > p for t in targets) or (p + 1 < len(toks) and toks[p + 1] == "by")
    if role in (Role.EMOTE_SUBJ, Role.EMOTE_NOUN, Role.THREAT, Role.POSITIVE, Role.PROFANE):
        return bool(targets)
    for t in targets:  # predicates: "women are scum", "female vermin", "as filthy as women"
        between = toks[min(t, p) + 1 : max(t, p)]
        if _BREAK.intersection(between):
            continue
        if t < p and (p - t == 1 or (p - t <= 8 and _LINK.intersection(between))):
            return True
        if p < t <= p + 6 and (_LINK.intersection(between) or {"for", "of"} & set(between)):
            return True
    return False


_SCORE = {Role.DEHUM: 0.9, Role.DEROG: 0.8, Role.ABUSE: 0.8, Role.EMOTE_OBJ: 0.85,
          Role.EMOTE_SUBJ: 0.85, Role.EMOTE_NOUN: 0.8, Role.THREAT: 0.95, Role.POSITIVE: 0.75,
          Role.PROFANE: 0.8}  # fmt: skip


def _evidence(s: Sentence, targets: list[int]) -> list[tuple[float, str, int]]:
    found: list[tuple[float, str, int]] = []
    toks = s.tokens
    for p, tok in enumerate(toks):
        role = role_of(tok)
        if tok in _FUCK:
            role = Role.PROFANE
        if role is None or not _linked(s, targets, p, role):
            continue
        if role == Role.THREAT and not s.has_intent(p):
            continue
        neg = negated(toks, p)
        if role == Role.POSITIVE:
            after = toks[p + 1 : p + 4]
            if not neg or any(role_of(w) not in (None, Role.POSITIVE) for w in after):
                continue
            if "less" in after or "than" in after:
                continue
        elif neg:
            continue
        found.append((_SCORE[role], f"hate.{role}", p))
    text = s.text
    for rx in _IMPLICIT:
        m = rx.search(text)
        if m and targets and not negated(toks, text[: m.start()].count(" ")):
            found.append((0.7, "hate.implicit", text[: m.start()].count(" ")))
    return found


def _slurs(s: Sentence, context: frozenset[str]) -> list[tuple[float, str, int]]:
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
            if p + 1 < len(toks) and toks[p + 1] in _QUEER_ADJ_OF:
                continue
            score, rule = 0.9, "slur.strong"
        elif tok in lx.SLUR_MILD:
            score, rule = 0.45, "slur.mild"
        elif tok in lx.SLUR_GENDERED and (prev in _SLUR_DET or (tok.endswith("s") and p < 2)):
            score, rule = 0.6, "slur.gendered"
        else:
            continue
        if any(w in _RECLAIM for w in toks):
            score, rule = min(score, 0.25), rule + ".reclaimed"
        found.append((score, rule, p))
    text = " ".join(toks)
    for phrase in lx.SLUR_PHRASES:
        if phrase in text:
            found.append((0.95, "slur.strong", text[: text.index(phrase)].count(" ")))
    return found


def detect_hate(norm: Normalised) -> list[Hit]:
    sents = sentences(norm.tokens)
    context = frozenset(norm.tokens)
    has_group = [bool(group_positions(s.tokens)) for s in sents]
    counter_text = bool(context & lx.COUNTER_MARKER)
    hits: list[Hit] = []
    for i, s in enumerate(sents):
        near = any(has_group[max(0, i - 1) : i + 2])
        items = _slurs(s, context) + _evidence(s, _targets(s, near))
        for score, rule, p in items:
            if s.reported(p) or (counter_text and any(s.quoted)):
                score, rule = score * 0.3, rule + ".counter"
            elif not has_group[i] and rule.startswith("hate."):
                score *= 0.9  # the group is only named in a neighbouring sentence
            hits.append(Hit(Category.SLUR_HATE, round(score, 3), rule))
    return hits
