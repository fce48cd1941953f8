"""The platform-neutral data every adapter speaks: where, who, what, and the reply.

Adapters turn platform traffic into these frozen dataclasses and render `Reply`
objects back; nothing platform-specific crosses this line.
"""

from __future__ import annotations

import enum
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Adapter",
    "Author",
    "ChannelRef",
    "Command",
    "Core",
    "Event",
    "Outbox",
    "Reply",
    "ReplyKind",
]


@dataclass(frozen=True)
class ChannelRef:
    """One conversation: a channel, or a thread inside it (its own history)."""

    platform: str  # "discord" | "slack" | "console"
    workspace: str  # guild id / team id; "" for DMs and the console
    channel: str
    thread: str = ""  # thread id (Discord) or thread_ts (Slack); "" when not in a thread

    @property
    def key(self) -> str:
        """A stable string naming this conversation (queue fairness, logs)."""
        parts = [self.platform, self.workspace or "-", self.channel]
        if self.thread:
            parts.append(self.thread)
        return ":".join(parts)

    @property
    def parent(self) -> ChannelRef:
        """The channel a thread lives in (itself when not a thread)."""
        return ChannelRef(self.platform, self.workspace, self.channel)


@dataclass(frozen=True)
class Author:
    id: str
    name: str
    is_bot: bool = False
    is_moderator: bool = False  # decided by the adapter from platform permissions


@dataclass(frozen=True)
class Event:
    """A chat message the bot may answer."""

    where: ChannelRef
    author: Author
    text: str  # mention of the bot already stripped by the adapter
    message_id: str = ""
    addressed: bool = False  # mentioned, replied to, or a DM: answer even if not enabled
    is_dm: bool = False


@dataclass(frozen=True)
class Command:
    """A `/gpt2 ...` command; `text` is everything after `/gpt2`."""

    where: ChannelRef
    author: Author
    text: str
    message_id: str = ""


class ReplyKind(enum.Enum):
    CHAT = "chat"  # generated text
    COMMAND = "command"  # answer to a command
    REFUSAL = "refusal"  # blocked by safety, permissions, bad input
    BUSY = "busy"  # queue full or rate limited
    ERROR = "error"  # something failed; details are in the log only


@dataclass(frozen=True)
class Reply:
    text: str
    kind: ReplyKind = ReplyKind.CHAT
    ephemeral: bool = False  # only the author should see it, where the platform allows
    reply_to: str = ""  # platform message id this answers


class Outbox(Protocol):
    """How the core talks back for one event; each adapter implements it."""

    async def send(self, reply: Reply) -> str | None:
        """Deliver a reply (the adapter splits, escapes and neutralises mentions, and retries
        what the platform asks it to retry). Returns the platform id of the reply's first
        message ("" where the platform gives none, as for ephemeral answers), or None when the
        reply could not be delivered: the adapter has logged why and removed or replaced any
        placeholder or preview. Never raises for platform failures."""

    def working(self) -> AbstractAsyncContextManager[None]:
        """Show that a reply is being generated (typing indicator, placeholder)."""

    async def preview(self, text: str) -> None:
        """Show the reply being written (its checked text so far). The next `send` replaces
        the preview; a preview no reply followed is removed when the handling ends. Outboxes
        that cannot show one do nothing."""


class Core(Protocol):
    """What adapters call: the platform-neutral bot (implemented by `bot.handler`)."""

    async def may_answer(self, event: Event) -> bool:
        """Whether `on_message` may answer `event` at all: it has text, and it is addressed to
        the bot or auto-reply is on where it was said. Adapters make only these durable (the
        inbox) before handling them; one cheap look-up at most. Never raises."""
        ...

    async def on_message(self, event: Event, outbox: Outbox) -> None:
        """Decide whether to answer, generate, and send through `outbox`. Never raises.
        Cancelling it (shutdown) leaves the stored user turn unanswered, to be answered later."""

    async def on_command(self, command: Command, outbox: Outbox) -> None:
        """Run a `/gpt2 ...` command and send its answer through `outbox`. Never raises."""

    async def on_message_edited(self, where: ChannelRef, message_id: str, text: str) -> None:
        """Someone edited platform message `message_id` in `where`'s channel (any thread):
        its stored turn takes the new text, checked like new input. Never raises."""

    async def on_message_deleted(self, where: ChannelRef, message_id: str) -> None:
        """Platform message `message_id` in `where`'s channel (any thread) was deleted: its
        stored turn leaves the history, so it never reaches a prompt again. Never raises."""


class Adapter(Protocol):
    """A platform connection started and stopped by `bot.app`.

    Shutdown runs in three phases: `pause()` (take no new work), `idle()` awaited for at
    most `bot.shutdown_grace_s` (in-flight replies finish), then `stop()`.
    """

    name: str

    async def start(self) -> None:
        """Connect or start serving; return once running. Raise `AdapterError` on failure."""

    async def wait(self) -> None:
        """Return when the connection ends (closed, or failed after start)."""

    @property
    def pending(self) -> int:
        """Messages and commands being handled right now."""
        ...

    async def pause(self) -> None:
        """Stop taking new work; in-flight handlings go on. New requests are refused so the
        platform redelivers them elsewhere where it can (Slack HTTP: 503), or not dispatched."""

    async def idle(self) -> None:
        """Return once no handling is in flight."""

    async def stop(self) -> None:
        """Cancel what is still in flight (each cancelled reply replaces its placeholder or
        preview with a short "restarting" note; its turn stays unanswered in the inbox),
        disconnect and release resources; safe to call twice."""
