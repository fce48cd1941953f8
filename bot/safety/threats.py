"""Threats and harassment aimed at a person, in ordinary words.

A threat is a harm verb with intent (a plan, wish, modal or imperative) and a *human*
object: a person ("you", "him", "the mods", "your sister"), a body part of one ("break your
legs"), or someone's home, school or workplace ("burn your house down"). What the object is
decides, not an idiom list: "shoot the mods" is a threat, "shoot the mods a message" is
not (a message follows the object), "kill the process" and "kill the boss first, then loot"
have no human object, "I'll destroy you in ranked" and "beat you at chess" are contests.
Intimidation without a harm verb is a set of constructions too: knowing where someone or
their family lives or works, "would be a shame if something happened", "watch your back".

Harassment: insults aimed at the reader ("you are a worthless idiot", "you smelly
virgin", "ugly bitch"), exclusion ("nobody wants you here"), and telling someone to hurt
themselves ("kys", "do everyone a favour and die").
"""

from __future__ import annotations

import re

from bot.safety import lexicon as lx
from bot.safety.categories import Category, Hit
from bot.safety.clauses import Role, Sentence, negated, role_of

__all__ = ["detect_harassment", "detect_threats"]

_PERSON = frozenset("you u ya your yours him her them his their everyone everybody yall y'all".split())
_HUMAN = (
    frozenset(
        "mods mod moderator moderators admin admins administrator owner streamer streamers teacher teachers "
        "cop cops police officer officers judge president family wife husband mom mum dad mother father "
        "sister brother son daughter girlfriend boyfriend neighbour neighbor neighbours neighbors people person "
        "guy guys girl girls boy boys man men woman women kid kids child children baby babies someone somebody "
        "everyone everybody anyone nobody he she they him her them".split()
    )
    | lx.GROUP_NOUN
)
_BODY = frozenset(
    "legs leg neck skull face throat head teeth arm arms knees kneecaps fingers bones ribs jaw nose eyes back".split()
)
_PLACE = frozenset("house home school work office car family kids children dog cat place".split())
_DET = frozenset("the that this those these a an all every your his her their my our some".split())
_MESSAGE = frozenset("message messages dm dms email emails text texts line note pm invite link call".split())
_CONTEST = frozenset(
    "ranked chess kart game games match matches round rounds raid raids pvp fortnite minecraft valorant "
    "overwatch league tournament quiz trivia debate scrabble tennis golf poker fifa cod apex "
    "arena lobby duel duels 1v1 race".split()
)
_GAME = _CONTEST | frozenset(
    "boss bosses loot spawn respawn npc npcs mob mobs zombie zombies creeper creepers dungeon quest level "
    "headshot sniper enemy enemies base tower gg shot health hp".split()
)
_DIE = frozenset("die dies died dying suffer suffers rot perish".split())  # harm without an agent
_WISH = frozenset("hope hopes wish wishes deserve deserves should must go better want".split())
_EXTRA_VERB = frozenset("end break smash slit snap".split())  # harm verbs that need a person or body part
_MAKE = re.compile(r"\bmake (?:you|him|her|them|u) (?:regret|pay|suffer|bleed|cry|disappear)\b")
_INTIMIDATION = tuple(
    (re.compile(rx), score)
    for rx, score in (
        (
            r"\bi know where (?:you|u|your \w+|he|she|they|his \w+|her \w+) (?:live|lives|work|works|go|goes|sleep|"
            r"sleeps|stay|stays)\b",
            0.9,
        ),
        (r"\bi (?:know|have|found|got) (?:your|his|her) (?:address|school|workplace|location|home|house|ip)\b", 0.9),
        (r"\b(?:be|would be|it would be|it is|it would) a (?:shame|pity) if (?:something|anything|it)\b", 0.9),
        (r"\bwatch (?:your|his|her) back\b", 0.85),
        (r"\b(?:tell|telling) (?:your|him|her) \w* ?to watch (?:yourself|himself|herself|themselves|out)\b", 0.85),
        (r"\bi am (?:coming|comin) (?:for|after) (?:you|u|him|her|them)\b", 0.85),
        (r"\b(?:you|u|he|she|they) (?:will not|won't) make it (?:home|out|to school|to work|alive)\b", 0.9),
        (r"\b(?:wait|waiting|be waiting) (?:for (?:you|him|her) )?outside (?:your|his|her|the) \w+", 0.85),
        (r"\bpay (?:you|your \w+|him|her|them) a (?:little )?visit\b", 0.85),
        (r"\b(?:will not|won't|wont) be so lucky next time\b", 0.8),
        (r"\bput (?:a|one|some) (?:bullet|bullets|knife) in\b", 0.9),
        (
            r"\b(?:beat|kick|knock|punch|slap) the (?:crap|shit|hell|life|living daylights|snot) out of "
            r"(?:you|u|him|her|them|your)\b",
            0.9,
        ),
        (r"\bput (?:you|him|her|them|that \w+|the \w+) in the (?:ground|hospital|grave|morgue)\b", 0.9),
        (r"\b(?:shoot|shooting) (?:up )?(?:your|the|his|her|their) (?:school|office|workplace|work|house|home)\b", 0.9),
        (r"\bshoot (?:it|them|the place) up\b", 0.9),
        (r"\byou(?:re| are)? dead when i (?:find|see|catch) you\b", 0.9),
    )
)
_HARASS = (
    (re.compile(r"\b(?:fuck|screw) (?:you|u|off)\b"), 0.8),
    (re.compile(r"\b(?:you|u) (?:suck|are worthless|are nothing)\b"), 0.6),
    (re.compile(r"\b(?:shut up|stfu)\b"), 0.5),
    (
        re.compile(r"\b(?:nobody|no one) (?:here |in (?:this|the) \w+ )?(?:likes|loves|wants|cares about|needs) you\b"),
        0.7,
    ),
    (re.compile(r"\beveryone (?:here |in (?:this|the) \w+ )?(?:hates|thinks|knows|says) (?:you|that you)\b"), 0.7),
    (re.compile(r"\bi (?:hate|despise|loathe|detest) (?:you|u|him|her)\b"), 0.6),
    (re.compile(r"\b(?:waste|wastes) of (?:oxygen|space|air|skin|sperm|a life)\b"), 0.75),
    (re.compile(r"\bpiece of (?:shit|crap|garbage|trash|filth)\b"), 0.75),
)
_URGE_SELF_HARM = re.compile(
    r"\b(?:kill (?:your ?self|yourselves)|kys|go die|drink bleach|neck (?:your ?self|yourselves)|die in a fire|"
    r"drop dead|do (?:everyone|us|the world|us all) a favou?r and (?:die|leave|disappear|kill your ?self|kys)|"
    r"(?:fuck off|go away|piss off) and die|hope (?:you|u) die)\b"
)
_INSULT_NOUN = lx.ABUSE_NOUN | frozenset("virgin virgins creep creeps cow cows pig pigs".split()) | lx.SLUR_GENDERED


def _object_is_human(toks: tuple[str, ...], p: int) -> tuple[bool, bool]:
    """(the object after the verb at `p` is a person, their body or their place;
    a contest or a message follows it: "beat you at chess", "shoot the mods a message")."""
    after = toks[p + 1 : p + 7]
    human = False
    for i, w in enumerate(after):
        if w in ("up", "down", "out", "off"):
            continue
        if w in _BODY or w in _PLACE:
            human = bool({"your", "his", "her", "their"} & set(after[:i]))
        elif w in _PERSON or w in _HUMAN:
            if w in ("your", "his", "her", "their") and after[i + 1 : i + 2] and after[i + 1] not in _BODY | _PLACE:
                if after[i + 1] not in _HUMAN:
                    return False, False
                continue
            human = True
        elif w in _DET:
            continue
        else:
            return False, False
        rest = after[i + 1 : i + 3]
        if rest[:1] and rest[0] in ("a", "an") and rest[1:2] and rest[1] in _MESSAGE:
            return False, True
        if rest[:1] and rest[0] in ("at", "in") and rest[1:2] and rest[1] not in _DET | _BODY:
            return False, True
        return human, False
    return False, False


def detect_threats(s: Sentence, message: frozenset[str]) -> list[Hit]:
    hits: list[Hit] = []
    toks, text = s.tokens, s.text
    game = bool(_GAME & message)
    for rx, score in _INTIMIDATION:
        m = rx.search(text)
        if m and not s.reported(min(text[: m.start()].count(" "), len(toks) - 1)):
            hits.append(Hit(Category.THREAT, score, "threat.intimidation", match=m.group(0)))
    m = _MAKE.search(text)
    if m:
        hits.append(Hit(Category.THREAT, 0.9, "threat.intent", match=m.group(0)))
    for p, tok in enumerate(toks):
        harm = role_of(tok) == Role.THREAT or tok in _EXTRA_VERB
        if not harm or negated(toks, p) or s.reported(p):
            continue
        before = toks[max(0, p - 6) : p]
        if tok in _DIE:  # "I hope you die", "you deserve to suffer"; not "will you die?"
            if _WISH & set(before) and (_PERSON & set(toks[max(0, p - 4) : p])):
                hits.append(Hit(Category.THREAT, 0.85, "threat.wish", match=" ".join(toks[max(0, p - 4) : p + 1])))
            continue
        if not s.has_intent(p):
            continue
        human, contest = _object_is_human(toks, p)
        if contest:
            continue
        if not human:  # passive or fronted object: "you deserve to be shot", "somebody should stab him"
            human = tok not in _EXTRA_VERB and bool(_PERSON & set(before)) and before[-1:] in (("be",), ("get",))
        if not human:
            continue
        score = 0.35 if game else 0.9  # in a game, "kill him, he's one shot" is play
        hits.append(Hit(Category.THREAT, score, "threat.intent", match=" ".join(toks[max(0, p - 3) : p + 3])))
    return hits


def detect_harassment(s: Sentence) -> list[Hit]:
    hits: list[Hit] = []
    toks, text = s.tokens, s.text
    for rx, score in _HARASS:
        m = rx.search(text)
        at = min(text[: m.start()].count(" "), len(toks) - 1) if m else 0
        if m and not negated(toks, at) and not s.reported(at):
            hits.append(Hit(Category.HARASSMENT, score, "harass.phrase", match=m.group(0)))
    for p, tok in enumerate(toks):  # "you are a worthless idiot", "you stupid ...", "you smelly virgin"
        if tok not in ("you", "u", "ur", "youre"):
            continue
        window = toks[p + 1 : p + 6]
        cut = next((i for i, w in enumerate(window) if w in ",;:"), len(window))  # "you're right, my mistake"
        window = window[:cut]
        if window[:1] in (("are",), ("is",)) or (window and role_of(window[0]) in (Role.DEROG, Role.DEHUM)):
            for q, w in enumerate(window):
                if role_of(w) in (Role.DEHUM, Role.DEROG, Role.ABUSE) or w in lx.SLUR_STRONG or w in _INSULT_NOUN:
                    if not negated(toks, p + 1 + q) and not s.reported(p + 1 + q):
                        hits.append(Hit(Category.HARASSMENT, 0.8, "harass.insult", match=" ".join(toks[p : p + 2 + q])))
                    break
    words = [t for t in toks if t.isalpha()]
    if (
        2 <= len(words) <= 4
        and words[-1] in _INSULT_NOUN
        and all(role_of(w) in (Role.DEROG, Role.DEHUM) for w in words[:-1])
    ):
        hits.append(Hit(Category.HARASSMENT, 0.7, "harass.insult", match=" ".join(words)))  # "ugly bitch"
    m = _URGE_SELF_HARM.search(text)
    if m and not negated(toks, text[: m.start()].count(" ")):
        hits.append(Hit(Category.HARASSMENT, 0.95, "harass.self_harm_incitement", match=m.group(0)))
    return hits
