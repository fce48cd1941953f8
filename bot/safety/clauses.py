"""Sentence structure for the detectors: sentences, quotes, negation, intent and framing.

Works on `Normalised.tokens`. Deliberately simple (no parser): each question is answered
from a small window of tokens, which keeps a check well under a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from bot.safety import lexicon as lx

__all__ = ["MAX_TOKENS", "Role", "Sentence", "negated", "role_of", "sentences"]

_ENDS = frozenset(".?!;\n")
_CLAUSE_STOP = frozenset(",:;.?!\n") | {"but", "while", "although", "though", "because"}
_TALK = frozenset("talk talks talking talked speak speaks speaking spoke".split())
_NEW_PREDICATE = frozenset("are is were was should must will would have has do does can".split())
_COMPLEMENTISER = frozenset({"that", "how", "what", "when", "why", "whether", "if"})
_NOT_NEGATING = (
    ("no", "one", "else"),
    ("no", "other"),
    ("not", "only"),
    ("no", "doubt"),
    ("not", "forget"),
    ("not", "we"),  # "why don't we ...": a proposal, not a negation
    ("no", "better"),
    ("no", "different"),
    ("no", "more", "than"),
    ("not", "much", "better"),
    ("no", "less", "than"),
    ("not", "any", "better"),  # comparisons: "no better than rats"
)
_TRUTH = frozenset("true right correct fair accurate case fact".split())  # "it is not true that ..."
INTENT = frozenset(
    "want wanna will would should must ought going gonna let us deserve deserves deserved "
    "need needs wish hope love shall gotta plan best interest could might".split()
)
FIRST_PERSON = frozenset({"i", "we"})
_OPINION = frozenset({"think", "thinking", "believe"})
_ADV_AUX = frozenset(
    "do does did really would just always have had am will can must should could also even still "
    "often honestly truly literally ll openly publicly".split()
)
_OTHERS = frozenset(
    "you people anyone someone they he she racists bigots some many others everyone idiots haters "
    "nazis trolls morons".split()
)


class Role:
    DEROG_VERB = "derog_verb"
    EXCLUDE = "exclude"
    DEHUM = "dehum"
    DEROG = "derog"
    ABUSE = "abuse"
    EMOTE_OBJ = "emote_obj"
    EMOTE_SUBJ = "emote_subj"
    EMOTE_NOUN = "emote_noun"
    THREAT = "threat"
    POSITIVE = "positive"
    PROFANE = "profane"


@cache
def _roles() -> dict[str, str]:
    table: dict[str, str] = {}
    for words, role in (
        (lx.forms(lx.DEROG_VERB), Role.DEROG_VERB),
        (lx.forms(lx.POSITIVE), Role.POSITIVE),
        (lx.forms(lx.EXCLUDE_VERB), Role.EXCLUDE),
        (lx.forms(lx.THREAT_VERB) | lx.THREAT_IRREGULAR, Role.THREAT),
        (lx.EMOTE_NOUN, Role.EMOTE_NOUN),
        (lx.forms(lx.EMOTE_SUBJ), Role.EMOTE_SUBJ),
        (lx.forms(lx.EMOTE_OBJ), Role.EMOTE_OBJ),
        (lx.ABUSE_NOUN, Role.ABUSE),
        (lx.forms(lx.DEROG_ADJ), Role.DEROG),
        (lx.DEHUM, Role.DEHUM),
    ):
        table.update(dict.fromkeys(words, role))
    return table


def role_of(token: str) -> str | None:
    return _roles().get(token)


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[str, ...]
    quoted: tuple[bool, ...]  # token lies inside "..."

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def words_outside_quotes(self) -> int:
        return sum(1 for t, q in zip(self.tokens, self.quoted, strict=True) if not q and t.isalnum())

    def has_intent(self, p: int) -> bool:
        """A wish, plan, modal or imperative governs the verb at `p` (same clause)."""
        start = max((i + 1 for i in range(p) if self.tokens[i] in _CLAUSE_STOP), default=0)
        before = self.tokens[start:p]
        if any(t in INTENT for t in before) or before[-1:] == ("ll",):
            return True
        content = [t for t in before if t not in {"just", "please", "so", "and", '"', ","}]
        return not content or content in (["what", "if", "we"], ["why", "do", "not", "we"])

    def reported(self, p: int) -> bool:
        """The words at `p` are someone else's, reported or quoted to be condemned."""
        toks = self.tokens
        if self.quoted[p] and self.words_outside_quotes() >= 3:
            return True
        for i in range(p - 1, -1, -1):
            t = toks[i]
            if t in ("treat", "treats", "treated", "treating") and p - i <= 5:
                return True  # describing how others treat a group
            if t in _TALK and toks[i + 1 : i + 2] == ("about",):
                t = "say"  # "how some people talk about X": a report, unlike "X talk back"
            if t in lx.REPORT_VERB:
                lead = toks[max(0, i - 4) : i]
                if t in _OPINION and lead[-1:] == ("who",):
                    continue  # "women who think ...": describes the group, reports nothing
                if t in _OPINION and not (_OTHERS & set(lead) or lx.NEGATOR & set(lead)):
                    return False
                endorse = " ".join(toks[max(0, i - 3) : i])
                if any(w in ("mistake", "error", "harm", "problem") for w in endorse.split()):
                    return False
                subject = next((w for w in reversed(lead) if w not in _ADV_AUX), "")
                return not (subject in FIRST_PERSON and not any(w in lx.NEGATOR for w in lead))
            if t in ("against", "condemn", "oppose") or (t == "out" and toks[i - 1 : i] == ("call",)):
                return True
        return False


MAX_TOKENS = 64  # a longer run without a sentence end is cut: every detector reads short windows


@lru_cache(maxsize=64)  # the hate and harm detectors split the same tokens
def sentences(tokens: tuple[str, ...]) -> tuple[Sentence, ...]:
    """Sentences (quotes do not end one), each at most `MAX_TOKENS` long, so the work per
    sentence is bounded and a check stays linear in the length of the text."""
    out: list[Sentence] = []
    cur: list[str] = []
    quoted: list[bool] = []
    inside = False
    for tok in tokens:
        if tok == '"':
            inside = not inside
            continue
        if tok in _ENDS and not inside:
            if cur:
                out.append(Sentence(tuple(cur), tuple(quoted)))
            cur, quoted = [], []
            continue
        cur.append(tok)
        quoted.append(inside)
        if len(cur) == MAX_TOKENS:
            out.append(Sentence(tuple(cur), tuple(quoted)))
            cur, quoted = [], []
    if cur:
        out.append(Sentence(tuple(cur), tuple(quoted)))
    return tuple(out)


def negated(tokens: tuple[str, ...], p: int, window: int = 8) -> bool:
    """A negator governs the word at `p` ("not stupid", "never said that ... scum")."""
    for i in range(p - 1, max(-1, p - window - 1), -1):
        t = tokens[i]
        if t in _CLAUSE_STOP or (t == "and" and tokens[i + 1 : i + 2] and tokens[i + 1] in _NEW_PREDICATE):
            return False  # "they have no souls and are disgusting": the negation stays behind
        if t in _COMPLEMENTISER:
            head = tokens[max(0, i - 3) : i]
            if not any(w in lx.REPORT_VERB or w in _TRUTH for w in head):
                return False
        if t == "opposite":
            return True
        if t in lx.NEGATOR and not any(tokens[i : i + len(x)] == x for x in _NOT_NEGATING):
            return True
    return False
