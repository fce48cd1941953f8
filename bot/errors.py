"""The error tree. Users see only `UserError.user_message`; everything else is logged.

Gpt2BotError
├── ConfigError            bad config key/value: one line, exit status 2
├── ModelLoadError         the configured model cannot be loaded: which, why, how to fix
├── AdapterError           a platform connection cannot start (bad token, missing intent)
├── UserError              safe to show to the person who caused it
│   ├── CommandError       bad command, bad key, value out of bounds
│   ├── PermissionDenied   a non-moderator tried to change something
│   └── Busy               queue full / rate limited: try again soon
│       └── QueueFull
└── GenerationError        the model failed, timed out or was cancelled
    ├── GenerationTimeout
    └── GenerationCancelled
"""

from __future__ import annotations

from bot.rules import mask_credentials

__all__ = [
    "AdapterError",
    "Busy",
    "CommandError",
    "ConfigError",
    "GenerationCancelled",
    "GenerationError",
    "GenerationTimeout",
    "Gpt2BotError",
    "ModelLoadError",
    "PermissionDenied",
    "QueueFull",
    "UserError",
]


class Gpt2BotError(Exception):
    """Base of every error gpt2bot raises on purpose."""


class ConfigError(Gpt2BotError):
    """A config key or value is wrong; the message names key, value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"config error: {key} = {_shown(value)}: {allowed}")


_SHOWN_CHARS = 120


def _shown(value: object) -> str:
    """The value as the error shows it: a URL's password masked, long values cut."""
    text = mask_credentials(repr(value))
    if len(text) > _SHOWN_CHARS:
        text = f"{text[: _SHOWN_CHARS - 20]}… ({len(text):,} characters)"
    return text


class ModelLoadError(Gpt2BotError):
    """The configured model could not be loaded."""

    def __init__(self, model: str, reason: str, fix: str) -> None:
        self.model = model
        self.reason = reason
        self.fix = fix
        super().__init__(f"cannot load model {model!r}: {reason}\n  fix: {fix}")


class AdapterError(Gpt2BotError):
    """A platform adapter cannot start; the message tells the operator what to change."""


class UserError(Gpt2BotError):
    """An error whose message is written for the user who caused it."""

    def __init__(self, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(user_message)


class CommandError(UserError):
    """A command was malformed or a value was out of bounds; nothing changed."""


class PermissionDenied(UserError):
    """The author may not do this (not a moderator)."""


class Busy(UserError):
    """Temporarily overloaded: the user should try again shortly."""


class QueueFull(Busy):
    """The inference queue is at `inference.max_queue`; rejected before queueing."""


class GenerationError(Gpt2BotError):
    """Generation failed; the user gets a short apology, the log the details."""


class GenerationTimeout(GenerationError):
    """A request waited or ran longer than `inference.timeout_s`."""


class GenerationCancelled(GenerationError):
    """A request was cancelled (channel reset, shutdown)."""
