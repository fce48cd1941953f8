"""Self-harm, told apart the way OpenAI's moderation categories do: intent, instructions,
and mere mention.

* **intent** (`self_harm`, 0.9): the speaker says they are hurting themselves, plan or want
  to, or asks for a way to ("I just want to die", "I took a bottle of pills", "what's the
  most painless way for me to die"). The bot answers with support and resources, not a
  refusal.
* **instructions** (`self_harm_instructions`, 0.9): text that tells someone how to hurt
  themselves ("the easiest way to kill yourself is ...", "50 pills is enough to be fatal").
  Never posted, always blocked.
* **mention**: help-seeking for someone else, support, recovery, news, history, fiction
  ("my friend is suicidal, how do I help?", "Kurt Cobain died by suicide") — no finding.

Each rule is a construction (who is the subject, what is wanted or described), not a word:
"suicide" alone is never enough. Hyperbole ("this joke is so bad I want to die lol") and a
natural death ("die peacefully in my sleep") are not intent.
"""

from __future__ import annotations

import re

from bot.safety.categories import Category, Hit
from bot.safety.clauses import Sentence, negated

__all__ = ["detect_self_harm"]

_ME = r"(?:my ?self)"  # not "me": "this bug is killing me", "kill me now" are hyperbole
_END = (
    r"(?:die|end it|end it all|end (?:my|this) life|kill my ?self|not wake up|be dead|stop existing|disappear forever)"
)
# the speaker is doing, planning or wanting it
_INTENT = tuple(
    re.compile(rx)
    for rx in (
        rf"\bi (?:am |have been |have |will |would |might |keep |can not stop |could )?(?:just |really |honestly )?"
        rf"(?:want|wanna|going|gonna|plan|planning|ready|need|deserve|trying|tried|about) (?:to )?{_END}\b",
        r"\bi (?:really |just )?(?:do not|never) want to (?:live|be alive|exist|wake up|be here|go on)\b",
        rf"\b(?:kill|killing|hang|hanging|shoot|shooting|drown|drowning|poison|poisoning|starve|starving) {_ME}\b",
        r"\bi (?:am |have been |have |keep |started |will |am going to )?(?:cutting|cut|hurting|hurt|harming|harm|"
        r"burning|burn)(?: my ?self)? (?:again|every|still|more|deeper)\b",
        r"\bi (?:have been |am |keep |started )(?:cutting|self harming|hurting my ?self|starving my ?self)\b",
        r"\bi (?:hurt|cut|burned|burnt) my ?self (?:again|on purpose)\b",
        r"\b(?:i am|i feel|feeling) (?:so |really |very )?suicidal\b",
        r"\bi (?:took|swallowed|have taken) (?:a|the|all|all of|a whole|a whole bottle of|a bunch of|too many|\d+) ",
        r"\b(?:better off dead|better off without me|not worth living|no reason to (?:live|go on))\b",
        r"\b(?:nobody|no one|no body) (?:would|will) (?:even )?(?:miss|notice|care)\b.{0,80}"
        r"\bi (?:was|were|am) (?:gone|dead)\b",
        r"\b(?:my )?(?:goodbye|suicide) (?:letter|letters|note|notes)\b",
        r"\bi (?:am )?(?:standing|sitting) on (?:the|a) (?:bridge|ledge|roof|edge)\b",
        r"\bi (?:keep )?(?:thinking|think) about (?:suicide|killing my ?self|ending it|ending my life|jumping|dying)\b",
        r"\bi (?:bought|got|have) (?:a )?(?:rope|noose)\b",
        r"\b(?:easier|better) if i (?:just )?(?:ended it|died|was dead|were dead|was gone|were gone|killed my ?self)\b",
        r"\bi (?:can not|can never) (?:do this|go on|take (?:it|this)) any ?more\b.{0,80}\b(?:end|die|done)\b",
        rf"\b(?:how|what|which) .{{0,40}}\bfor me to {_END}\b",
        rf"\bhow (?:do|can|should) i {_END}\b",
    )
)
# asking for a way, whoever it is for: the asker may be at risk
_METHOD_QUESTION = re.compile(
    r"\b(?:what is|what are|whats|which is|how many|how much|how do you|how to|how can you|best|easiest|quickest|"
    r"fastest|most painless|painless|surest)\b.{0,40}\b(?:to (?:die|kill your ?self|commit suicide|overdose|end it|"
    r"hang your ?self|not wake up)|to be fatal|to be lethal|lethal dose)\b"
)
# telling someone how
_INSTRUCTIONS = tuple(
    re.compile(rx)
    for rx in (
        r"\b(?:the )?(?:best|easiest|quickest|fastest|most painless|surest|only) (?:way|ways|method|methods) to "
        r"(?:kill your ?self|die|commit suicide|end it|self harm|hurt your ?self|cut|overdose|hang your ?self|starve) "
        r"(?:is|are|would be)\b",
        r"\bif you (?:really )?(?:want|wanna) to (?:die|kill your ?self|end it|cut|self harm|hurt your ?self)\b.{0,80}"
        r"\b(?:use|take|jump|cut|go|mix|try|need|at least)\b",
        r"\b(?:here is |heres |this is )?how to (?:kill|hang|starve|cut|hurt|poison|drown|overdose) "
        r"(?:your ?self|urself)\b",
        r"\bto (?:hang|kill|cut|starve|hurt|poison) your ?self (?:properly|you need|use|take)\b",
        r"\b(?:\d+|fifty|twenty|a bunch of|a handful of) (?:pills|tablets|mg)\b.{0,30}\b(?:enough|fatal|lethal|kill)\b",
        r"\b(?:overdose|od) on \w+\b.{0,40}\b(?:enough|fatal|lethal)\b",
        r"\b(?:cut|slit|go) (?:along|down|up) the (?:vein|veins|wrist|wrists|arm)\b",
        r"\b(?:self harm|cut|cutting|burn) without (?:leaving )?(?:scars|marks)\b",
        r"\bwithout (?:your )?(?:parents|mom|dad|anyone) (?:noticing|finding out|knowing)\b.{0,80}"
        r"\b(?:starve|cut|hurt|skip)\b",
        r"\b(?:starve|starving) your ?self\b",
        r"\b(?:quick|quickly) and painless(?:ly)?\b",
        r"\bjump (?:from|off) (?:at least )?(?:the )?(?:\d+|tenth|twentieth)",
        r"\bmix \w+ and \w+ in a (?:closed|small|sealed) (?:room|space|car)\b",
    )
)
# hyperbole and natural death: "i want to die" about a joke, a meeting, or old age
_NOT_INTENT = re.compile(
    r"\b(?:lol|lmao|lmfao|haha|hahaha|rofl|jk|kidding|laughing|laughter|embarrassment|cringe|so bad|so funny|"
    r"peacefully|in my sleep|of old age|when i die|before i die)\b|😂|🤣|💀"
)
# the speaker is a supporter, not the person at risk
_SUPPORT = re.compile(
    r"\b(?:how (?:do|can|should) i help|help (?:him|her|them|my \w+)|worried about|prevention|awareness|hotline|"
    r"crisis line|lifeline|recovery|recovering|clean from|survived|survivor|warning signs)\b"
)


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> re.Match[str] | None:
    return next((m for m in (rx.search(text) for rx in patterns) if m), None)


def detect_self_harm(sentences: tuple[Sentence, ...]) -> list[Hit]:
    hits: list[Hit] = []
    whole = " ".join(s.text for s in sentences)
    playful = bool(_NOT_INTENT.search(whole))
    for s in sentences:
        text = s.text
        m = _first(_INSTRUCTIONS, text)
        if m and not s.reported(min(text[: m.start()].count(" "), len(s.tokens) - 1)):
            hits.append(Hit(Category.SELF_HARM_INSTRUCTIONS, 0.9, "self_harm.instructions", match=m.group(0)))
        m = _first(_INTENT, text)
        if m and not playful and not _SUPPORT.search(text):
            at = min(text[: m.start()].count(" "), len(s.tokens) - 1)
            if not negated(s.tokens, at) and not s.reported(at):
                hits.append(Hit(Category.SELF_HARM, 0.9, "self_harm.intent", match=m.group(0)))
                continue
        m = _METHOD_QUESTION.search(text)
        if m and not playful:
            hits.append(Hit(Category.SELF_HARM, 0.85, "self_harm.method_question", match=m.group(0)))
    return hits
