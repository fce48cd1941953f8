"""Implicit derogation: hateful statements without a hateful word.

Each pattern is a generic construction of exclusion, subordination, distrust or
comparison with animals and objects ("keep X out of our country", "a dog is worth more
than X", "I would never hire X", "X are too emotional to lead", "we'd be better off
without X"). They are written from general
knowledge of how such statements are built, not from any dataset's sentences, and they
fire only in a sentence that names a protected group (`hate.py` checks that, and negation
and reported speech as well).

Strong patterns score 0.7 (the standard preset blocks them); weak ones 0.4 (flagged under
standard, blocked under strict).
"""

from __future__ import annotations

import re
from functools import cache

from bot.safety import lexicon as lx

__all__ = ["STRONG", "WEAK", "Pattern", "implicit_matches"]

Pattern = tuple[re.Pattern[str], bool]  # (regex, needs a dehumanising word in the sentence)

_MODAL = (
    r"(should|must|need to|needs to|ought to|have to|has to|deserve to|deserves to|gotta|let us|"
    r"we will|i will|i would)"
)
_PLACE = (
    r"(zoo|zoos|cage|cages|kitchen|bin|bins|trash|gutter|gutters|jail|jails|prison|prisons|sewer|"
    r"sewers|farm|barn|camp|camps|circus|asylum|asylums|cell|cells|grave|graves|hell|dumpster|"
    r"ghetto|ghettos|desert|jungle|jungles|stable|kennel|kennels|pound|vet|wild|home|homes)"
)
_HUMAN_GOODS = (
    r"(hire|hiring|trust|date|dating|marry|employ|rent to|vote for|work with|sit next to|live near|"
    r"live next to|let|allow|shake hands with|touch|befriend|serve|help|treat|teach|sell to)"
)

_FLAW = "|".join(
    sorted(lx.forms(lx.DEROG_ADJ) | frozenset("emotional sensitive fragile hormonal primitive weak".split()))
)

STRONG: tuple[Pattern, ...] = tuple(
    (re.compile(rx), needs_dehum)
    for rx, needs_dehum in (
        # belonging and place
        (rf"\b(in|to|into|back to) (a|an|the) {_PLACE} (where|with) ", False),
        (r"\b(where|back where) (they|you|she|he) (belong|belongs|came from|come from|crawled from)", False),
        (r"\b(go|send|ship|deport|fly|kick|throw|put|drive|chase) (\w+ )?(\w+ )?back (to|where|home|across)\b", False),
        (r"\b(stay|get|go|keep|kept|stays) (them |these |those |all )?(out|away) (of|from) (our|my|this|the)\b", False),
        (r"\bkeep (\w+ ){1,4}(out|away|off)\b", False),
        (r"\b(know|knows|learn|remember) (their|your|her|his) place\b", False),
        (
            r"\b(stay|stays|kept|remain|remains|belong|belongs) (in|at) (the|their|your|her) "
            r"(kitchen|place|home|lane|country)\b",
            False,
        ),
        # better off without a group; a group secretly in control
        (r"\bbetter off without\b", False),
        (
            r"\b(control|controls|run|runs|own|owns) (the|all the|our|your) (banks|media|world|government|governments|"
            r"money|news|hollywood|economy|elections)\b",
            False,
        ),
        (
            r"\b(no|not any|not a) (place|room|space|home|future|business|right|rights|say) "
            r"(in|for|on|here|to|among|anywhere)\b",
            False,
        ),
        # exclusion from public life
        (rf"\b{_MODAL} (not|never) (be )?(allowed|permitted|able|free) (to|in|into|near|around|on|at)\b", False),
        (
            r"\b(should not|must not|can not|shall not|never) (be )?(allowed|permitted) "
            r"(to|in|into|near|around|on|at)\b",
            False,
        ),
        (
            r"\b(should|must|need to|ought to|deserve to) (all )?(be )?(kept|locked|shut|put|thrown|kicked|sent|driven|"
            r"chased|run|banned|deported|removed|expelled|segregated|sterili[sz]ed|rounded|registered|interned|"
            r"tracked|tagged|caged|quarantined|isolated)\b",
            False,
        ),
        (
            r"\b(ban|deport|expel|lock up|round up|throw out|kick out|keep out) "
            r"(all|every|these|those|any)\b",
            False,
        ),
        # distrust, subordination, worthlessness
        (rf"\b(would|will|could) (never|not) (ever )?{_HUMAN_GOODS}\b", False),
        (r"\bonly (good|fit|useful|suited) (for|at|as)\b", False),
        (r"\b(are|is|be) (only|just|merely) (good|fit) for\b", False),
        (r"\b(is|are|be) not (real|true|proper|actual) (?!that\b)\w+", False),
        (r"\b(not|never) (be|become|count as) (a |an )?(real|true|proper|actual|equal) \w+", False),
        # too <flaw> to <do what others do>: "too emotional to lead", "too stupid to vote"
        (rf"\b(are|is|be|being|all) (just |simply |naturally |far )?too (much )?({_FLAW}) to\b", False),
        (r"\b(are|is|be) (not|never) (people|persons|humans|human|human beings)\b", False),
        (r"\b(second class|second-class|lesser) (citizens|people|humans|beings|race)\b", False),
        (r"\b(the only good \w+ is a dead|death to)\b", False),
        (r"\b(gas chambers?|gas them|ovens?|concentration camps?|death camps?)\b", True),
        # harm to society
        (
            r"\b(ruin|ruins|ruined|ruining|destroy|destroys|destroyed|destroying|infest|infests|infesting|invade|"
            r"invades|invading|pollute|polluting|overrun|overrunning|flood|flooding|swamp|swamping|poison|poisoning|"
            r"take over|taking over|corrupt|corrupting) (our|this|the|my|every|everything|society|country|"
            r"neighbourhood|neighborhood|culture|nation|town|city|streets)\b",
            False,
        ),
        (
            r"\b(bring|brings|bringing|spread|spreads|spreading|carry|carries) (nothing but |only )?(crime|disease|"
            r"diseases|drugs|violence|terror|terrorism|filth|dirt|aids|hiv|rape|chaos|misery)\b",
            False,
        ),
        (r"\b(a|an) (danger|threat|menace|risk|burden|drain|stain|blight|curse) (to|on|upon|for)\b", False),
        # comparisons with animals, dirt and objects
        (r"\b(worth|worthier|valuable) (more|less) than\b", False),
        (r"\b(more|less) (valuable|important|worth|human|intelligent|civili[sz]ed) than\b", True),
        (r"\b\w+(er|more|less) .{0,30}than\b", True),
        (r"\b(no|any|not see any|not much) (different|difference|better)\b", True),
        (
            r"\b(rather|prefer to) (have|be|die|eat|live|sleep|kiss|touch|marry|date|see|hire|drink|lose) "
            r".{0,40}than\b",
            False,
        ),
        (
            r"\b(treated|treat|put down|taken|sent|go|belong) (like|as|to) (a|an|the)? ?(vet|zoo|pound|animals?|"
            r"dogs?|cattle|pets?|vermin|rats?|pests?|objects?|property)\b",
            False,
        ),
        (r"\b(like|as) (animals|dogs|rats|vermin|cattle|insects|cockroaches|pigs|apes|monkeys|rabbits)\b", False),
    )
)
WEAK: tuple[Pattern, ...] = tuple(
    (re.compile(rx), needs_dehum)
    for rx, needs_dehum in (
        (
            r"\b(why|how) (do|did|does|are|is|would|should|can|could) (we|you|they|anyone|people) (even |still )?"
            r"(let|allow|tolerate|put up with|accept|hire|trust|need|want)\b",
            False,
        ),
        (r"\b(what is wrong with|what wrong with|something wrong with)\b", False),
    )
)


@cache
def _dehum_words() -> frozenset[str]:
    return lx.DEHUM | lx.ABUSE_NOUN


def implicit_matches(text: str, tokens: tuple[str, ...]) -> list[tuple[float, int]]:
    """(score, token index) of each implicit pattern found in one sentence's text."""
    dehum = bool(_dehum_words().intersection(tokens))
    found: list[tuple[float, int]] = []
    for patterns, score in ((STRONG, 0.7), (WEAK, 0.4)):
        for rx, needs_dehum in patterns:
            if needs_dehum and not dehum:
                continue
            m = rx.search(text)
            if m:
                found.append((score, text[: m.start()].count(" ")))
    return found
