"""The Discord adapter: discord.py's client, started, kept connected and stopped.

It answers when mentioned (the bot's user or its managed role), when someone replies to
one of its messages, in DMs (`discord.allow_dms`), and in channels where a moderator ran
`enable`; it never sees its own messages, nor other bots' unless `discord.allow_bots`.
The work is split by traffic: `discord_messages` (the inbox, busy, recovery),
`discord_interactions` (every interaction answered), `discord_changes` (edits and
deletions); this module owns the client and the lifecycle (`bot.events.Adapter`):

* `start()` logs in, syncs `/gpt2`, connects (`discord_connection` keeps it connected)
  and starts the chores: the inbox's recovery loop and the stale `/gpt2` sweep;
* `pause()` takes no new work: new messages are kept for after the restart, with a note;
* `stop()` cuts off what is still running (each handling leaves a "restarting" note where
  its reply was being written, and its message stays in the inbox), then closes the gateway.

Proxies. discord.py 2.7 has no per-client endpoint setting: the REST base is the class
attribute `discord.http.Route.BASE` (the interaction webhooks use the same `Route`) and
the first gateway connection uses `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`
(a `yarl.URL`; the gateway accepts plain-text JSON frames). `start()` sets both,
process-wide, from `discord.api_base_url` / `discord.gateway_url` and `stop()` puts the
previous values back, so run one Discord adapter per process. `AutoShardedClient`
normally takes its gateway URL from `GET /gateway/bot`; with `gateway_url` set and
`shards = "auto"`, the adapter asks `/gateway/bot` only for the shard count, so every
shard connects through the configured gateway.

Several processes. `discord.shard_count` (the total) with `discord.shard_ids` (this
process's share) starts an `AutoShardedClient` for those shards only: each process gets
the events of its own servers (Discord sends a server's events to shard
`(guild_id >> 22) % shard_count`; DMs to shard 0). Messages any process left unanswered
are recovered through REST by whichever process looks first, whatever their shard.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord_changes import Changes
from adapters.discord_claims import PLATFORM, Claims
from adapters.discord_commands import remove_guild_copies, sync
from adapters.discord_connection import INTENT_REFUSED, keep_connected
from adapters.discord_handlings import Handlings, Session
from adapters.discord_interactions import Interactions
from adapters.discord_messages import Messages
from adapters.discord_outbox import MAX_RATELIMIT_WAIT_S, NO_MENTIONS, PLATFORM_ERRORS
from adapters.discord_trace import trace_config
from bot import metrics
from bot.config import DiscordSection
from bot.errors import AdapterError
from bot.events import Core
from bot.inbox import Inbox, recover

__all__ = ["INTENT_REFUSED", "DiscordAdapter", "api_base"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
RECOVER_EVERY_S = 30.0  # how often to look for messages a stopped or crashed process left unanswered
SWEEP_GUILDS = 100  # servers checked for stale /gpt2 copies at start (the rest: when one is used)


def api_base(url: str) -> str:
    """`https://proxy:8080` → `https://proxy:8080/api/v10`; a base already ending in /api/vN is kept."""
    url = url.rstrip("/")
    return url if re.search(r"/api/v\d+$", url) else f"{url}/api/v10"


class _Hooks:
    """discord.py event methods, forwarded to the adapter's parts (mixed into the client class)."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(**options)
        self._adapter = adapter

    async def on_connect(self) -> None:
        if self._adapter._connected.is_set():  # connected before: this is a reconnect
            metrics.GATEWAY_RECONNECTS.labels(PLATFORM).inc()
        self._adapter._connected.set()

    async def on_ready(self) -> None:
        self._adapter._ready.set()
        self._adapter._log_ready()

    async def on_message(self, message: discord.Message) -> None:
        await self._adapter._messages.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._adapter._interactions.on_interaction(interaction)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._adapter._changes.edited(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._adapter._changes.deleted(payload.channel_id, payload.guild_id, [payload.message_id])

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._adapter._changes.deleted(payload.channel_id, payload.guild_id, sorted(payload.message_ids))


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
        self._inbox = inbox
        self._recover_within = recover_within
        self._session = Session()
        self._handlings = Handlings()
        recovers = recover_within > timedelta(0)
        self._messages = Messages(config, core, Claims(inbox), self._handlings, self._session, recovers=recovers)
        self._interactions = Interactions(config, core, self._handlings, self._session)
        self._changes = Changes(config, core, self._session)
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()  # a READY arrived (one shard is up)
        self._ready = asyncio.Event()  # on_ready: every shard's servers arrived
        self._stopping = asyncio.Event()
        self._chores: set[asyncio.Task[None]] = set()  # the recovery loop, the stale /gpt2 sweep
        self._recovery: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None

    @property
    def pending(self) -> int:
        """Messages and commands still being handled."""
        return len(self._handlings)

    async def pause(self) -> None:
        self._session.paused = True  # new messages are kept for after the restart; commands told to retry
        await self._end_chores()

    async def idle(self) -> None:
        await self._handlings.idle()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if not self._token:
            raise AdapterError(f"Discord needs a bot token: set {self._config.token_env}")
        self._use_endpoints()
        self._session.client = client = self._make_client()
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
        self._start_recovery()
        if not self._config.command_guilds:
            self._chore(self._sweep([guild.id for guild in client.guilds]))

    async def wait(self) -> None:
        """Return when the gateway connection ends; raise AdapterError if it failed."""
        if self._runner is not None:
            await asyncio.wait({self._runner})  # never cancels the runner itself
            self._runner.result()

    async def stop(self) -> None:
        self._session.paused = True
        await self._end_chores()
        cut = await self._handlings.cut_off(STOP_TIMEOUT_S)
        if cut:
            log.info("discord: %d handling(s) cut off; their messages are answered after the restart", cut)
        self._stopping.set()
        client, self._session.client = self._session.client, None
        if client is not None:
            await client.close()
        runner = self._runner
        if runner is not None:
            done, _ = await asyncio.wait({runner}, timeout=STOP_TIMEOUT_S)
            if not done:
                runner.cancel()
                await asyncio.wait({runner})
        self._restore_endpoints()

    async def _replace_client(self) -> discord.Client:
        """A new client in place of one that closed itself after a failure (sharded). What the
        old one was answering cannot be sent through it any more: those handlings give their
        messages back to the inbox, and a fresh recovery pass answers them through the new one."""
        cut = await self._handlings.cut_off(STOP_TIMEOUT_S, hand_back=True)
        if cut:
            log.warning("discord: %d handling(s) handed back to the inbox with the failed connection", cut)
        client = self._make_client()
        await self._login(client)
        self._session.client = client
        self._start_recovery()
        return client

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
            "http_trace": trace_config(),  # 429s and failures counted for /metrics
        }
        if config.shard_count:  # several processes: this one runs `shard_ids` (empty = all) of them
            options["shard_count"] = config.shard_count
            if config.shard_ids:
                options["shard_ids"] = list(config.shard_numbers)
            return _ShardedClient(self, **options)
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

    def _start_recovery(self) -> None:
        """The inbox's recovery loop (again, after a new client: its first pass is at once)."""
        if self._recover_within <= timedelta(0):
            return
        if self._recovery is not None:
            self._recovery.cancel()
        work = recover(
            self._inbox, PLATFORM, self._messages.recover, max_age=self._recover_within, every_s=RECOVER_EVERY_S
        )
        self._recovery = self._chore(work)

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
        client = self._session.client
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
        client = self._session.client
        if client is not None and client.user is not None:
            log.info("discord: ready as %s (%s) in %d servers", client.user, client.user.id, len(client.guilds))
