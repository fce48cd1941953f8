"""Platform text made safe for the core: valid Unicode, no control characters.

Platforms send JSON, and JSON may escape what is not valid Unicode: a lone surrogate
(`"\\ud800"`) decodes to a Python `str` that the tokenizer, the database drivers and
`str.encode` all refuse. NUL ends a string for PostgreSQL (asyncpg rejects it) and other
control characters only hide text from the safety checks. Every adapter passes the text
it hands to the core through `clean_text`, so none of this gets further.
"""

from __future__ import annotations

import re

__all__ = ["REPLACEMENT", "clean_text"]

REPLACEMENT = "\ufffd"  # what Unicode puts where a character could not be decoded

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1, except tab, newline, CR


def clean_text(text: str) -> str:
    """`text` with surrogate pairs joined, lone surrogates replaced by U+FFFD, and control
    characters (but tab, newline and carriage return) removed. Valid text comes back unchanged."""
    if _SURROGATE.search(text):  # UTF-16's own decoder pairs what pairs and replaces the rest
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub("", text)
