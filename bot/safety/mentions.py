"""Mentions that ping people: Discord @everyone/@here, role and user mentions; Slack
<!channel>, <!here>, <!everyone>, <!subteam^ID> and <@U...>. Each finding carries the
neutral text that replaces it, so the message still reads but pings nobody.
"""

from __future__ import annotations

import re

from bot.safety.categories import Category, Hit

__all__ = ["MASS_MENTION_RAID", "detect_mentions"]

ZWSP = "\u200b"
MASS_MENTION_RAID = 5  # this many user mentions in one message counts as a raid
_MASS = re.compile(r"(?<![\w\u200b])@(everyone|here|channel)\b")
_SLACK_SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
_SLACK_GROUP = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|[^>]*)?>")
_DISCORD_ROLE = re.compile(r"<@&\d+>")
_USER = re.compile(r"<@!?\d+>|<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def detect_mentions(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for m in _MASS.finditer(text):
        hits.append(Hit(Category.MENTION, 1.0, "mention.mass", m.span(), f"@{ZWSP}{m.group(1)}"))
    for m in _SLACK_SPECIAL.finditer(text):
        hits.append(Hit(Category.MENTION, 1.0, "mention.mass", m.span(), f"@{ZWSP}{m.group(1)}"))
    for m in _SLACK_GROUP.finditer(text):
        hits.append(Hit(Category.MENTION, 1.0, "mention.group", m.span(), "[group]"))
    for m in _DISCORD_ROLE.finditer(text):
        hits.append(Hit(Category.MENTION, 1.0, "mention.role", m.span(), "[role]"))
    users = list(_USER.finditer(text))
    score, rule = (1.0, "mention.raid") if len(users) >= MASS_MENTION_RAID else (0.6, "mention.user")
    for m in users:
        hits.append(Hit(Category.MENTION, score, rule, m.span(), "[user]"))
    return hits
