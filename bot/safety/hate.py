"""Targeted hate: slurs, and an identity group joined to dehumanising, derogatory,
hostile, excluding or threatening language, with negation and counter-speech taken into
account.

A hateful sentence needs a *target* (a protected group, or a pronoun standing for one in
the same or a neighbouring sentence) and *evidence* linked to it. Abuse of a person, an
object or a non-protected group is left to the harassment and threat detectors.

Scores mean something: about 0.7–0.95 for evidence tied to the group by the sentence's
structure ("X are Y", "I hate X", "X should be Y-ed", an implicit pattern), 0.4 for
weaker evidence (a derogatory word in the same clause as the group, a weak pattern), and
at most 0.15 for the same evidence reported, quoted or condemned (counter-speech), so a
strict threshold of 0.2 catches more hate without blocking the people who argue against
it. A reclaimed slur scores 0.15 (the word rules still censor it where policy says so).
"""

from __future__ import annotations

from functools import lru_cache

from bot.safety import lexicon as lx
from bot.safety.categories import Category, Hit
from bot.safety.clauses import INTENT, Role, Sentence, negated, role_of, sentences
from bot.safety.implicit import implicit_matches
from bot.safety.normalise import Normalised
from bot.safety.slurs import QUEER_ADJ_OF, slur_hits

__all__ = ["COUNTER_FACTOR", "detect_hate", "group_positions"]

COUNTER_FACTOR = 0.15  # reported, quoted or condemned evidence keeps at most this share
_PRONOUNS = frozenset("they them their themselves you your these those ones".split())
_BREAK = frozenset(", ; : which i".split())
_STOP = frozenset(",:;.?!\n") | {"but", "while", "although", "though", "because", "whereas"}
_FUCK = frozenset("fuck fuk fck fk".split())
_LINK = frozenset(
    "are is am be been being were was like as than become becomes became seem seems act "
    "acts acting behave such remain stay nothing but just".split()
)
_RELATIVE = frozenset("who whom which that".split())
_VERBISH = (
    lx.REPORT_VERB
    | lx.forms(lx.EMOTE_OBJ | lx.THREAT_VERB | lx.EXCLUDE_VERB)
    | frozenset("are is were was do does did have has keep want wants go goes".split())
)
_DET = frozenset("all the these those every any some of them most such more".split())
_AUX = frozenset("are is am be been being were was get gets got getting".split())
_NICE = frozenset("nice good great lovely amazing wonderful delicious beautiful fantastic fine".split())
_OWN = frozenset("i we".split())
_THIRD = frozenset(
    "he she they people someone somebody some many others anyone anybody who those everyone "
    "everybody nobody racists bigots men guys folks".split()
)
# words between a group and a loose predicate that signal some other relation ("women with cancer")
_PREP = frozenset("with from of about against for on in by to has have had face faces facing suffer suffering".split())
_MEDICAL = frozenset(
    "cancer cancers tumour tumours tumor tumors virus viruses disease diseases germ germs "
    "bacteria infection infections contagion pox leprosy".split()
)
_OWN_NATURE = frozenset((w,) for w in "nature kind sort type lives life blood genes dna brain brains".split())
_HEAD_ONLY = frozenset("blind deaf".split())  # "blind idiots" is an insult, not a group
_NARROW = frozenset((w,) for w in "especially particularly mainly mostly specifically namely above".split())
_OTHERS_VIEW = frozenset("you them him her some racists bigots people".split())  # "worthless to you"
_INSULT_AFTER_COLOUR = frozenset(
    "like such who that are is were was should must will and or to of in".split()
) | frozenset(",.;:!?\n")


def group_positions(tokens: tuple[str, ...]) -> list[int]:
    """Where a group of people is named: from the lexicon ("women", "trans people", "the
    disabled", "female trash", "haitians") or from how the phrase is built, for groups the
    lexicon has never heard of ("ginger people", "people from india", "the amish")."""
    return list(_group_positions(tokens))


# words that, before a people noun, pick people by behaviour or number, not by who they are
_NOT_IDENTITY = (
    frozenset(
        "the a an some many most all these those this that other others any every few several such more less "
        "certain real normal regular ordinary average typical random different same both two three four five "
        "my our your their his her its whose which what how so very really just only even also good bad nice "
        "great decent kind smart rude selfish toxic mean annoying entitled boring weird lovely amazing wonderful "
        "happy sad angry busy lonely sick tired online local younger older new first last next".split()
    )
    | lx.COUNTER_MARKER
    | lx.NEGATOR
)
_CONDITION = frozenset((w,) for w in "wheelchairs autism disabilities adhd dwarfism albinism hiv aids".split())
_ADJ_ENDINGS = ("ish", "ese", "less", "ian", "ean")  # "the irish", "the homeless", "the italian"
_THE_ADJ = frozenset("elderly old poor amish dutch french swiss welsh deaf blind disabled".split())
_COLLECTIVE_NEXT = frozenset("are is were was should must need needs deserve deserves will can have".split())


def _attributive(t: str, nxt: str) -> bool:
    """A group adjective before a noun that is not a person ("japanese cities", "gay bar")."""
    if not nxt.isalpha() or t.endswith("s") or nxt in lx.ABLE_HEADS or nxt in _FUNCTION:
        return False
    return role_of(nxt) is None and nxt not in lx.DEHUM and nxt not in lx.ABUSE_NOUN


_FUNCTION = (
    _LINK
    | _VERBISH
    | _DET
    | _AUX
    | _STOP
    | frozenset(
        "and or to of in on at for with by from who that which should must will would can could may might "
        "need needs deserve deserves have has had do does did not never no i you he she we they me him her us them "
        "it everywhere here there today".split()
    )
)


@lru_cache(maxsize=256)  # asked several times per sentence
def _group_positions(tokens: tuple[str, ...]) -> tuple[int, ...]:
    out: list[int] = []
    n = len(tokens)
    for i, t in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < n else ""
        prev = tokens[i - 1] if i else ""
        if t == "queer" and nxt not in QUEER_ADJ_OF:
            continue
        if (t in lx.GROUP_NOUN or t in lx.DEMONYM) and not _attributive(t, nxt):
            out.append(i)
        elif t in lx.GROUP_ADJ:
            insult = nxt in lx.DEHUM or nxt in lx.ABUSE_NOUN
            if t in lx.COLOUR_ADJ and insult:  # "black vermin", not "black garbage bags"
                after = tokens[i + 2] if i + 2 < n else "."
                insult = after in _INSULT_AFTER_COLOUR
            the_adj = prev == "the" and t not in lx.COLOUR_ADJ and (not nxt or not nxt.isalpha() or nxt in _LINK)
            if t in _HEAD_ONLY:
                insult = False
            if nxt in lx.ABLE_HEADS or insult or nxt == "neck" or the_adj:
                out.append(i)
        elif nxt in lx.PEOPLE_HEADS and t.isalpha() and t not in _NOT_IDENTITY and role_of(t) is None:
            out.append(i)  # "<modifier> people": fat people, ginger folks, bi guys, lower caste people
        elif t in lx.PEOPLE_HEADS and nxt in ("from", "of") and i + 2 < n and tokens[i + 2].isalpha():
            out.append(i)  # "people from india", "people of faith"
        elif (
            t in lx.PEOPLE_HEADS and nxt in ("in", "with") and tokens[i + 2 : i + 3] in (("wheelchairs",), ("autism",))
        ):
            out.append(i)
        elif (
            prev == "the"
            and nxt in _COLLECTIVE_NEXT
            and (t in _THE_ADJ or (len(t) >= 6 and t.endswith(_ADJ_ENDINGS)))
            and role_of(t) is None
        ):
            out.append(i)  # "the homeless are", "the elderly should", "the irish are"
    text = " ".join(tokens)
    for phrase in lx.GROUP_PHRASES:
        at = text.find(phrase)
        if at >= 0 and (at == 0 or text[at - 1] == " "):
            out.append(text[:at].count(" ") + phrase.count(" "))
    return tuple(sorted(set(out)))


def _targets(s: Sentence, near_group: bool) -> list[int]:
    groups = group_positions(s.tokens)
    if groups or near_group:
        groups += [i for i, t in enumerate(s.tokens) if t in _PRONOUNS]
    return sorted(groups)


def _clause_gap(toks: tuple[str, ...], a: int, b: int) -> bool:
    """No clause boundary between positions a and b."""
    return not _STOP.intersection(toks[min(a, b) + 1 : max(a, b)])


def _embedded(toks: tuple[str, ...], t: int, groups: frozenset[int]) -> bool:
    """The group at `t` sits in a relative clause about someone else ("people who call
    Muslims ..."), so what follows is not said of the group."""
    for r in range(t - 1, 0, -1):
        if toks[r] in _STOP:
            return False
        if toks[r] in _RELATIVE and toks[r - 1].isalpha() and r - 1 not in groups and toks[r - 1] not in _LINK:
            return toks[r] != "that" or (r + 1 < len(toks) and toks[r + 1] in _VERBISH)
    return False


def _victim(toks: tuple[str, ...], t: int) -> bool:
    """The group is on the receiving end: "Muslims were attacked", "women being harassed"."""
    after = toks[t + 1 : t + 5]
    for i, w in enumerate(after):
        if w in lx.VICTIM_VERB and any(a in _AUX for a in after[:i]):
            return not any(a in INTENT or a == "to" for a in after[:i])  # "should be shot" is a wish
    return False


def _condemned(toks: tuple[str, ...], p: int) -> bool:
    """The evidence is the subject of a condemnation: "hating X is bigotry", "to call X Y is wrong"."""
    lead = [w for w in toks[:p] if w not in {"just", "and", "so", "but", "even", "openly", "publicly"}]
    if not (toks[p].endswith("ing") and not lead) and lead != ["to"]:
        return False
    for i in range(p + 1, len(toks) - 1):
        if toks[i] in ("is", "was", "are", "makes", "make") and lx.COUNTER_MARKER.intersection(toks[i + 1 : i + 4]):
            return True
    return False


def _subject_is_other(toks: tuple[str, ...], p: int) -> bool:
    """Someone else, not the speaker, feels it: "some people still hate X"."""
    before = []
    for w in reversed(toks[:p]):
        if w in _STOP:
            break
        before.append(w)
    return not _OWN.intersection(before) and bool(_THIRD.intersection(before))


def _link(s: Sentence, targets: list[int], groups: frozenset[int], p: int, role: str) -> float:
    """1.0 when the structure ties the word at `p` to a target, 0.5 for the same clause only, else 0."""
    toks = s.tokens
    live = [t for t in targets if not _victim(toks, t)]
    if role == Role.EMOTE_OBJ:
        if p + 1 < len(toks) and toks[p + 1] in ("by", "with", "at", "about"):
            return float(any(p < t <= p + 6 and _clause_gap(toks, p, t) for t in live))
        for t in live:
            window = toks[p + 1 : t]
            # "I loathe people, especially if they are ...": a comma before a narrowing word
            gap = {w for i, w in enumerate(window) if not (w == "," and window[i + 1 : i + 2] in _NARROW)}
            if p < t <= p + 8 and not (gap & (_STOP | lx.REPORT_VERB | {"who", "whom"})):
                return 1.0
        return 0.0
    if role == Role.EMOTE_SUBJ:
        for t in live:
            if t < p and p - t <= 8 and _clause_gap(toks, t, p) and not _embedded(toks, t, groups):
                return 1.0
            if p < t <= p + 6 and toks[p + 1 : p + 3] and toks[p + 1] in ("by", "with", "at", "of", "about"):
                return 1.0
        return 0.0
    if role == Role.PROFANE:
        for t in live:
            if p < t <= p + 3 or (t < p and set(toks[p + 1 : p + 3]) & {"off", "themselves", "yourselves", "you"}):
                return 1.0
        return 0.0
    if role in (Role.EMOTE_NOUN, Role.THREAT, Role.EXCLUDE):
        if role != Role.EMOTE_NOUN and p and toks[p - 1] in ("who", "that") and p - 2 not in groups:
            return 0.0  # "people who attack Muslims": the subject is someone else
        ok = [t for t in live if not (t < p and _embedded(toks, t, groups))]
        if role == Role.EXCLUDE:  # the group must be what is excluded, not a bystander
            ok = [
                t
                for t in ok
                if (p < t <= p + 4 and set(toks[p + 1 : t]) <= _DET) or (t < p and toks[p - 1] in ("be", "been", "get"))
            ]
        return float(bool(ok))
    if role == Role.POSITIVE:
        for t in live:
            if t < p and not _embedded(toks, t, groups):
                return 1.0
            if p < t <= p + 6 and {"for", "of", "to", "towards", "toward"} & set(toks[p + 1 : t]):
                return 1.0
        return 0.0
    if role == Role.DEROG_VERB:
        if (p and toks[p - 1] in _AUX and toks[p].endswith("ed")) or _NICE.intersection(toks[p + 1 : p + 3]):
            return 0.0
        return float(any(t < p <= t + 4 and _clause_gap(toks, t, p) and not _embedded(toks, t, groups) for t in live))
    best = 0.0  # predicates: "women are scum", "female vermin", "filthy immigrants", "as filthy as women"
    for t in live:
        if t < p and toks[t + 1 : t + 2] == ("'s",) and toks[t + 2 : t + 3] not in _OWN_NATURE:
            continue  # "the women's match was brutal": the match is, not the women
        between = toks[min(t, p) + 1 : max(t, p)]
        if t < p and _embedded(toks, t, groups):
            continue
        if not _BREAK.intersection(between):
            if t < p and (p - t == 1 or (p - t <= 8 and _LINK.intersection(between))):
                return 1.0
            if t < p <= t + 4 and _AUX.intersection(toks[max(0, t - 2) : t]):
                return 1.0  # a question: "why are X so Y?"
            if p < t <= p + 6 and (_LINK.intersection(between) or {"for", "of"} & set(between)):
                return 1.0
            if p < t and all(role_of(w) in (Role.DEROG, Role.DEHUM) or w in _FUCK | {"fucking"} for w in between):
                return 1.0  # "filthy immigrants", "disgusting fucking gay people"
        if abs(p - t) <= 6 and _clause_gap(toks, t, p) and not (lx.REPORT_VERB | _PREP).intersection(between):
            best = 0.5 if role != Role.DEHUM or toks[p] not in _MEDICAL else best
    return best


_SCORE = {
    Role.DEHUM: 0.9,
    Role.DEROG: 0.8,
    Role.ABUSE: 0.8,
    Role.EMOTE_OBJ: 0.85,
    Role.EMOTE_SUBJ: 0.85,
    Role.EMOTE_NOUN: 0.8,
    Role.THREAT: 0.95,
    Role.POSITIVE: 0.75,
    Role.PROFANE: 0.8,
    Role.DEROG_VERB: 0.75,
    Role.EXCLUDE: 0.75,
}
_LOOSE = 0.4


def _evidence(s: Sentence, targets: list[int]) -> list[tuple[float, str, int]]:
    found: list[tuple[float, str, int]] = []
    toks = s.tokens
    groups = frozenset(group_positions(toks))
    for p, tok in enumerate(toks):
        role = Role.PROFANE if tok in _FUCK else role_of(tok)
        if role is None or p in groups:
            continue
        link = _link(s, targets, groups, p, role)
        if not link:
            continue
        if role in (Role.THREAT, Role.EXCLUDE) and not s.has_intent(p):
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
        rule = f"hate.{role}" if link == 1.0 else "hate.loose"
        score = _SCORE[role] if link == 1.0 else _LOOSE
        view = toks[p + 1 : p + 6]
        other_view = any(w == "to" and view[i + 1 : i + 2] and view[i + 1] in _OTHERS_VIEW for i, w in enumerate(view))
        if (role == Role.EMOTE_OBJ and _subject_is_other(toks, p)) or other_view:
            rule, score = rule + ".described", score * COUNTER_FACTOR
        found.append((score, rule, p))
    live = [t for t in targets if not _victim(toks, t)]
    if live:
        for score, p in implicit_matches(s.text, toks):
            near = any(abs(t - p) <= 10 and s.quoted[t] == s.quoted[min(p, len(toks) - 1)] for t in live)
            if near and not negated(toks, p):
                found.append((score, "hate.implicit" if score >= 0.5 else "hate.implicit_weak", p))
    return found


def detect_hate(norm: Normalised) -> list[Hit]:
    sents = sentences(norm.tokens)
    context = frozenset(norm.tokens)
    has_group = [bool(group_positions(s.tokens)) for s in sents]
    counter_text = bool(context & lx.COUNTER_MARKER)
    hits: list[Hit] = []
    framing = counter_text or bool(context & lx.REPORT_VERB)
    for i, s in enumerate(sents):
        if has_group[i] and (framing or any(s.quoted)):
            # the rules read this as reported, quoted or condemned: a learned model may flag
            # it but not block it (the combination rule in checker.py)
            hits.append(Hit(Category.SLUR_HATE, 0.0, "hate.framing.counter"))
        near = any(has_group[max(0, i - 1) : i + 2])
        items = slur_hits(s, context, COUNTER_FACTOR) + _evidence(s, _targets(s, near))
        for score, rule, p in items:
            if s.reported(p) or (counter_text and any(s.quoted)) or _condemned(s.tokens, p):
                score, rule = min(score, 1.0) * COUNTER_FACTOR, rule + ".counter"
            elif not has_group[i] and rule.startswith("hate."):
                score *= 0.9  # the group is only named in a neighbouring sentence
            hits.append(Hit(Category.SLUR_HATE, round(score, 3), rule, match=_why(s.tokens, p)))
    return hits


def _why(toks: tuple[str, ...], p: int) -> str:
    """The evidence word and the nearest group word, for moderators ("immigrants … vermin")."""
    p = min(p, len(toks) - 1)
    groups = group_positions(toks)
    if not groups:
        return toks[p]
    t = min(groups, key=lambda g: abs(g - p))
    return toks[p] if t == p else " … ".join((toks[min(t, p)], toks[max(t, p)]))
