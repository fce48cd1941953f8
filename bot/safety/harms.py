"""Harm to people other than hate against a group: threats, harassment, sexual content and
minors, and self-harm. Each detector has its own module; this one runs them over a
normalised text, sentence by sentence where they read sentences.
"""

from __future__ import annotations

from bot.safety.categories import Hit
from bot.safety.clauses import sentences
from bot.safety.normalise import Normalised
from bot.safety.selfharm import detect_self_harm
from bot.safety.sexual import detect_sexual
from bot.safety.threats import detect_harassment, detect_threats

__all__ = ["detect_harms"]


def detect_harms(norm: Normalised) -> list[Hit]:
    sents = sentences(norm.tokens)
    words = frozenset(norm.tokens)
    hits: list[Hit] = []
    for s in sents:
        hits += detect_threats(s, words) + detect_harassment(s)
    return hits + detect_sexual(sents) + detect_self_harm(sents)
