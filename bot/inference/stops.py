"""Stop-pattern scanning over streamed text, with hold-back of a possible match start.

Uses the `regex` package (already required by `transformers`) for partial matching: a search
with `partial=True` also reports a match cut short by the end of the text, i.e. text that could
still become a stop match. That text is held back from streaming until it either completes a
match (the reply is cut where the match starts) or can no longer match (it is released).

Each step searches only from the earliest position that could still start a match, so the cost
is one regex call over a short tail (usually just the new token's characters).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import regex

__all__ = ["StopScanner", "compile_stop"]


@lru_cache(maxsize=256)
def compile_stop(pattern: str) -> Any:
    """Compile a stop pattern once; a bad pattern raises ValueError naming it."""
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"bad stop pattern {pattern!r}: {exc}") from exc


class StopScanner:
    """Watches one reply's growing text for the stop pattern."""

    def __init__(self, pattern: str | None) -> None:
        self._pattern = compile_stop(pattern) if pattern else None
        self._hold = 0  # no match can start before this offset
        self.cut: int | None = None  # where the first complete match starts

    def scan(self, text: str) -> int:
        """`text` grew; returns how many leading characters are safe to show.

        Sets `cut` (and returns it) once a complete match is found.
        """
        if self.cut is not None:
            return self.cut
        if self._pattern is None:
            return len(text)
        found = self._pattern.search(text, self._hold, partial=True)
        if found is None:
            self._hold = len(text)
        elif not found.partial:
            self.cut = found.start()
            return self.cut
        else:
            self._hold = found.start()
        return self._hold
