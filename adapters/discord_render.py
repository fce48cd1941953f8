"""Turn reply text into Discord messages: neutralise mass/role mentions, split at 2,000 chars.

Pure functions, no discord.py import: `neutralise_mentions` breaks `@everyone`, `@here`
and `<@&role>` with a zero-width space so they render as text even if a send ever
forgets `AllowedMentions.none()`; `split_message` cuts long text into pieces that
Discord accepts, at a paragraph, sentence or word boundary, never mid-word (unless a
single "word" is itself longer than the limit) and never dropping a word:
`"".join(split_message(text)) == text` up to trailing whitespace.
"""

from __future__ import annotations

import re

__all__ = ["MESSAGE_LIMIT", "neutralise_mentions", "split_message"]

MESSAGE_LIMIT = 2000  # Discord's maximum message length in characters

_ZWSP = "\u200b"
_MASS = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_ROLE = re.compile(r"<@&(\d+)>")
# Cut points, best first; each pattern's match end is where the next piece starts.
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"[.!?…][)\"'’”\]]*\s+")
_LINE = re.compile(r"\n\s*")
_SPACE = re.compile(r"\s+")


def neutralise_mentions(text: str) -> str:
    """Make `@everyone`, `@here` and role mentions inert text (they still read the same)."""
    text = _MASS.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)
    return _ROLE.sub(lambda m: f"<@{_ZWSP}&{m.group(1)}>", text)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split `text` into pieces of at most `limit` characters that join back to `text`.

    Blank text gives no pieces (Discord rejects empty messages). Whitespace at a cut
    stays with the earlier piece, so joining the pieces restores the text (only
    whitespace at the very end may be left off, which Discord would strip anyway).
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if not text.strip():
        return []
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest.strip():
        pieces.append(rest)
    elif pieces and len(pieces[-1]) + len(rest) <= limit:
        pieces[-1] += rest  # trailing whitespace, kept when it fits
    return pieces


def _cut_point(text: str, limit: int) -> int:
    """Where to end the next piece: the best boundary within the first `limit` chars."""
    window = text[: limit + 1]  # a boundary right at the limit still counts
    # A paragraph break in the last three quarters wins; a sentence end must be in the
    # second half (else a word boundary gives fuller pieces); then any line or space.
    for pattern, min_end in ((_PARAGRAPH, limit // 4), (_SENTENCE, limit // 2), (_LINE, 1), (_SPACE, 1)):
        end = _last_boundary(pattern, window, limit)
        if end >= min_end:
            return end
    return limit  # one unbroken run longer than the limit: a hard cut is unavoidable


def _last_boundary(pattern: re.Pattern[str], window: str, limit: int) -> int:
    """End of the last separator match that starts after some text, capped to `limit`."""
    best = 0
    for match in pattern.finditer(window):
        if match.start() == 0:
            continue  # a piece must contain more than whitespace
        best = min(match.end(), limit)
    return best
