"""Threats, harassment, sexual content, sexual content involving minors, and self-harm.

Each detector reads the normalised tokens sentence by sentence and returns `Hit`s.
Abuse aimed at a protected group is `hate.py`'s job; here the target is a person.
"""

from __future__ import annotations

import re

from bot.safety import lexicon as lx
from bot.safety.categories import Category, Hit
from bot.safety.clauses import Role, Sentence, negated, role_of, sentences
from bot.safety.hate import group_positions
from bot.safety.normalise import Normalised

__all__ = ["detect_harms"]

_PERSON = frozenset("you u ya your him her them his their everyone everybody y'all yall".split())
_IDIOM_AFTER = frozenset("it time the for at in to laughing".split())  # "kill it", "beat me at"
_SELF_HARM = re.compile(
    r"\b(kill(ing)? my ?self|end(ing)? (my|it) (life|all)|take my own life|suicid(e|al)|"
    r"(want|wanna|going) to die|wanna die|want to be dead|better off dead|"
    r"(cut|cutting|hurt|hurting|harm|harming|starve|starving) my ?self|self ?harm|"
    r"no reason to (live|go on)|(do not|never) want to (live|be alive|wake up)|"
    r"hang(ing)? my ?self|overdose|not worth living|jump(ing)? off (a|the) (bridge|roof))"
)
_TELL_SELF_HARM = re.compile(
    r"\b(kill (your ?self|yourselves)|kys|go die|drink bleach|neck yourself|die in a fire|drop dead)"
)
_MINOR_SEXUAL = frozenset("sexy naked nude nudes dick cock pussy penis vagina breasts nipples".split())
_HARASS = (
    (re.compile(r"\b(fuck|screw) (you|u|off)\b"), 0.8),
    (re.compile(r"\b(you|u) (suck|are worthless|are nothing)\b"), 0.6),
    (re.compile(r"\b(shut up|stfu|nobody (likes|loves|cares about) you)\b"), 0.5),
    (re.compile(r"\bi (hate|despise|loathe|detest) (you|u|him|her)\b"), 0.6),
    (re.compile(r"\bi know where you live\b"), 0.9),
)
_SEX_PHRASES = re.compile(
    r"\b(have sex|having sex|suck my|sit on my face|send (me )?nudes|jerk(ing)? off|"
    r"get laid|sleep with (me|you)|take (it|your clothes) off|make love)\b"
)
_MINOR_AGE = re.compile(r"\b([1-9]|1[0-7]) ?(yo|y o|year old|years old|yr old)\b")
_ABUSE_TERMS = re.compile(r"\b(child porn|kiddie porn|cp trade|jailbait|lolicon|shotacon|pedo bait)\b")


def _threats(s: Sentence, groups: bool) -> list[Hit]:
    hits: list[Hit] = []
    toks = s.tokens
    for p, tok in enumerate(toks):
        if role_of(tok) != Role.THREAT or not s.has_intent(p):
            continue
        after = toks[p + 1 : p + 4]
        if "at" in after or (after[:1] and after[0] in _IDIOM_AFTER and tok not in ("die", "suffer")):
            continue
        if not (groups or _PERSON.intersection(toks)) or negated(toks, p) or s.reported(p):
            continue
        hits.append(Hit(Category.THREAT, 0.9, "threat.intent"))
    return hits


def _harassment(s: Sentence) -> list[Hit]:
    hits: list[Hit] = []
    toks, text = s.tokens, s.text
    for rx, score in _HARASS:
        m = rx.search(text)
        if m and not negated(toks, text[: m.start()].count(" ")) and not s.reported(0):
            hits.append(Hit(Category.HARASSMENT, score, "harass.phrase"))
    for p, tok in enumerate(toks):  # "you are a worthless idiot", "you stupid ..."
        if tok not in ("you", "u", "ur", "youre"):
            continue
        window = toks[p + 1 : p + 6]
        cut = next((i for i, w in enumerate(window) if w in ",;:"), len(window))  # "you're right, my mistake"
        window = window[:cut]
        if window[:1] in (("are",), ("is",)) or (window and role_of(window[0]) == Role.DEROG):
            for q, w in enumerate(window):
                if role_of(w) in (Role.DEHUM, Role.DEROG, Role.ABUSE) or w in lx.SLUR_STRONG:
                    if not negated(toks, p + 1 + q) and not s.reported(p + 1 + q):
                        hits.append(Hit(Category.HARASSMENT, 0.8, "harass.insult"))
                    break
    if _TELL_SELF_HARM.search(text):
        hits.append(Hit(Category.HARASSMENT, 0.95, "harass.self_harm_incitement"))
    return hits


def _sexual(s: Sentence) -> list[Hit]:
    toks, text = s.tokens, s.text
    explicit = [t for t in toks if t in lx.SEXUAL_EXPLICIT]
    ambiguous = [t for t in toks if t in lx.SEXUAL_AMBIG]
    minor = bool(lx.MINOR.intersection(toks) or _MINOR_AGE.search(text))
    hits: list[Hit] = []
    score = 0.0
    if explicit or _SEX_PHRASES.search(text):
        score = 0.9
    elif ambiguous:
        score = min(0.8, 0.35 * len(ambiguous))
    if score:
        hits.append(Hit(Category.SEXUAL, score, "sexual.terms"))
    sexual_with_minor = explicit or _SEX_PHRASES.search(text) or _MINOR_SEXUAL.intersection(toks)
    if (minor and sexual_with_minor) or _ABUSE_TERMS.search(text):
        hits.append(Hit(Category.SEXUAL_MINORS, 1.0, "minors.sexual"))
    return hits


def detect_harms(norm: Normalised) -> list[Hit]:
    hits: list[Hit] = []
    for s in sentences(norm.tokens):
        hits += _threats(s, bool(group_positions(s.tokens)))
        hits += _harassment(s)
        hits += _sexual(s)
        m = _SELF_HARM.search(s.text)
        if m and not _TELL_SELF_HARM.search(s.text):
            neg = negated(s.tokens, s.text[: m.start()].count(" "))
            hits.append(Hit(Category.SELF_HARM, 0.5 if neg else 0.9, "self_harm.phrase"))
    return hits
