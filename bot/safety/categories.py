"""The one vocabulary moderators tune: categories, actions, directions.

Every detector reports onto these categories, so a moderator tunes *what* is unwanted,
never *which tool* found it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Action", "Category", "Direction", "Hit", "parse_action", "parse_category", "parse_direction"]


class Category(enum.Enum):
    SLUR_HATE = "slur_hate"  # slurs and targeted hate against identity groups
    HARASSMENT = "harassment"  # insults and abuse aimed at a person
    THREAT = "threat"  # threats and incitement of violence
    SEXUAL = "sexual"  # explicit sexual content
    SEXUAL_MINORS = "sexual_minors"  # sexual content involving minors: always blocked
    SELF_HARM = "self_harm"  # a person at risk (intent, or asking for methods): answer with support
    SELF_HARM_INSTRUCTIONS = "self_harm_instructions"  # how to hurt oneself, or urging it: never posted
    PROFANITY = "profanity"  # swearing without a target
    PII = "pii"  # emails, phone numbers, card numbers, IP addresses
    SECRET = "secret"  # API tokens, webhooks, private keys
    LINK = "link"  # URLs and invites
    MENTION = "mention"  # @everyone, @here, role/user mentions


class Action(enum.IntEnum):
    """Ordered by severity: the most severe action of any category wins."""

    ALLOW = 0
    FLAG = 1  # post/answer as usual, write an audit row
    CENSOR = 2  # replace the offending words with asterisks
    REDACT = 3  # replace spans with a mark such as [email]
    BLOCK = 4  # input: refuse; output: regenerate, then a canned reply


class Direction(enum.Enum):
    INPUT = "input"  # what people send the bot
    OUTPUT = "output"  # what the bot is about to post


_ALIASES = {
    "slur": Category.SLUR_HATE,
    "hate": Category.SLUR_HATE,
    "slur/hate": Category.SLUR_HATE,
    "slur-hate": Category.SLUR_HATE,
    "sexual-minors": Category.SEXUAL_MINORS,
    "self-harm": Category.SELF_HARM,
    "self-harm-instructions": Category.SELF_HARM_INSTRUCTIONS,
    "links": Category.LINK,
    "mentions": Category.MENTION,
    "secrets": Category.SECRET,
}


def parse_category(word: str) -> Category | None:
    word = word.strip().lower()
    try:
        return Category(word)
    except ValueError:
        return _ALIASES.get(word)


def parse_action(word: str) -> Action | None:
    word = word.strip().lower()
    if word == "neutralise" or word == "neutralize":
        return Action.REDACT
    return Action.__members__.get(word.upper())


def parse_direction(word: str) -> Direction | None:
    try:
        return Direction(word.strip().lower())
    except ValueError:
        return None


@dataclass(frozen=True)
class Hit:
    """One detector finding: a category, a 0–1 score and the rule that fired.

    `span` (start, end in the original text) and `mark` are set by detectors whose
    findings can be redacted or censored in place; `match` is what the rule matched (the
    words, normalised), so a moderator can see why.
    """

    category: Category
    score: float
    rule: str
    span: tuple[int, int] | None = None
    mark: str = ""
    match: str = ""
