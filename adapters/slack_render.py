"""Text both ways across Slack's mrkdwn: plain text in, safe escaped chunks out.

Slack escapes `&`, `<` and `>` in message text and wraps mentions, channels and links
in `<...>`. Inbound, `to_plain` turns that markup back into what a person typed (the
bot's own mention removed); `adapters.cleaning.clean_text` then drops what no valid text
holds (lone surrogates, which JSON can escape but UTF-8 cannot encode, and NUL). Outbound, `render` escapes
generated text so no `<!channel>`, `<!here>`, `<!subteam^...>` or `<@U...>` can form,
breaks bare `@here`-style words, and splits the result into chunks Slack accepts, keeping
every non-blank character; `plain_blocks` shows a chunk as plain text (a `plain_text`
section, emoji codes left as typed), so GPT-2's `*`, `_`, `~`, backticks and `:smile:`
are not turned into formatting. chat.postMessage could also take `mrkdwn: false`, but
chat.update has no such argument, and a reply is usually an update of its placeholder.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.splitting import split_text

__all__ = ["MAX_CHARS", "escape", "neutralise", "plain_blocks", "render", "split", "to_plain"]

# chat.postMessage truncates past 40,000 characters and Slack advises staying under 4,000;
# 3,000 also fits a section block, so a chunk always shows whole.
MAX_CHARS = 3000

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPED_LEN = {char: len(code) for char, code in _ESCAPES.items()}
_BROADCAST_WORD = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ZWSP = "\u200b"
_ANGLE = re.compile(r"<([^<>]*)>")
_SPACES = re.compile(r"[ \t]{2,}")


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def neutralise(text: str) -> str:
    """Break bare `@channel`, `@here`, `@everyone` with a zero-width space.

    Escaping already stops `<!channel>` and user-group markup; this covers clients or
    options (`link_names`) that would turn the bare words into broadcasts.
    """
    return _BROADCAST_WORD.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)


def split(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Pieces whose escaped length is at most `limit`, cut at the best boundary."""
    return split_text(text, limit, _ESCAPED_LEN)


def render(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Generated text → escaped, neutralised chunks ready for `chat.postMessage`.

    Blank chunks are dropped (Slack rejects them); no visible character is lost.
    """
    safe = neutralise(text)
    return [escape(piece) for piece in split(safe, limit) if piece.strip()]


def plain_blocks(chunk: str) -> list[dict[str, Any]]:
    """A rendered chunk as Block Kit that Slack shows exactly as written."""
    return [{"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": False}}]


def _plain_markup(match: re.Match[str], bot_user_id: str) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        if bot_user_id and target[1:] == bot_user_id:
            return ""
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        special = target[1:].split("^", 1)[0]
        return "@" + (label.lstrip("@") or special)
    return label or target


def to_plain(text: str, bot_user_id: str = "") -> str:
    """Slack message text → what the person typed, minus the bot's own mention."""
    plain = _ANGLE.sub(lambda m: _plain_markup(m, bot_user_id), text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _SPACES.sub(" ", plain).strip()
