"""The Slack adapter running for real on 127.0.0.1, wired to a fake Web API.

`slack_rig(core)` starts the fake Web API, then `SlackAdapter` in HTTP mode pointed at
it, and yields both with a `SlackSender` that signs requests like Slack. `ScriptedCore`
stands in for the core where a test is about the adapter alone: it records what it was
given and answers with scripted text, optionally holding every answer until released
(a model that is slow for exactly as long as the test needs).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from adapters.slack import SlackAdapter
from adapters.slack_web import RateLimitWatch, SlackWeb, web_client
from bot.config import Secrets, SlackSection
from bot.events import ChannelRef, Command, Core, Event, Outbox, Reply, ReplyKind
from bot.inbox import Inbox
from storage.memory import MemoryInbox
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import SlackSender

__all__ = ["BOT_TOKEN", "SIGNING_SECRET", "Rig", "ScriptedCore", "slack_rig", "slack_web"]

BOT_TOKEN = "xoxb-test-bot-token-0123456789"
QUICK_RETRIES = FixedValueRetryIntervalCalculator(0.01)
SIGNING_SECRET = "test-signing-secret-abcdef"


@dataclass
class ScriptedCore:
    """Records events and commands; answers addressed messages with `answer(event)`."""

    answer: Callable[[Event], str] = lambda event: f"echo: {event.text}"
    command_answer: Callable[[Command], Reply] = lambda cmd: Reply(f"ran {cmd.text}", ReplyKind.COMMAND)
    hold: asyncio.Event | None = None  # when set up, replies wait until it is set
    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    changes: list[tuple[str, ChannelRef, str, str]] = field(default_factory=list)  # edits and deletions
    received: asyncio.Event = field(default_factory=asyncio.Event)

    async def may_answer(self, event: Event) -> bool:
        return True

    async def on_message(self, event: Event, outbox: Outbox) -> None:
        self.events.append(event)
        self.received.set()
        if not event.addressed:
            return
        async with outbox.working():
            if self.hold is not None:
                await self.hold.wait()
            text = self.answer(event)
        await outbox.send(Reply(text))

    async def on_message_edited(self, where: ChannelRef, message_id: str, text: str) -> None:
        self.changes.append(("edited", where, message_id, text))
        self.received.set()

    async def on_message_deleted(self, where: ChannelRef, message_id: str) -> None:
        self.changes.append(("deleted", where, message_id, ""))
        self.received.set()

    async def on_command(self, command: Command, outbox: Outbox) -> None:
        self.commands.append(command)
        self.received.set()
        await outbox.send(self.command_answer(command))


@dataclass
class Rig:
    api: FakeSlackApi
    adapter: SlackAdapter
    sender: SlackSender


@asynccontextmanager
async def slack_rig(
    core: Core,
    *,
    inbox: Inbox | None = None,
    secrets: Secrets | None = None,
    api: FakeSlackApi | None = None,
    adapter_args: Mapping[str, Any] | None = None,
    **config: Any,
) -> AsyncIterator[Rig]:
    """Fake Web API (unless `api`, already running, is given) + the adapter on a free port + a sender.
    `adapter_args` go to `SlackAdapter` (e.g. `max_pending`), `config` into its `SlackSection`."""
    adapter_args = adapter_args or {}
    async with AsyncExitStack() as stack:
        fake = api if api is not None else await stack.enter_async_context(FakeSlackApi())
        fake.add_user("U1", "Alice")
        fake.add_user("UADMIN", "Ada", admin=True)
        section = dataclasses.replace(SlackSection(), host="127.0.0.1", port=0, api_base_url=fake.base_url, **config)
        keys = secrets or Secrets(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET)
        adapter = SlackAdapter(
            section, keys, core, inbox if inbox is not None else MemoryInbox(), backoff=QUICK_RETRIES, **adapter_args
        )
        await adapter.start()
        stack.push_async_callback(adapter.stop)
        sender = SlackSender(adapter.url, SIGNING_SECRET)
        stack.push_async_callback(sender.close)
        yield Rig(fake, adapter, sender)


@asynccontextmanager
async def slack_web(api: FakeSlackApi) -> AsyncIterator[tuple[SlackWeb, RateLimitWatch]]:
    """The adapter's Web API client (its retry handlers, backing off 10 ms) pointed at the fake."""
    async with aiohttp.ClientSession() as session:
        watch = RateLimitWatch()
        yield SlackWeb(web_client(BOT_TOKEN, api.base_url, session, watch, backoff=QUICK_RETRIES)), watch
