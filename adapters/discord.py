"""The Discord adapter: discord.py gateway traffic in, the core's replies out.

It answers when mentioned (the bot's user or its managed role), when someone replies to
one of its messages, in DMs (`discord.allow_dms`), and in channels where a moderator ran
`enable`. It never sees its own messages, nor other bots' unless `discord.allow_bots`.

No message is lost. A message the core may answer (`Core.may_answer`) is claimed in the
inbox before it is handled and marked done once handled, so one the bot took but never
answered (stopped or crashed) is answered after a restart: the recovery loop fetches it
again through REST, as it is now. Each handling runs in discord.py's own event task,
tracked here; beyond `MAX_PENDING` of them a message or command is answered "busy". An
exception from the core is logged and the user gets a short apology. Every interaction
gets an answer: the live `/gpt2` runs, anything else is told what to use instead.
Edited and deleted messages (raw events, cached or not, in threads too) reach the core.

Stopping (`bot.events.Adapter`): `pause()` stops taking work (a new message is claimed
and left for after the restart, with a "restarting" note; a command is told to try again
in a minute); `stop()` cancels what is still running, where each handling leaves the note
in place of its preview, then closes the gateway.

Proxies. discord.py 2.7 has no per-client endpoint setting: the REST base is the class
attribute `discord.http.Route.BASE` (the interaction webhooks use the same `Route`) and
the first gateway connection uses `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`
(a `yarl.URL`; the gateway accepts plain-text JSON frames). `start()` sets both,
process-wide, from `discord.api_base_url` / `discord.gateway_url` and `stop()` puts the
previous values back, so run one Discord adapter per process. `AutoShardedClient`
normally takes its gateway URL from `GET /gateway/bot`; with `gateway_url` set and
`shards = "auto"`, the adapter asks `/gateway/bot` only for the shard count, so every
shard connects through the configured gateway.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.cleaning import clean_text
from adapters.discord_commands import (
    Kind,
    autocomplete_choices,
    command_text,
    forget,
    kind_of,
    remove_guild_copies,
    sync,
)
from adapters.discord_connection import INTENT_REFUSED, keep_connected
from adapters.discord_outbox import (
    MAX_RATELIMIT_WAIT_S,
    NO_MENTIONS,
    PLATFORM_ERRORS,
    InteractionOutbox,
    MessageOutbox,
    respond,
)
from adapters.discord_recovery import refetch, route_of
from adapters.discord_translate import author_of, channel_ref, is_moderator, message_event
from bot import messages
from bot.config import DiscordSection
from bot.errors import AdapterError
from bot.events import ChannelRef, Command, Core, Event, Reply, ReplyKind
from bot.inbox import Claim, Delivery, Inbox, recover

__all__ = ["INTENT_REFUSED", "MAX_PENDING", "DiscordAdapter", "api_base"]

log = logging.getLogger(__name__)

MAX_PENDING = 256  # messages and commands in flight; beyond this they are answered "busy"
CONNECT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
RECOVER_EVERY_S = 30.0  # how often to look for messages a stopped or crashed process left unanswered
SWEEP_GUILDS = 100  # servers checked for stale /gpt2 copies at start (the rest: when one is used)


def api_base(url: str) -> str:
    """`https://proxy:8080` → `https://proxy:8080/api/v10`; a base already ending in /api/vN is kept."""
    url = url.rstrip("/")
    return url if re.search(r"/api/v\d+$", url) else f"{url}/api/v10"


class _Hooks:
    """discord.py event methods, forwarded to the adapter (mixed into the client class)."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(**options)
        self._adapter = adapter

    async def on_connect(self) -> None:
        self._adapter._connected.set()

    async def on_ready(self) -> None:
        self._adapter._ready.set()
        self._adapter._log_ready()

    async def on_message(self, message: discord.Message) -> None:
        await self._adapter._on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._adapter._on_interaction(interaction)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._adapter._on_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._adapter._on_delete(payload.channel_id, payload.guild_id, [payload.message_id])

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._adapter._on_delete(payload.channel_id, payload.guild_id, sorted(payload.message_ids))


class _Client(_Hooks, discord.Client):
    pass


class _ShardedClient(_Hooks, discord.AutoShardedClient):
    pass


class DiscordAdapter:
    """One Discord bot connection (sharded or not); implements `bot.events.Adapter`."""

    name = "discord"

    def __init__(
        self,
        config: DiscordSection,
        token: str,
        core: Core,
        inbox: Inbox,
        *,
        recover_within: timedelta = timedelta(minutes=15),
    ) -> None:
        self._config = config
        self._token = token
        self._core = core
        self._inbox = inbox
        self._recover_within = recover_within
        self._client: discord.Client | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()  # a READY arrived (one shard is up)
        self._ready = asyncio.Event()  # on_ready: every shard's servers arrived
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()  # handlings of messages and commands
        self._room = asyncio.Event()  # set when a handling ends (recovery waits for room)
        self._chores: set[asyncio.Task[None]] = set()  # recovery loop, stale command sweep
        self._recovery: asyncio.Task[None] | None = None
        self._handed_back: set[asyncio.Task[Any]] = set()  # cut off with a failed client: no note, no REST
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self._paused = False

    @property
    def pending(self) -> int:
        """Messages and commands still being handled."""
        return len(self._tasks)

    async def pause(self) -> None:
        self._paused = True  # new messages are kept for after the restart; commands are told to retry
        await self._end_chores()

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if not self._token:
            raise AdapterError(f"Discord needs a bot token: set {self._config.token_env}")
        self._use_endpoints()
        self._client = client = self._make_client()
        try:
            await self._login(client, sync_commands=True)
            self._runner = asyncio.create_task(
                keep_connected(client, self._replace_client, self._stopping), name="discord-gateway"
            )
            # Wait for on_ready (every shard's servers have arrived), not only READY: stopping
            # while discord.py still waits for servers would leave its ready task dangling.
            ready = asyncio.create_task(self._ready.wait())
            done, _ = await asyncio.wait(
                {self._runner, ready}, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            ready.cancel()
            if self._runner in done:
                self._runner.result()  # raises the AdapterError
                raise AdapterError("the Discord gateway connection ended during start-up")
            if not done and not self._connected.is_set():
                raise AdapterError(f"no READY from the Discord gateway within {CONNECT_TIMEOUT_S:.0f} s")
            if not done:
                log.warning("discord: connected; servers are still arriving after %.0f s", CONNECT_TIMEOUT_S)
        except BaseException:
            await self.stop()
            raise
        self._start_chores(client)

    async def wait(self) -> None:
        """Return when the gateway connection ends; raise AdapterError if it failed."""
        if self._runner is not None:
            await asyncio.wait({self._runner})  # never cancels the runner itself
            self._runner.result()

    async def stop(self) -> None:
        self._paused = True
        await self._end_chores()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()  # each leaves a "restarting" note where its reply was being written
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            log.info("discord: %d handling(s) cut off; their messages are answered after the restart", len(tasks))
        self._stopping.set()
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        runner = self._runner
        if runner is not None:
            done, _ = await asyncio.wait({runner}, timeout=STOP_TIMEOUT_S)
            if not done:
                runner.cancel()
                await asyncio.wait({runner})
        self._restore_endpoints()

    # --- start-up ----------------------------------------------------------------------

    def _make_client(self) -> discord.Client:
        config = self._config
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.message_content = True
        intents.dm_messages = config.allow_dms
        options: dict[str, Any] = {
            "intents": intents,
            "allowed_mentions": NO_MENTIONS,
            "chunk_guilds_at_startup": False,
            "guild_ready_timeout": config.guild_ready_timeout,
            "max_ratelimit_timeout": MAX_RATELIMIT_WAIT_S,
        }
        if config.shards == "none":
            return _Client(self, **options)
        if config.shards != "auto":
            options["shard_count"] = int(config.shards)
        return _ShardedClient(self, **options)

    async def _login(self, client: discord.Client, *, sync_commands: bool = False) -> None:
        try:
            await client.login(self._token)
        except discord.LoginFailure:
            raise AdapterError(
                f"Discord rejected the bot token in {self._config.token_env}: copy it again from the "
                "Developer Portal (your application → Bot → Reset Token)"
            ) from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise AdapterError(f"cannot reach the Discord API at {Route.BASE}: {exc}") from None
        if sync_commands:
            try:
                await sync(
                    client,
                    self._config.command_guilds,
                    restrict=self._config.restrict_commands,
                    allow_dms=self._config.allow_dms,
                )
            except PLATFORM_ERRORS as exc:
                log.error("discord: could not sync /gpt2 (chat still works): %s", exc)
        if isinstance(client, discord.AutoShardedClient) and self._config.gateway_url and client.shard_count is None:
            client.shard_count, _, _ = await client.http.get_bot_gateway()

    async def _replace_client(self) -> discord.Client:
        """A new client in place of one that closed itself after a failure (sharded). What the
        old one was answering cannot be sent through it any more: those handlings are cut off
        and their messages go back to the inbox, for a fresh recovery pass to answer."""
        cut = list(self._tasks)
        self._handed_back.update(cut)
        for task in cut:
            task.cancel()
        if cut:
            await asyncio.wait(cut, timeout=STOP_TIMEOUT_S)
            log.warning("discord: %d handling(s) handed back to the inbox with the failed connection", len(cut))
        self._handed_back.clear()
        client = self._make_client()
        await self._login(client)
        self._client = client
        self._recovery = None
        self._start_chores(client, sweep=False)
        return client

    def _start_chores(self, client: discord.Client, *, sweep: bool = True) -> None:
        if self._recovers:
            if self._recovery is not None:
                self._recovery.cancel()
            self._recovery = self._chore(
                recover(
                    self._inbox,
                    "discord",
                    self._recover,
                    max_age=self._recover_within,
                    every_s=RECOVER_EVERY_S,
                )
            )
        if sweep and not self._config.command_guilds:
            self._chore(self._sweep([guild.id for guild in client.guilds]))

    def _chore(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)
        return task

    async def _end_chores(self) -> None:
        chores = list(self._chores)
        for task in chores:
            task.cancel()
        if chores:
            await asyncio.wait(chores)

    async def _sweep(self, guild_ids: list[int]) -> None:
        client = self._client
        if client is None:
            return
        if len(guild_ids) > SWEEP_GUILDS:
            log.info("discord: checking %d of %d servers for stale /gpt2 copies", SWEEP_GUILDS, len(guild_ids))
        try:
            await remove_guild_copies(client, guild_ids[:SWEEP_GUILDS])
        except PLATFORM_ERRORS as exc:
            log.warning("discord: could not check servers for stale /gpt2 copies: %s", exc)

    def _use_endpoints(self) -> None:
        """Point discord.py at the configured proxies (process-wide; undone by stop())."""
        if self._saved_endpoints is None:
            self._saved_endpoints = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if self._config.api_base_url:
            Route.BASE = api_base(self._config.api_base_url)
        if self._config.gateway_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._config.gateway_url)

    def _restore_endpoints(self) -> None:
        if self._saved_endpoints is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_endpoints
            self._saved_endpoints = None

    def _log_ready(self) -> None:
        client = self._client
        if client is not None and client.user is not None:
            log.info("discord: ready as %s (%s) in %d servers", client.user, client.user.id, len(client.guilds))

    # --- messages ----------------------------------------------------------------------

    async def _on_message(self, message: discord.Message) -> None:
        client = self._client
        if client is None or client.user is None:
            return
        event = message_event(message, client.user, self._config)
        if event is None or not await self._core.may_answer(event):
            return
        outbox = MessageOutbox(message)
        key = f"discord:{event.message_id}"
        if len(self._tasks) >= MAX_PENDING and not self._paused:
            log.warning("discord: %d handlings in flight; message %s is answered busy", len(self._tasks), key)
            await outbox.send(Reply(messages.BUSY, ReplyKind.BUSY, reply_to=event.message_id))
            return
        with self._tracked():
            claim = await self._claim(key, route_of(message))
            if claim is Claim.DUPLICATE:
                log.info("discord: message %s is handled already", event.message_id)
                return
            if self._paused:  # stopping: answered after the restart
                await outbox.abandon(messages.restarting(answer_later=claim is not None and self._recovers))
                await self._release(key, claim)
                return
            await self._answer(event, outbox, key, claim)

    async def _answer(self, event: Event, outbox: MessageOutbox, key: str, claim: Claim | None) -> None:
        """Hand `event` to the core; mark it done, or (cut off by a stop) leave the note and release it."""
        try:
            await self._core.on_message(event, outbox)
        except asyncio.CancelledError:
            if outbox.delivered:
                await self._done(key, claim)
            elif asyncio.current_task() in self._handed_back:
                await self._release(key, claim)
            else:
                await outbox.abandon(messages.restarting(answer_later=claim is not None and self._recovers))
                await self._release(key, claim)
            raise
        except Exception:
            log.exception("discord: the core failed on message %s", event.message_id)
            await outbox.send(Reply(messages.ERROR, ReplyKind.ERROR, reply_to=event.message_id))
        finally:
            if asyncio.current_task() not in self._handed_back:
                await outbox.close()  # a preview the core never replaced (e.g. `reset` cancelled it)
        await self._done(key, claim)

    @property
    def _recovers(self) -> bool:
        return self._recover_within > timedelta(0)

    async def _recover(self, delivery: Delivery) -> None:
        """Answer a message left unanswered earlier (called by `bot.inbox.recover`)."""
        while len(self._tasks) >= MAX_PENDING and not self._paused:
            self._room.clear()
            await self._room.wait()
        if self._paused:
            await self._release(delivery.key, Claim.RETRY)
            return
        task = asyncio.create_task(self._answer_recovered(delivery), name=f"discord-recover-{delivery.key}")
        self._tasks.add(task)
        task.add_done_callback(self._left)

    async def _answer_recovered(self, delivery: Delivery) -> None:
        client, key = self._client, delivery.key
        if client is None or client.user is None:
            await self._release(key, Claim.RETRY)
            return
        try:
            found = await refetch(client, delivery.route)
        except asyncio.CancelledError:
            await self._release(key, Claim.RETRY)
            raise
        except PLATFORM_ERRORS as exc:
            log.warning("discord: could not fetch %s again to answer it (%r); trying later", key, exc)
            await self._release(key, Claim.RETRY)
            return
        if found is None:
            log.info("discord: %s was deleted before it was answered", key)
            await self._done(key, Claim.RETRY)
            return
        outbox = MessageOutbox(found.message, preview=found.leftover)
        event = message_event(found.message, client.user, self._config)
        if event is None or not await self._core.may_answer(event):  # edited since: no longer for the bot
            await outbox.close()
            await self._done(key, Claim.RETRY)
            return
        log.info("discord: answering %s, left unanswered by an earlier run", key)
        await self._answer(event, outbox, key, Claim.RETRY)

    async def _claim(self, key: str, route: dict[str, str]) -> Claim | None:
        """The inbox's answer; None when the inbox failed (the message is handled anyway, not durably)."""
        try:
            return await self._inbox.claim(key, "discord", route)
        except Exception:  # answering twice beats never answering
            log.exception("discord: the inbox failed; handling %s anyway", key)
            return None

    async def _done(self, key: str, claim: Claim | None) -> None:
        if claim is None:
            return
        try:
            await self._inbox.done(key)
        except Exception:
            log.exception("discord: could not mark %s answered in the inbox", key)

    async def _release(self, key: str, claim: Claim | None) -> None:
        if claim is None:
            return
        try:
            await self._inbox.release(key)
        except Exception:
            log.exception("discord: could not hand %s back to the inbox", key)

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        """Count the current task (discord.py's event task) as a handling while the body runs."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        finally:
            self._left(task)

    def _left(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._room.set()

    # --- edits and deletions -------------------------------------------------------------

    async def _on_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        client = self._client
        if client is None or client.user is None:
            return
        before = payload.cached_message
        if before is not None and before.content == payload.message.content:
            return  # an embed unfurled, a pin: not an edit of the text
        event = message_event(payload.message, client.user, self._config)
        if event is None:  # ours (previews), another bot's, a system message
            return
        where = await self._where(payload.channel_id, payload.guild_id)
        await self._core.on_message_edited(where, str(payload.message_id), event.text)

    async def _on_delete(self, channel_id: int, guild_id: int | None, message_ids: Iterable[int]) -> None:
        where = await self._where(channel_id, guild_id)
        for message_id in message_ids:
            await self._core.on_message_deleted(where, str(message_id))

    async def _where(self, channel_id: int, guild_id: int | None) -> ChannelRef:
        """The conversation of a channel id; a thread discord.py has not cached is fetched to find its parent."""
        client = self._client
        channel: Any = client.get_channel(channel_id) if client is not None else None
        if channel is None and guild_id is not None and client is not None:
            try:
                channel = await client.fetch_channel(channel_id)
            except PLATFORM_ERRORS as exc:
                log.warning("discord: channel %s could not be looked up (%s); taking it for a channel", channel_id, exc)
        return channel_ref(channel, guild_id, channel_id)

    # --- interactions --------------------------------------------------------------------

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        if interaction.type is discord.InteractionType.autocomplete:
            try:
                await interaction.response.autocomplete(autocomplete_choices(data))
            except PLATFORM_ERRORS as exc:
                log.warning("discord: autocomplete answer failed: %s", exc)
            return
        if interaction.type is not discord.InteractionType.application_command:
            await respond(interaction, messages.DISCORD_FOREIGN_COMMAND)  # a button or form of someone else's
            return
        kind = kind_of(data, self._config.command_guilds)
        if kind is Kind.STALE:
            await respond(interaction, messages.DISCORD_STALE_COMMAND)
            await self._forget(data)
            return
        text = command_text(data) if kind is Kind.OURS else None
        if text is None:
            await respond(interaction, messages.DISCORD_FOREIGN_COMMAND)
            return
        if self._paused:
            await respond(interaction, messages.restarting(answer_later=False))
            return
        if len(self._tasks) >= MAX_PENDING:
            log.warning(
                "discord: %d handlings in flight; command %s is answered busy", len(self._tasks), interaction.id
            )
            await respond(interaction, messages.BUSY)
            return
        with self._tracked():
            await self._command(interaction, clean_text(text))

    async def _command(self, interaction: discord.Interaction, text: str) -> None:
        outbox = InteractionOutbox(interaction)
        if not await outbox.defer():  # within Discord's 3 s, before anything slow
            return
        user = interaction.user
        in_dm = interaction.guild_id is None
        moderator = in_dm or is_moderator(user, interaction.permissions, self._config.moderator_roles)
        command = Command(
            where=channel_ref(interaction.channel, interaction.guild_id, interaction.channel_id),
            author=author_of(user, moderator=moderator),
            text=text,
            message_id=str(interaction.id),
        )
        try:
            await self._core.on_command(command, outbox)
        except asyncio.CancelledError:
            if not outbox.delivered and asyncio.current_task() not in self._handed_back:
                await outbox.abandon(messages.restarting(answer_later=False))
            raise
        except Exception:
            log.exception("discord: the core failed on command %s", command.message_id)
            await outbox.send(Reply(messages.ERROR, ReplyKind.ERROR, ephemeral=True))

    async def _forget(self, data: Any) -> None:
        client = self._client
        if client is None:
            return
        try:
            await forget(client, data)
        except PLATFORM_ERRORS as exc:
            log.warning("discord: could not delete a stale /gpt2 (%s)", exc)
