"""Normalisation for matching only; the original text is always kept for display.

Steps: Unicode NFKC and casefold; drop zero-width and other format characters; map
look-alike letters (Cyrillic, Greek) to Latin; undo leetspeak inside words; join letters
spaced out ("h a t e", "f.u.c.k"); squeeze repeated letters; expand contractions; and,
for words that are not ordinary English — wordfreq's list of words people write, so
"cumin", "raccoons" and "Spiciness" are never touched — repair one dropped, swapped or
masked letter and split words run together ("Ihate", "gaypeople", "muslimscum",
"IHateWomen") into two or three known words, at least one of which the lexicon cares about
(or one a small function word, "arejust"). Every step is linear in the text's length and
independent of the hash seed.
Set phrases are mapped onto one lexicon word ("can't stand" → hate, "makes me sick" →
disgust me) so the detectors see one vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import regex

from bot.safety import lexicon as lx

__all__ = ["MAX_WORD", "Normalised", "fold", "mid_run", "normalise", "word_forms"]

_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁɡһӏᴏοαρτικνυεχβμ",  # Cyrillic and Greek look-alikes (lower case after fold)
    "aeopcyxijsdghlooaptikvuexbu",
)
_LEET = str.maketrans(
    {
        "4": "a",
        "@": "a",
        "3": "e",
        "1": "i",
        "!": "i",
        "0": "o",
        "5": "s",
        "$": "s",
        "7": "t",
        "+": "t",
        "8": "b",
        "9": "g",
        "|": "l",
    }
)
_CONTRACTIONS = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "n't": " not",
    "i'm": "i am",
    "'re": " are",
    "'ll": " will",
    "'ve": " have",
    "'d": " would",
    "it's": "it is",
    "that's": "that is",
    "he's": "he is",
    "she's": "she is",
    "there's": "there is",
    "what's": "what is",
    "let's": "let us",
    "'s": " 's",
}
# the same contractions typed without an apostrophe, and chat shorthand
_CHAT = {
    "cant": "can not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "shouldnt": "should not",
    "wouldnt": "would not",
    "couldnt": "could not",
    "wont": "will not",
    "aint": "is not",
    "im": "i am",
    "ive": "i have",
    "lets": "let us",
    "theyre": "they are",
    "youre": "you are",
    "r": "are",
    "u": "you",
    "ur": "your",
    "pls": "please",
    "ppl": "people",
}
_CHAT_RE = re.compile(r"\b(" + "|".join(_CHAT) + r")\b(?!['’])")
_CONTRACTION_RE = re.compile(
    r"\b(can't|cannot|won't|i'm|it's|that's|he's|she's|there's|what's|let's)|(n't|'re|'ll|'ve|'d|'s)\b"
)
_TOKEN_RE = re.compile(r"'s\b|[a-z0-9@$!*+|]*[a-z][a-z0-9@$!*+|]*|[a-z0-9@$!*+|]+|[\"“”.?!,;:\n]")
# Letters spaced out: three or more units of one character and one or two separators.
# Linear on any input: a run can only start where no run is under way, and the possessive
# quantifiers never give back what they took (no backtracking inside a run).
_UNIT = "[a-z0-9@$!*]"
_SEP = r"[ .\-_*]"


def mid_run(unit: str, sep: str) -> str:
    """Lookbehind alternatives that say "a spaced run is already under way here" (one
    character unit, itself at the start or after a separator, then one or two separators)."""
    starts = (f"^{unit}{sep}", f"^{unit}{sep}{sep}", f"{sep}{unit}{sep}", f"{sep}{unit}{sep}{sep}")
    return ")(?<!".join(starts)


_MID = mid_run(_UNIT, _SEP)
_SPACED_RE = re.compile(
    rf"(?<!{_MID})\b{_UNIT}(?!{_UNIT})(?:{_SEP}{{1,2}}+{_UNIT}(?!{_UNIT})){{2,}}+(?:{_SEP}{{1,2}}+)?"
)
MAX_WORD = 40  # longer "words" are never split or repaired (no real obfuscation is longer)
_REPEAT_RE = re.compile(r"(.)\1{2,}")
_BOUNDARY = frozenset('.?!,;:\n"')


@dataclass(frozen=True)
class Normalised:
    raw: str
    folded: str  # NFKC + casefold + no format chars + homoglyphs mapped
    tokens: tuple[str, ...]  # words and boundary punctuation, repaired

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


_FORMAT = regex.compile(r"\p{Cf}+")  # zero-width and other format characters


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace("‘", "'")
    return str(_FORMAT.sub("", text)).translate(_HOMOGLYPHS)


FREQUENT_ZIPF = 1.5  # wordfreq Zipf frequency from which a word is ordinary English (~174,000 words)
PART_ZIPF = 3.0  # a piece of a run-together word that is no lexicon word must be this common


@cache
def _frequencies() -> dict[str, float]:
    """English word frequencies (wordfreq's 'best' list, offline, CC BY-SA 4.0 data)."""
    from wordfreq import get_frequency_dict

    return dict(get_frequency_dict("en"))


def frequent(word: str, zipf: float = FREQUENT_ZIPF) -> bool:
    """True for a word people actually write (Zipf ≥ `zipf`): such a word is never split,
    repaired or read as an obfuscation of another one ("cumin", "raccoons", "Spiciness")."""
    return _frequencies().get(word, 0.0) >= 10 ** (zipf - 9)


@cache
def _targets() -> frozenset[str]:
    """Words worth repairing towards: everything the detectors look for."""
    sets = (
        lx.GROUP_NOUN,
        lx.GROUP_ADJ,
        lx.SLUR_STRONG,
        lx.SLUR_MILD,
        lx.SLUR_GENDERED,
        lx.DEHUM,
        lx.ABUSE_NOUN,
        lx.PROFANITY_STRONG,
        lx.SEXUAL_EXPLICIT,
        lx.EMOTE_NOUN,
        lx.THREAT_IRREGULAR,
        lx.ABLE_HEADS,
    )
    words = lx.forms(
        lx.EMOTE_OBJ | lx.EMOTE_SUBJ | lx.THREAT_VERB | lx.POSITIVE | lx.DEROG_ADJ | lx.DEROG_VERB | lx.EXCLUDE_VERB
    )
    return frozenset().union(*sets) | words


@cache
def _typos() -> dict[str, str]:
    """Misspelling → the lexicon word it most likely is; built in sorted order, so the
    same misspelling always maps to the same word whatever the hash seed."""
    typos = lx.typo_variants(sorted(_targets()))
    for variant, word in lx.typo_variants(sorted(lx.GROUP_NOUN), min_len=5, substitute=True).items():
        typos.setdefault(variant, word)  # one letter swapped for another: "muzlims", "wimmen"
    return typos


_GLUE = (
    frozenset(
        "i we you they he she it me us them to all the a an so much many these those this that "
        "my our your their of for by at in on and are is be am was were been just only nothing "
        "but like as than not never no should must will would can could want wanna go get "
        "every any some most such what who why how".split()
    )
    | lx.ABLE_HEADS
)
_LETTERS = re.compile(r"(?<![A-Za-z])[A-Za-z]++")  # whole runs of ASCII letters, each looked at once
_HUMP = re.compile(r"[a-z][A-Z]")
_CAMEL_CUT = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _known(word: str) -> bool:
    """A lexicon or function word, or a frequent English word (letters only: "h8" and
    "sh1t" are frequent on the web, but they are spellings of other words)."""
    return word in _targets() or word in _GLUE or (word.isalpha() and frequent(word))


def _part(word: str) -> bool:
    """A plausible piece of a run-together word: a target, a function word, or a common
    English word of three letters or more."""
    return word in _targets() or word in _GLUE or (len(word) >= 3 and frequent(word, PART_ZIPF))


def _split(word: str) -> list[str] | None:
    """Two or three known words run together, at least one a target ("gaypeople",
    "ihatewomen"), or a function word glued to an English word ("arejust")."""
    targets = _targets()
    n = len(word)
    pairs = [
        (word[:i], word[i:])
        for i in range(1, n)
        if _part(word[:i]) and _part(word[i:]) and ({word[:i], word[i:]} & (targets | _GLUE))
    ]
    if pairs:  # most target words, then the most even cut ("muslim scum", not "muslims cum")
        return list(max(pairs, key=lambda ab: (sum(w in targets for w in ab), min(map(len, ab)))))
    if n > 24:
        return None
    triples = [
        (word[:i], word[i:j], word[j:])
        for i in range(1, n - 1)
        for j in range(i + 1, n)
        if _part(word[:i]) and _part(word[i:j]) and _part(word[j:])
    ]
    triples = [abc for abc in triples if targets.intersection(abc)]
    if triples:
        return list(max(triples, key=lambda abc: (sum(w in targets for w in abc), min(map(len, abc)))))
    return None


@lru_cache(maxsize=16384)
def _repair_cached(word: str) -> tuple[str, ...]:
    return tuple(_repair(word))


def _repair(word: str) -> list[str]:
    """Best guess at what an unknown word meant; returns one to three words. A frequent
    English word (or any word in the lexicon) is returned as it is."""
    if len(word) > MAX_WORD:
        return [word]
    word = _REPEAT_RE.sub(r"\1\1", word)  # an elongation ("fuuuuck") is never a word of its own
    if _known(word):
        return [word]
    if "*" in word and word.replace("*", "").isalpha():  # a masked letter: "sc*m", "f**k"
        masked = _masked(word)
        if masked:
            return [masked]
    if "8" in word and word.replace("8", "ate").isalpha():  # rebus: "h8" → hate
        return _repair(word.replace("8", "ate"))
    if any(c in word for c in "@$!*+|0123456789"):
        unleet = word.translate(_LEET).replace("*", "")
        if unleet.isalpha():
            return _repair(unleet)
    single = re.sub(r"(.)\1", r"\1", word)
    if single != word and _known(single):
        return [single]
    if word in _typos():
        return [_typos()[word]]
    if word.isalpha() and len(word) >= 4:
        parts = _split(word)
        if parts:
            return parts
    return [word]


def _masked(word: str) -> str | None:
    """The lexicon word a word with letters masked by "*" stands for (the first in sorted
    order when several fit)."""
    rx = re.compile(re.escape(word).replace(r"\*", "[a-z]"))
    return next((t for t in _sorted_targets() if len(t) == len(word) and rx.fullmatch(t)), None)


@cache
def _sorted_targets() -> tuple[str, ...]:
    return tuple(sorted(_targets()))


def _unspace(text: str) -> str:
    """Join runs of single characters ("h a t e") when the result means something."""

    def join(m: re.Match[str]) -> str:
        run = m.group(0)
        word = re.sub(r"[ .\-_*]", "", run).translate(_LEET)
        fixed = _repair_cached(word) if len(word) >= 3 else ()
        if any(w in _targets() for w in fixed):
            return " ".join(fixed) + " "
        return run

    return _SPACED_RE.sub(join, text)


_PHRASES = (
    # negative emotion aimed at the object ("can't stand X", "sick of X")
    (
        re.compile(
            r"\b(can|could|will) (not|never) (stand|stomach|bear|abide|tolerate)\b"
            r"(?! (up|by|still|on|in|back|out|down|aside|for|to)\b)"
        ),
        "hate",
    ),
    (re.compile(r"\b(sick and tired|sick|tired|fed up|weary) (of|with)\b"), "hate"),
    (re.compile(r"\b(have|has|had) (had )?enough of\b"), "hate"),
    (re.compile(r"\bwant(s)? nothing to do with\b"), "hate"),
    (re.compile(r"\bhave no (time|patience) for\b"), "have no patience for"),
    # negative emotion caused by the subject ("X make me sick", "X make my blood boil")
    (
        re.compile(
            r"\b(make|makes|made|making) (me|us) (feel )?(want to |wanna )?(sick|ill|nauseous|queasy|angry|mad|"
            r"furious|livid|puke|vomit|gag|retch|cringe|shudder|throw up|be sick|scream)\b"
        ),
        "disgust me",
    ),
    (re.compile(r"\b(make|makes|made|making) (my|our) (blood boil|skin crawl|stomach (turn|churn))\b"), "disgust me"),
    (re.compile(r"\b(piss|pisses|pissing) (me|us) off\b"), "enrage me"),
    (re.compile(r"\b(drive|drives|driving) (me|us) (crazy|mad|nuts|insane|up the wall)\b"), "enrage me"),
    (re.compile(r"\b(get|gets|getting) on (my|our) nerves\b"), "enrage me"),
    (re.compile(r"\b(annoy|annoys|irritate|irritates) the (hell|shit|crap|life) out of (me|us)\b"), "annoy me"),
    (re.compile(r"\b(less than|barely|not even|sub|sub-) ?human\b"), "subhuman"),
    (re.compile(r"\b(get|got|getting) rid of\b"), "eliminate"),
    (re.compile(r"\bput(ting)? an end to\b"), "eliminate"),
    (re.compile(r"\b(wipe|wiped|wiping) out\b"), "eliminate"),
    (re.compile(r"\bdo(ing)? away with\b"), "eliminate"),
    (re.compile(r"\bcamel (fucker|jockey)"), r"camel\1"),
)


def _uncamel(text: str) -> str:
    """Split CamelCase words that mean nothing as one word ("GayPeople", "IHateWomen")."""

    def cut(m: re.Match[str]) -> str:
        word = m.group(0)
        if len(word) > MAX_WORD or not _HUMP.search(word) or _known(word.lower()):
            return word
        return _CAMEL_CUT.sub(" ", word)

    return _LETTERS.sub(cut, text)


def normalise(text: str) -> Normalised:
    folded = fold(_uncamel(text))
    t = _unspace(folded)
    t = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(0)], t)
    t = _CHAT_RE.sub(lambda m: _CHAT[m.group(0)], t)
    for rx, repl in _PHRASES:
        t = rx.sub(repl, t)
    tokens: list[str] = []
    for tok in _TOKEN_RE.findall(t):
        if tok == "'s":  # possessive, kept so the owner is not taken for the subject
            tokens.append(tok)
        elif tok in _BOUNDARY or tok in "“”":
            tokens.append('"' if tok in "“”" else tok)
        elif tok.isdigit():
            tokens.append(tok)

        else:
            tokens.extend(_repair_cached(tok.rstrip("!") or tok))
    return Normalised(raw=text, folded=folded, tokens=tuple(tokens))


@lru_cache(maxsize=8192)
def word_forms(chunk: str) -> tuple[str, ...]:
    """What one folded, space-free chunk of text reads as, word by word ("sh1t" → shit,
    "muslimscum" → muslim scum); cached, since chat repeats its words."""
    forms: list[str] = []
    for tok in _TOKEN_RE.findall(chunk):
        if tok not in _BOUNDARY and tok != "'s" and not tok.isdigit():
            forms.extend(_repair_cached(tok.rstrip("!") or tok))
    return tuple(forms)
