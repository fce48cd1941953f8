"""Cut long replies into platform-sized pieces at the best boundary, never dropping text.

Shared by the adapters: Discord measures characters (2,000), Slack measures escaped
characters (`&` counts as `&amp;`). A piece ends at a paragraph break, else a sentence end,
else a line break, else a space; a hard cut happens only inside one unbroken run longer
than the limit. Whitespace at a cut stays with the earlier piece, so the pieces join back
to the text (whitespace at the very end may be left off: platforms strip it anyway).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["split_text"]

# Cut points, best first; each pattern's match end is where the next piece starts.
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"[.!?…][)\"'’”\]]*\s+")
_LINE = re.compile(r"\n\s*")
_SPACE = re.compile(r"\s+")


def split_text(text: str, limit: int, cost: Mapping[str, int] | None = None) -> list[str]:
    """Pieces whose measured length is at most `limit`; blank text gives none.

    `cost` gives characters that count as more than one (Slack's escapes); others count 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if not text.strip():
        return []
    weights = cost or {}
    pieces: list[str] = []
    rest = text
    while _measure(rest, weights) > limit:
        fit = _fit(rest, limit, weights)
        if fit == 0:
            raise ValueError(f"a single character costs more than the limit {limit}")
        cut = _cut_point(rest, fit)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest.strip():
        pieces.append(rest)
    elif pieces and _measure(pieces[-1] + rest, weights) <= limit:
        pieces[-1] += rest  # trailing whitespace, kept when it fits
    return pieces


def _measure(text: str, weights: Mapping[str, int]) -> int:
    if not weights:
        return len(text)
    return sum(weights.get(char, 1) for char in text)


def _fit(text: str, limit: int, weights: Mapping[str, int]) -> int:
    """How many leading characters fit in `limit`."""
    if not weights:
        return min(len(text), limit)
    used = 0
    for index, char in enumerate(text):
        used += weights.get(char, 1)
        if used > limit:
            return index
    return len(text)


def _cut_point(text: str, fit: int) -> int:
    """Where to end the next piece: the best boundary within the first `fit` characters."""
    window = text[: fit + 1]  # a boundary right at the limit still counts
    # A paragraph break in the last three quarters wins; a sentence end must be in the
    # second half (else a word boundary gives fuller pieces); then any line or space.
    for pattern, min_end in ((_PARAGRAPH, fit // 4), (_SENTENCE, fit // 2), (_LINE, 1), (_SPACE, 1)):
        end = _last_boundary(pattern, window, fit)
        if end >= min_end and end > 0:
            return end
    return fit  # one unbroken run longer than the limit: a hard cut is unavoidable


def _last_boundary(pattern: re.Pattern[str], window: str, fit: int) -> int:
    """End of the last separator match that starts after some text, capped to `fit`."""
    best = 0
    for match in pattern.finditer(window):
        if match.start() == 0:
            continue  # a piece must contain more than whitespace
        best = min(match.end(), fit)
    return best
