"""What a config key or channel setting may hold: one checker and one description of its rules.

A field's metadata (written with `option`) carries a one-line doc and its rules:

    lo, hi          numeric bounds; every int and float field has them, and floats must be finite
    lo_open         (lo, hi] instead of [lo, hi]
    choices         the allowed values
    pattern         a regex the whole string must match, with `allowed`: the same in words
    schemes         a URL with one of these schemes and a valid port (empty allowed if the default is)
    path            a file system path: no part longer than the system allows
    max_len         longest string or list item (default 256); lists hold at most 1,000 items
    choices_each    the allowed items of a list
    setting         also a per-channel `/gpt2 set` key

The config file and environment (`bot.config`) and `/gpt2 set` (`bot.settings`) both call `check`
or `parse` and `describe`, so a bound and its wording exist once. Errors are `Invalid` with the
allowed values in words; each caller names the key its own way.
"""

from __future__ import annotations

import json
import math
import re
import typing
import unicodedata
from collections.abc import Mapping
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "MAX_ITEMS",
    "MAX_LEN",
    "Invalid",
    "check",
    "describe",
    "format_number",
    "mask_credentials",
    "option",
    "parse",
]

MAX_LEN = 256  # a string's default length limit
MAX_ITEMS = 1000  # longest list
_NAME_MAX = 255  # longest file name (one path part) on Linux and macOS
_PATH_MAX = 4096
_TRUE = frozenset({"on", "true", "yes", "1"})
_FALSE = frozenset({"off", "false", "no", "0"})
_SAFE_CONTROLS = frozenset("\t\n")
_CREDENTIALS = re.compile(r"(\w[\w+.-]*://[^:/@\s]*:)[^@/\s]+@")  # scheme://user:password@


class Invalid(ValueError):
    """A value breaks its field's rules; `allowed` says what would do, in words."""

    def __init__(self, allowed: str) -> None:
        self.allowed = allowed
        super().__init__(allowed)


def option(default: Any, doc: str, **rules: Any) -> Any:
    """A config field: default, one-line doc, and rules (see the module docstring)."""
    if isinstance(default, list):
        raise TypeError("list defaults must be tuples (config values are frozen)")
    return field(default=default, metadata={"doc": doc, "default": default, **rules})


def describe(kind: Any, rules: Mapping[str, Any], *, bool_words: str = "true or false") -> str:
    """What the field allows, in words: 'from 0 to 2', 'a whole number from 1 to 512', ..."""
    if kind is bool:
        return bool_words
    if typing.get_origin(kind) is tuple:
        items = rules.get("choices_each")
        return f"a list of {'items from: ' + ', '.join(items) if items else 'strings'}"
    if kind in (int, float):
        lo, hi = format_number(rules["lo"]), format_number(rules["hi"])
        if rules.get("lo_open"):
            return f"greater than {lo} and at most {hi}"
        return f"{'a whole number ' if kind is int else ''}from {lo} to {hi}"
    if "choices" in rules:
        return ", ".join(map(str, rules["choices"]))
    if "allowed" in rules:
        return str(rules["allowed"])
    return f"at most {rules.get('max_len', MAX_LEN)} characters"


def check(value: Any, kind: Any, rules: Mapping[str, Any]) -> Any:
    """A typed value (from TOML) checked against the rules; raises Invalid. Ints become floats where
    the field is a float, lists become tuples."""
    if typing.get_origin(kind) is tuple:
        return _check_list(value, rules)
    if kind is bool:
        if not isinstance(value, bool):
            raise Invalid(f"must be {describe(bool, rules)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"must be {describe(int, rules)}")
        return _check_number(value, kind, rules)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"must be a number {describe(float, rules)}")
        return _check_number(float(value), kind, rules)
    if kind is str:
        if not isinstance(value, str):
            raise Invalid("must be a string")
        return _check_string(value, rules)
    raise TypeError(f"no rules for fields of type {kind!r}")


def parse(text: str, kind: Any, rules: Mapping[str, Any], *, bool_words: str = "true or false") -> Any:
    """A value written as text (an environment variable, a chat command) parsed, then `check`ed.

    Lists are JSON arrays or comma-separated; booleans are on/off, true/false, yes/no or 1/0."""
    value = text.strip()
    if typing.get_origin(kind) is tuple:
        return check(_split_list(value), kind, rules)
    if kind is bool:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise Invalid(f"must be {bool_words}")
    if kind in (int, float):
        try:
            number = int(value) if kind is int else float(value)
        except ValueError:
            raise Invalid(f"must be {'' if kind is int else 'a number '}{describe(kind, rules)}") from None
        return check(number, kind, rules)
    return check(value, kind, rules)


def mask_credentials(text: str) -> str:
    """`postgresql://user:secret@host` -> `postgresql://user:***@host`, anywhere in `text`."""
    return _CREDENTIALS.sub(r"\1***@", text)


def format_number(value: float) -> str:
    """2.0 -> '2', 0.25 -> '0.25', 1000000 -> '1000000' (never '1e+06')."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- the checks -------------------------------------------------------------------------


def _check_number(value: float, kind: type, rules: Mapping[str, Any]) -> Any:
    lo, hi = rules["lo"], rules["hi"]  # every numeric field has bounds (tests/test_config.py checks)
    too_low = value <= lo if rules.get("lo_open") else value < lo
    if not math.isfinite(value) or too_low or value > hi:  # NaN compares false with everything
        raise Invalid(f"must be {describe(kind, rules)}")
    return value


def _check_string(value: str, rules: Mapping[str, Any]) -> str:
    max_len = rules.get("max_len", MAX_LEN)
    if len(value) > max_len:
        raise Invalid(f"at most {max_len} characters")
    if any(unicodedata.category(c) == "Cc" and c not in _SAFE_CONTROLS for c in value):
        raise Invalid("no control characters (such as NUL or escape)")
    choices = rules.get("choices")
    if choices is not None and value not in choices:
        raise Invalid(f"allowed: {describe(str, rules)}")
    pattern = rules.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise Invalid(f"allowed: {rules['allowed']}")
    if "schemes" in rules:
        _check_url(value, rules)
    if rules.get("path"):
        _check_path(value)
    return value


def _check_list(value: Any, rules: Mapping[str, Any]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or any(isinstance(v, bool) or not isinstance(v, str | int) for v in value):
        raise Invalid("must be a list of strings")
    if len(value) > MAX_ITEMS:
        raise Invalid(f"at most {MAX_ITEMS} items")
    items = tuple(str(v) for v in value)
    allowed: tuple[str, ...] = rules.get("choices_each", ())
    if allowed and any(v not in allowed for v in items):
        raise Invalid(f"allowed items: {', '.join(allowed)}")
    item_rules = {"max_len": rules.get("max_len", MAX_LEN)}
    for item in items:
        try:
            _check_string(item, item_rules)
        except Invalid as exc:
            raise Invalid(f"each item: {exc.allowed}") from None
    return items


def _check_url(value: str, rules: Mapping[str, Any]) -> None:
    schemes: tuple[str, ...] = rules["schemes"]
    allowed = str(rules.get("allowed") or f"a URL starting with {' or '.join(s + '://' for s in schemes)}")
    if not value and rules.get("default") == "":
        return
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise Invalid(f"not a valid URL ({exc}); allowed: {allowed}") from None
    if parts.scheme not in schemes or not value.startswith(f"{parts.scheme}://"):
        raise Invalid(f"allowed: {allowed}")


def _check_path(value: str) -> None:
    longest = max((len(part.encode()) for part in value.split("/")), default=0)
    if longest > _NAME_MAX or len(value.encode()) > _PATH_MAX:
        raise Invalid(f"a path with no part longer than {_NAME_MAX} bytes and at most {_PATH_MAX} in all")


def _split_list(text: str) -> Any:
    if text.startswith("["):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise Invalid('must be a JSON list (["a", "b"]) or comma-separated') from None
    return [item.strip() for item in text.split(",") if item.strip()]
