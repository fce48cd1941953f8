"""Sexual content, sexual content involving minors, and grooming.

Vocabulary is not content: one explicit word ("porn", "orgasm") is flagged (0.6), explicit
content — a sexual act, a request for one or for nude images, several explicit words — is
blocked (0.9), and anatomical words alone ("penis", "breasts") score nothing, so medical,
parenting and sex-education questions pass ("my toddler keeps touching his penis, is that
normal?").

Minors: sexual content about a child, or a child described in sexualising words, is always
blocked. Grooming is recognised without sexual words, from how it is done: an adult asks a
child (cues: an age under 18, school, "your parents") for secrecy, a meeting, or photos, or
offers gifts for them ("don't tell your parents we talk", "send me a pic in your school
uniform"). One cue alone is ordinary chat ("don't tell anyone, it's a surprise party",
"send me a photo of the whiteboard").
"""

from __future__ import annotations

import re

from bot.safety import lexicon as lx
from bot.safety.categories import Category, Hit
from bot.safety.clauses import Sentence

__all__ = ["detect_sexual"]

_ACT = re.compile(
    r"\b(?:have sex|having sex|suck my|lick my|sit on my face|send (?:me )?nudes|send nudes|jerk(?:ing)? off|"
    r"get laid|sleep with (?:me|you)|take (?:it|your clothes) off|make love|"
    r"(?:want|wanna|going) to (?:fuck|bang|screw|rail) (?:you|u|me)|fuck (?:you|u) (?:so )?hard|"
    r"(?:see|show|touch|suck|lick|feel) (?:my|your) (?:dick|cock|pussy|tits|boobs|balls|ass|penis)|"
    r"(?:pic|pics|picture|pictures|photo|photos|nudes) of (?:your|ur) (?:tits|boobs|dick|cock|ass|pussy|body|"
    r"breasts|penis))\b"
)
_SEXUALISING = frozenset("sexy hot nude nudes naked horny fuckable sexual".split())
_MINOR_AGE = re.compile(r"\b(?:[1-9]|1[0-7]) ?(?:yo|y o|year old|years old|yr old|yrs old)\b")
_ABUSE_TERMS = re.compile(r"\b(?:child porn|kiddie porn|cp trade|jailbait|lolicon|shotacon|pedo bait)\b")
_CLINICAL = frozenset(
    "doctor pediatrician paediatrician nurse normal rash exam cancer puberty period periods diaper diapers "
    "nappy hygiene vaccine clinic health talk explain anatomy sex-ed ed education".split()
)

# grooming cues, each read from the whole message
_SECRECY = re.compile(
    r"\b(?:do not|dont|never) tell (?:your |ur )?(?:parents|mom|mum|dad|mother|father|anyone|anybody|family)|"
    r"\b(?:our|a) (?:little )?secret\b|\bkeep (?:this|it|us) (?:between us|a secret|secret|quiet)|"
    r"\bdelete (?:our|the|these|those|all) (?:chats|messages|texts|dms|pics|conversation)|"
    r"\b(?:parents|mom|mum|dad) (?:do not|does not|dont|doesnt) (?:need|have) to know|"
    r"\badults (?:would not|will not|wouldnt|wont|do not|dont) understand|"
    r"\b(?:private|secret) (?:chat|server|account)|\bswitch to (?:a )?(?:private|dm|dms)|"
    r"\b(?:parents|mom|mum|dad) (?:are |is )?(?:asleep|at work|not home|away|gone)|"
    r"\b(?:check|checks|see|read) your (?:phone|messages|chats)|\bbetween us\b"
)
_CHILD = re.compile(
    r"\b(?:you are|you're|youre|ur|u r|are you|u) (?:only |just )?(?:[1-9]|1[0-7])\b|"
    r"\bfor (?:[5-9]|1[0-7]|your age)\b|\bmature for\b|\bwhat grade\b|\b(?:middle|high|elementary|primary|junior) "
    r"school\b|\bafter school\b|\bschool uniform\b|\byour (?:parents|mom|mum|dad|teacher)\b|\bhome alone\b|"
    r"\bhow old are (?:you|u)\b|\b(?:robux|vbucks|v bucks|skin|skins)\b|\bage is just a number\b"
)
_REQUEST = re.compile(
    r"\bsend (?:me )?(?:a |some |more )?(?:pic|pics|picture|pictures|photo|photos|selfie|selfies|video|vid)|"
    r"\b(?:pic|pics|picture|photo|selfie) of (?:you|your|yourself)\b|\bvideo call\b|\bfacetime\b|"
    r"\b(?:meet up|meet me|pick you up|come over|come to my|drive to your|visit you)\b|"
    r"\bwhat are you wearing\b|\bin your (?:pajamas|pyjamas|bath|underwear|uniform|bed|room)\b|"
    r"\bi (?:will|can|could) (?:buy|give|get) you\b|\badd me on\b"
)
_ADULT = re.compile(r"\bi am (?:2\d|[3-9]\d)\b|\bi am an adult\b")


def _grooming(message: str) -> Hit | None:
    secrecy, child = _SECRECY.search(message), _CHILD.search(message)
    request, adult = _REQUEST.search(message), _ADULT.search(message)
    you = re.search(r"\b(?:you|your|u|ur)\b", message)
    if not you or not ((secrecy and (child or request or adult)) or (child and request)):
        return None
    cues = [m for m in (secrecy, child, request, adult) if m]
    return Hit(Category.SEXUAL_MINORS, 0.9, "minors.grooming", match=" … ".join(m.group(0) for m in cues))


def detect_sexual(sentences: tuple[Sentence, ...]) -> list[Hit]:
    hits: list[Hit] = []
    message = " ".join(s.text for s in sentences)
    clinical = bool(_CLINICAL.intersection(message.split()))
    for s in sentences:
        toks, text = s.tokens, s.text
        explicit = [t for t in toks if t in lx.SEXUAL_EXPLICIT]
        ambiguous = [t for t in toks if t in lx.SEXUAL_AMBIG]
        act = _ACT.search(text)
        if act or len(explicit) >= 2:
            hits.append(Hit(Category.SEXUAL, 0.9, "sexual.content", match=act.group(0) if act else " ".join(explicit)))
        elif explicit:
            hits.append(Hit(Category.SEXUAL, 0.6, "sexual.term", match=explicit[0]))
        elif len(ambiguous) >= 2 and not clinical:
            hits.append(Hit(Category.SEXUAL, 0.4, "sexual.ambiguous", match=" ".join(ambiguous)))
        minor = lx.MINOR.intersection(toks) or _MINOR_AGE.search(text)
        sexualised = act or explicit or (_SEXUALISING.intersection(toks) and not clinical)
        if minor and sexualised:
            hits.append(Hit(Category.SEXUAL_MINORS, 1.0, "minors.sexual", match=text))
        m = _ABUSE_TERMS.search(text)
        if m:
            hits.append(Hit(Category.SEXUAL_MINORS, 1.0, "minors.abuse_terms", match=m.group(0)))
    groom = _grooming(message)
    if groom:
        hits.append(groom)
    return hits
