"""Turn reply text into Discord messages: neutralise mass/role mentions, split at 2,000 chars.

Pure functions, no discord.py import: `render` turns a `Reply` into the messages it becomes,
`render_preview` a reply being written into the one message that shows it;
`neutralise_mentions` breaks `@everyone`, `@here`
and `<@&role>` with a zero-width space so they render as text even if a send ever
forgets `AllowedMentions.none()`; `split_message` cuts long text into pieces that
Discord accepts, at a paragraph, sentence or word boundary, never mid-word (unless a
single "word" is itself longer than the limit) and never dropping a word:
`"".join(split_message(text)) == text` up to trailing whitespace.
"""

from __future__ import annotations

import re

from adapters.splitting import split_text
from bot import messages
from bot.events import Reply

__all__ = ["MESSAGE_LIMIT", "neutralise_mentions", "render", "render_preview", "split_message"]

MESSAGE_LIMIT = 2000  # Discord's maximum message length in characters

_ZWSP = "\u200b"
_MASS = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_ROLE = re.compile(r"<@&(\d+)>")


def neutralise_mentions(text: str) -> str:
    """Make `@everyone`, `@here` and role mentions inert text (they still read the same)."""
    text = _MASS.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)
    return _ROLE.sub(lambda m: f"<@{_ZWSP}&{m.group(1)}>", text)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters at paragraph, sentence or word boundaries."""
    return split_text(text, limit)


def render(reply: Reply) -> list[str]:
    """The messages a reply becomes: mention-safe pieces of at most 2,000 characters."""
    return [piece for piece in split_message(neutralise_mentions(reply.text)) if piece.strip()]


def render_preview(text: str) -> str:
    """The one message a preview shows: `text` (a `messages.preview`, ending in its mark) cut to
    fit one message with the mark kept, so a preview always reads as unfinished, however long."""
    pieces = render(Reply(text))
    if len(pieces) <= 1:
        return pieces[0] if pieces else ""
    mark = messages.preview("")
    head = split_message(neutralise_mentions(text), MESSAGE_LIMIT - len(mark))[0]
    return messages.preview(head.rstrip())
