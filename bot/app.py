"""Wiring: the only module that knows the concrete engine, storage and adapters.

`Services` builds the model, engine, queue, store, inbox, safety and handler from a
`Config` and tears them down in reverse order. `run_chat` puts the console adapter in
front of them; `run_platforms` starts every platform whose credentials are set. Both run
until their input ends, a platform connection fails, or SIGTERM/SIGINT asks them to stop,
and then drain (`bot.shutdown`): no reply in progress is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

from transformers import PreTrainedTokenizerBase

from bot import messages, metrics, version
from bot.commands import CommandRunner
from bot.config import Config
from bot.errors import AdapterError, ModelLoadError
from bot.events import Adapter
from bot.handler import REPLY_MARGIN_S, ChatHandler
from bot.health import HealthServer, Readiness
from bot.history import History
from bot.inbox import Inbox, keep_leases
from bot.inference.engine import BatchEngine
from bot.inference.memory import KvFit, fit_model
from bot.inference.model import DEMO_MODEL, LoadedModel, load_model
from bot.inference.queue import InferenceQueue
from bot.prompt import Transcript
from bot.ratelimit import RateLimiter
from bot.safety.checker import Checker
from bot.safety.classifiers import load_classifiers, start_classifier
from bot.safety.policy import Preset
from bot.safety.service import Safety
from bot.shutdown import Signals, drain
from bot.store import Store
from bot.turns import SharedTurns, Turns
from storage.database import open_database, problem
from storage.inbox import SqlInbox
from storage.repository import SqlStore
from storage.safety_repo import SqlSafetyStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.inference.remote import RemoteGenerator

__all__ = [
    "Services",
    "build_generator",
    "build_redis",
    "build_store",
    "fit_memory",
    "run_chat",
    "run_platforms",
    "start_health",
]

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: Config
    loaded: LoadedModel | None  # None with a remote backend: no weights in this process
    queue: InferenceQueue | RemoteGenerator
    store: Store
    inbox: Inbox
    handler: ChatHandler
    safety: Safety | None = None
    redis: Redis | None = None  # several processes share rate limits and conversation locks through it
    _leases: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def start(cls, config: Config, *, demo_fallback: bool = False, err: TextIO | None = None) -> Services:
        """Load the model (or check the remote server) and open the database; `demo_fallback`
        swaps in `demo` if the model can't load."""
        err = err or sys.stderr
        store = await build_store(config)  # a database the bot cannot use stops it before the slow model load
        redis = None
        try:
            redis = await build_redis(config)  # so does a Redis it cannot use
            queue, tokenizer, loaded = await build_generator(config, demo_fallback, err)
        except BaseException:
            if redis is not None:
                await redis.aclose()
            await store.close()
            raise
        lease = timedelta(seconds=config.bot.recover_after_s)  # a claim lasts this long unless renewed
        inbox = SqlInbox(store.engine, lease=lease, keep=timedelta(hours=config.storage.seen_events_hours))
        transcript = Transcript(tokenizer, config.bot.name, queue.info.n_positions)
        history = History(store, transcript)
        safety = _safety(config, SqlSafetyStore(store.engine, retention_days=config.safety.retention_days))
        runner = CommandRunner(config, store, queue, history, safety=safety)
        limiter, turns = _sharing(config, redis, inbox)
        handler = ChatHandler(config, store, queue, history, runner, limiter, safety, turns)
        services = cls(config, loaded, queue, store, inbox, handler, safety, redis)
        renew_every = config.bot.recover_after_s / 3
        services._leases = asyncio.create_task(keep_leases(inbox, renew_every), name="inbox-leases")
        return services

    async def stop(self) -> None:
        if self._leases is not None:
            self._leases.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leases
        await self.queue.stop()
        if self.safety is not None:
            self.safety.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.store.close()
        log.info("stopped: inference queue and database closed")


async def build_generator(
    config: Config, demo_fallback: bool, err: TextIO
) -> tuple[InferenceQueue | RemoteGenerator, PreTrainedTokenizerBase, LoadedModel | None]:
    """The configured backend: the local engine and its queue, or a checked remote server
    (then only the tokenizer is loaded, for exact trimming)."""
    if config.inference.backend == "openai":
        from bot.inference.probe import open_remote, remote_tokenizer  # imports the optional `openai`

        tokenizer = await asyncio.to_thread(remote_tokenizer, config.model.name)
        return await open_remote(config.inference, tokenizer, os.environ), tokenizer, None
    loaded = await _load(config, demo_fallback, err)
    if loaded.info.is_demo:
        err.write(messages.DEMO_BANNER + "\n")
        log.warning(messages.DEMO_WARNING)
    fit = fit_memory(config, loaded)
    if fit.prefix_lowered:
        log.warning(messages.prefix_cache_lowered(config.inference.prefix_cache_mb, fit.prefix_bytes))
    if fit.lowered:
        log.warning(messages.batch_lowered(fit.requested, fit.max_batch, fit.describe()))
    else:
        log.info(fit.describe())
    engine = BatchEngine(
        loaded.model,
        loaded.tokenizer,
        loaded.info,
        max_batch=fit.max_batch,
        max_prefill_tokens=_prefill_budget(config.inference.max_prefill_tokens, loaded.info.device),
        cuda_graphs=config.inference.cuda_graphs,
        prefix_cache_bytes=fit.prefix_bytes,
    )
    section = config.inference
    queue = InferenceQueue(
        engine, max_queue=section.max_queue, timeout_s=section.timeout_s, max_wait_s=section.max_wait_s
    )
    queue.start()
    return queue, loaded.tokenizer, loaded


async def build_store(config: Config) -> SqlStore:
    """SQLite is migrated at start; PostgreSQL must already be at the newest migration."""
    url = config.storage.url
    engine = await open_database(url, migrate=url.startswith("sqlite"))
    return SqlStore(
        engine,
        max_messages=config.storage.max_messages_per_channel,
        max_age_days=config.storage.max_age_days,
    )


async def build_redis(config: Config) -> Redis | None:
    """A checked Redis client when `redis.url` is set (several processes), else None."""
    if not config.redis.url:
        return None
    from storage.redis_store import open_redis  # imports the optional `redis`

    client = await open_redis(config.redis.url, config.secrets.redis_password)
    log.info("redis: rate limits and conversation turns are shared with the other bot processes")
    return client


def _sharing(config: Config, redis: Redis | None, inbox: SqlInbox) -> tuple[RateLimiter, Turns | None]:
    """The rate limiter and the conversation turns: in this process, or shared through Redis and the inbox."""
    section = config.ratelimit
    if redis is None:
        return RateLimiter(section.user_per_minute, section.channel_per_minute), None
    from storage.redis_locks import RedisLocks
    from storage.redis_store import limits_storage

    prefix = config.redis.key_prefix
    limiter = RateLimiter(
        section.user_per_minute, section.channel_per_minute, limits_storage(redis, config.redis.url, prefix)
    )
    patience = timedelta(seconds=config.inference.timeout_s + REPLY_MARGIN_S)  # how long any message may take
    return limiter, SharedTurns(inbox, RedisLocks(redis, prefix), patience)


async def run_chat(config: Config, *, channel: str, user: str) -> None:
    """The console: stdin lines in, replies out, until end of input or a stop signal."""
    health = await start_health(config)
    try:
        await _run_chat(config, channel, user, health)
    finally:
        await stop_health(health)


async def _run_chat(config: Config, channel: str, user: str, health: HealthServer | None) -> None:
    from adapters.console import ConsoleAdapter

    services = await Services.start(config, demo_fallback=True)
    watch_services(health, services)
    console = ConsoleAdapter(services.handler, bot_name=config.bot.name, channel=channel, user=user)
    try:
        await _serve(config, [console], health)
    finally:
        await services.stop()


async def run_platforms(config: Config) -> None:
    """Every platform with credentials (`require_credentials` first), until one of them stops
    or a signal asks the bot to stop."""
    health = await start_health(config)
    try:
        await _run_platforms(config, health)
    finally:
        await stop_health(health)


async def _run_platforms(config: Config, health: HealthServer | None) -> None:
    services = await Services.start(config)
    watch_services(health, services)
    try:
        await _serve(config, _platform_adapters(config, services), health)
    finally:
        await services.stop()


async def _serve(config: Config, adapters: list[Adapter], health: HealthServer | None = None) -> None:
    """Start `adapters`, run until one ends or SIGTERM/SIGINT, then drain them all."""
    signals = Signals()
    signals.install()
    started: list[Adapter] = []
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
            log.info("%s adapter started", adapter.name)
            mark_ready(health, adapter.name)
        waits = [asyncio.create_task(a.wait(), name=f"{a.name}-wait") for a in started]
        stop = asyncio.create_task(signals.requested.wait(), name="stop-signal")
        done, _ = await asyncio.wait([*waits, stop], return_when=asyncio.FIRST_COMPLETED)
        for task in [*waits, stop]:
            if task not in done:
                task.cancel()
        failed = [t for t in done if t is not stop and t.exception() is not None]
        mark_stopping(health)
        await drain(started, config.bot.shutdown_grace_s)
        started = []
        if failed:
            raise AdapterError(f"{failed[0].get_name()}: {failed[0].exception()}")
    finally:
        for adapter in reversed(started):  # start-up failed or was cancelled half-way
            await adapter.stop()
        signals.uninstall()


def _platform_adapters(config: Config, services: Services) -> list[Adapter]:
    adapters: list[Adapter] = []
    secrets = config.secrets
    recover = timedelta(seconds=config.bot.recover_within_s)
    if secrets.discord_token:
        from adapters.discord import DiscordAdapter

        adapters.append(
            DiscordAdapter(
                config.discord, secrets.discord_token, services.handler, services.inbox, recover_within=recover
            )
        )
    if secrets.slack_bot_token or secrets.slack_client_id:
        from adapters.slack import SlackAdapter

        store = services.store
        installs = store.engine if secrets.slack_client_id and isinstance(store, SqlStore) else None
        adapters.append(
            SlackAdapter(
                config.slack,
                secrets,
                services.handler,
                services.inbox,
                recover_within=recover,
                recover_every_s=config.bot.recover_after_s / 3,  # orphans appear as leases run out
                installs=installs,  # installs in many workspaces, kept in the database
            )
        )
    return adapters


def fit_memory(config: Config, loaded: LoadedModel) -> KvFit:
    """The batch and prefix cache `config.inference` asks for, fitted to free memory now."""
    section = config.inference
    return fit_model(loaded.model, section.max_batch, section.cuda_graphs, section.prefix_cache_mb * 1_000_000)


def _prefill_budget(configured: int, device: str) -> int:
    """A long prompt stalls every running row while it is prefilled; the CPU is ~50x slower."""
    if configured:
        return configured
    return 1024 if device == "cpu" else 4096


async def _load(config: Config, demo_fallback: bool, err: TextIO) -> LoadedModel:
    model = config.model
    try:
        return await asyncio.to_thread(load_model, model.name, model.device, model.dtype)
    except ModelLoadError as exc:
        if not demo_fallback or model.name == DEMO_MODEL:
            raise
        err.write(f"{exc}\nFalling back to the demo model.\n")
        return await asyncio.to_thread(load_model, DEMO_MODEL, model.device, model.dtype)


def _safety(config: Config, store: SqlSafetyStore) -> Safety | None:
    section = config.safety
    if not section.enabled:
        log.warning("SAFETY FILTERS ARE OFF (safety.enabled = false): input and output are not checked")
        return None
    checker = Checker(load_classifiers(section.classifiers))
    model = start_classifier(
        section.classifier, section.classifier_labels, section.classifier_device, section.classifier_max_batch
    )
    return Safety(
        store, checker, default_preset=Preset(section.preset), log_content=section.log_content, classifier=model
    )


# --- the operator's endpoint: /healthz, /readyz, /metrics (bot.health) -------------------


async def start_health(config: Config) -> HealthServer | None:
    """Serve the endpoint from before the model loads, so /healthz answers during a long load and
    /readyz says what is still starting; None when `health.enabled` is off."""
    if not config.health.enabled:
        return None
    metrics.BUILD_INFO.labels(version()).set(1)
    readiness = Readiness()
    readiness.set("model", "loading")
    readiness.set("database", "opening")
    if config.redis.url:
        readiness.set("redis", "connecting")
    for platform in _configured_platforms(config):
        readiness.set(platform, "connecting")
    server = HealthServer(config.health, readiness, metrics.REGISTRY)
    await server.start()
    return server


def watch_services(health: HealthServer | None, services: Services) -> None:
    """The model is loaded; from now on each probe asks the database and each scrape the queue."""
    metrics.QUEUE.watch(services.queue.stats)  # the numbers /gpt2 status shows
    if health is None:
        return
    health.readiness.set("model", None)
    store = services.store
    if isinstance(store, SqlStore):
        health.readiness.add("database", lambda: problem(store.engine))
    redis = services.redis
    if redis is not None:
        from storage.redis_store import redis_problem

        health.readiness.add("redis", lambda: redis_problem(redis))


def mark_ready(health: HealthServer | None, platform: str) -> None:
    if health is not None:
        health.readiness.set(platform, None)


def mark_stopping(health: HealthServer | None) -> None:
    """Draining: a load balancer should send new work elsewhere."""
    if health is not None:
        health.readiness.set("shutdown", "draining: finishing the replies in progress")


async def stop_health(health: HealthServer | None) -> None:
    metrics.QUEUE.watch(None)
    if health is not None:
        await health.stop()


def _configured_platforms(config: Config) -> list[str]:
    secrets = config.secrets
    slack = secrets.slack_bot_token or secrets.slack_client_id
    return [name for name, token in (("discord", secrets.discord_token), ("slack", slack)) if token]
