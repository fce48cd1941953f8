"""Logs an operator can use: readable lines or JSON lines, each carrying its message's context.

`log_context(ref=..., platform=..., channel=...)` binds fields to every line logged while the
block runs, in this task and in tasks it starts (contextvars); `bind(stage=...)` adds fields
until the enclosing block ends. The handler opens one block per message with a fresh reference
(`new_ref`), which is also the id a user sees in a refusal (`current_ref`).

JSON lines hold time, level, logger, message, the bound context, any `extra=` fields and the
traceback. Third-party loggers that are chatty at INFO are lowered, and request bodies that
Bolt logs (a forged request's body is user text) are withheld.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

__all__ = [
    "BodyFilter",
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "context",
    "current_ref",
    "log_context",
    "new_ref",
    "setup_logging",
]

# Loggers that say routine things at INFO (Alembic's "Context impl SQLiteImpl." and "Running
# upgrade" on every start, HTTP clients' per-request lines); they still log warnings and errors.
_CHATTY = ("alembic", "httpx", "urllib3", "discord.gateway", "discord.client", "transformers", "aiohttp.access")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a LogRecord holds by itself; everything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("gpt2bot_log_context", default=_EMPTY)


def new_ref() -> str:
    """A short reference for one message: in its log lines and in what the user is shown."""
    return secrets.token_hex(4)


def current_ref() -> str:
    """The reference of the message being handled here ("" outside one)."""
    return str(_context.get().get("ref", ""))


def context() -> Mapping[str, Any]:
    return _context.get()


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind `fields` to every line logged inside the block (nested blocks add to them)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add `fields` to the current context until the enclosing `log_context` block ends."""
    _context.set({**_context.get(), **fields})


class _ContextFilter(logging.Filter):
    """Copies the bound context onto each record (as `record.context`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = dict(_context.get())
        return True


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [ref=… platform=… channel=…]`."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {**getattr(record, "context", {}), **_extras(record)}
        if not fields:
            return line
        head, sep, tail = line.partition("\n")  # keep a traceback below the context
        suffix = " ".join(f"{key}={_short(value)}" for key, value in fields.items())
        return f"{head} [{suffix}]{sep}{tail}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "context", {}),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class BodyFilter(logging.Filter):
    """Withholds request bodies in Bolt's log lines, and keeps forged requests out of the log.

    Bolt logs every request with a bad signature at INFO with its whole body, which is user text
    and lets anyone who can reach the endpoint fill the log. Those lines pass only at DEBUG, and
    only without the body; other lines that carry a body lose it.
    """

    _BODY = re.compile(r"(?is)((?:request )?body: ?|for the request \().*")
    _FORGED = "Invalid request signature"

    def filter(self, record: logging.LogRecord) -> bool:
        if "bolt" not in record.name:
            return True
        message = record.getMessage()
        if self._FORGED in message and not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        redacted = self._BODY.sub(lambda m: f"{m.group(1)}<withheld>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(level: str = "INFO", fmt: str = "text", *, quiet: bool = False, stream: TextIO | None = None) -> None:
    """Log to stderr at `level` (WARNING when `quiet`) as `fmt` ("text" or "json")."""
    threshold = logging.WARNING if quiet else logging.getLevelName(level)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    handler.addFilter(BodyFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(threshold, logging.WARNING))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS and key != "context"}


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
