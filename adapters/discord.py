"""The Discord adapter: discord.py gateway traffic in, the core's replies out.

It answers when mentioned, when someone replies to one of its messages, in DMs
(`discord.allow_dms`), and hands every other human message to the core, which answers
it only where a moderator ran `enable`. It never sees its own messages, nor other bots'
unless `discord.allow_bots`. Each message or slash command runs in discord.py's own
event task, tracked here so `stop()` can cancel what is still running; an exception
from the core is logged and the user gets a short apology.

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
from collections.abc import Awaitable
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord_commands import autocomplete_choices, command_text, sync
from adapters.discord_outbox import NO_MENTIONS, InteractionOutbox, MessageOutbox
from adapters.discord_translate import author_of, channel_ref, is_moderator, message_event
from bot import messages
from bot.config import DiscordSection
from bot.errors import AdapterError
from bot.events import Command, Core, Outbox, Reply, ReplyKind

__all__ = ["INTENT_REFUSED", "DiscordAdapter", "api_base"]

log = logging.getLogger(__name__)

MAX_PENDING = 256  # messages and commands in flight; beyond this new ones are dropped (logged)
CONNECT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
INTENT_REFUSED = (
    "Discord refused the privileged Message Content intent, which the bot needs to read messages "
    "that don't mention it. Turn it on in the Discord Developer Portal: your application → Bot → "
    "Privileged Gateway Intents → Message Content Intent, then start the bot again."
)


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


class _Client(_Hooks, discord.Client):
    pass


class _ShardedClient(_Hooks, discord.AutoShardedClient):
    pass


class DiscordAdapter:
    """One Discord bot connection (sharded or not); implements `bot.events.Adapter`."""

    name = "discord"

    def __init__(self, config: DiscordSection, token: str, core: Core) -> None:
        self._config = config
        self._token = token
        self._core = core
        self._client: discord.Client | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()  # a READY arrived (one shard is up)
        self._ready = asyncio.Event()  # on_ready: every shard's servers arrived
        self._tasks: set[asyncio.Task[Any]] = set()
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self._paused = False

    @property
    def pending(self) -> int:
        """Messages and commands still being handled."""
        return len(self._tasks)

    async def pause(self) -> None:
        self._paused = True  # new messages and commands are no longer dispatched to the core

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
            await self._login(client)
            self._runner = asyncio.create_task(self._run(client), name="discord-gateway")
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

    async def wait(self) -> None:
        """Return when the gateway connection ends; raise AdapterError if it failed."""
        if self._runner is not None:
            await asyncio.wait({self._runner})  # never cancels the runner itself
            self._runner.result()

    async def stop(self) -> None:
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        runner = self._runner
        if runner is not None:
            done, _ = await asyncio.wait({runner}, timeout=STOP_TIMEOUT_S)
            if not done:
                runner.cancel()
                await asyncio.wait({runner})
            if not runner.cancelled() and runner.exception() is not None:
                log.info("discord: gateway connection had ended: %s", runner.exception())
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
        }
        if config.shards == "none":
            return _Client(self, **options)
        if config.shards != "auto":
            options["shard_count"] = int(config.shards)
        return _ShardedClient(self, **options)

    async def _login(self, client: discord.Client) -> None:
        try:
            await client.login(self._token)
        except discord.LoginFailure:
            raise AdapterError(
                f"Discord rejected the bot token in {self._config.token_env}: copy it again from the "
                "Developer Portal (your application → Bot → Reset Token)"
            ) from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise AdapterError(f"cannot reach the Discord API at {Route.BASE}: {exc}") from None
        try:
            await sync(
                client,
                self._config.command_guilds,
                restrict=self._config.restrict_commands,
                allow_dms=self._config.allow_dms,
            )
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.error("discord: could not sync /gpt2 (chat still works): %s", exc)
        if isinstance(client, discord.AutoShardedClient) and self._config.gateway_url and client.shard_count is None:
            client.shard_count, _, _ = await client.http.get_bot_gateway()

    async def _run(self, client: discord.Client) -> None:
        try:
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise AdapterError(INTENT_REFUSED) from None
        except (discord.ConnectionClosed, discord.GatewayNotFound) as exc:
            raise AdapterError(f"the Discord gateway closed the connection: {exc}") from None

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

    # --- traffic -----------------------------------------------------------------------

    async def _on_message(self, message: discord.Message) -> None:
        client = self._client
        if client is None or client.user is None or self._paused:
            return
        event = message_event(message, client.user, self._config)
        if event is None:
            return
        outbox = MessageOutbox(message)
        try:
            await self._handle(self._core.on_message(event, outbox), outbox, event.message_id)
        finally:
            await outbox.close()  # a preview the core never replaced (e.g. `reset` cancelled it)

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        if self._paused:
            return
        data: Any = interaction.data or {}
        if interaction.type is discord.InteractionType.autocomplete:
            try:
                await interaction.response.autocomplete(autocomplete_choices(data))
            except discord.HTTPException as exc:
                log.warning("discord: autocomplete answer failed: %s", exc)
            return
        text = command_text(data) if interaction.type is discord.InteractionType.application_command else None
        if text is None:
            return
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
        await self._handle(self._core.on_command(command, outbox), outbox, command.message_id)

    async def _handle(self, work: Awaitable[None], outbox: Outbox, message_id: str) -> None:
        """Run the core on one message or command; its failure costs that reply only."""
        task = asyncio.current_task()
        if task is None or len(self._tasks) >= MAX_PENDING:
            log.warning("discord: %d handlings in flight; dropping message %s", len(self._tasks), message_id)
            if asyncio.iscoroutine(work):
                work.close()
            return
        self._tasks.add(task)
        try:
            await work
        except Exception:
            log.exception("discord: the core failed on message %s", message_id)
            await outbox.send(Reply(messages.ERROR, ReplyKind.ERROR, reply_to=message_id))
        finally:
            self._tasks.discard(task)
