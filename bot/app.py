"""Wiring: the only module that knows the concrete engine, storage and adapters.

`Services` builds the model, engine, queue, store and handler from a `Config` and tears
them down in reverse order. `run_chat` puts the console adapter in front of them;
`run_platforms` starts every platform whose credentials are set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from transformers import PreTrainedTokenizerBase

from bot import messages
from bot.commands import CommandRunner
from bot.config import Config
from bot.errors import AdapterError, ConfigError, ModelLoadError
from bot.events import Adapter
from bot.guard import Guard
from bot.handler import ChatHandler
from bot.history import History
from bot.inference.engine import BatchEngine
from bot.inference.memory import KvFit, fit_model
from bot.inference.model import DEMO_MODEL, LoadedModel, load_model
from bot.inference.queue import InferenceQueue
from bot.prompt import Transcript
from bot.ratelimit import RateLimiter
from bot.safety.guard import build_guard
from bot.store import Store
from storage.database import SchemaOutdated, check_schema, create_engine, is_sqlite, upgrade
from storage.repository import SqlStore
from storage.safety_repo import SqlSafetyStore

if TYPE_CHECKING:
    from bot.inference.remote import RemoteGenerator

__all__ = ["Services", "build_generator", "build_store", "fit_memory", "run_chat", "run_platforms"]

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: Config
    loaded: LoadedModel | None  # None with a remote backend: no weights in this process
    queue: InferenceQueue | RemoteGenerator
    store: Store
    handler: ChatHandler

    @classmethod
    async def start(cls, config: Config, *, demo_fallback: bool = False, err: TextIO | None = None) -> Services:
        """Load the model (or check the remote server) and open the database; `demo_fallback`
        swaps in `demo` if the model can't load."""
        err = err or sys.stderr
        queue, tokenizer, loaded = await build_generator(config, demo_fallback, err)
        try:
            store = await build_store(config)
        except BaseException:
            await queue.stop()
            raise
        transcript = Transcript(tokenizer, config.bot.name, queue.info.n_positions)
        history = History(store, transcript)
        guard = await _build_guard(config, SqlSafetyStore(store.engine, retention_days=config.safety.retention_days))
        runner = CommandRunner(config, store, queue, history, safety=guard)
        limiter = RateLimiter(config.ratelimit.user_per_minute, config.ratelimit.channel_per_minute)
        handler = ChatHandler(config, store, queue, history, runner, limiter, guard)
        return cls(config, loaded, queue, store, handler)

    async def stop(self) -> None:
        await self.queue.stop()
        await self.store.close()


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
    queue = InferenceQueue(engine, max_queue=config.inference.max_queue, timeout_s=config.inference.timeout_s)
    queue.start()
    return queue, loaded.tokenizer, loaded


async def build_store(config: Config) -> SqlStore:
    """SQLite is migrated at start; PostgreSQL must already be at the newest migration."""
    engine = create_engine(config.storage.url)
    try:
        if is_sqlite(engine):
            await upgrade(engine)
        else:
            await check_schema(engine)
    except SchemaOutdated as exc:
        await engine.dispose()
        raise ConfigError("storage.url", config.storage.url, f"{exc}; run `python -m bot db upgrade`") from None
    except OSError as exc:
        await engine.dispose()
        raise ConfigError("storage.url", config.storage.url, f"cannot connect ({exc})") from None
    return SqlStore(
        engine,
        max_messages=config.storage.max_messages_per_channel,
        max_age_days=config.storage.max_age_days,
        seen_events_hours=config.storage.seen_events_hours,
    )


async def run_chat(config: Config, *, channel: str, user: str) -> None:
    """The console: stdin lines in, replies out, until end of input."""
    from adapters.console import ConsoleAdapter

    services = await Services.start(config, demo_fallback=True)
    try:
        console = ConsoleAdapter(services.handler, bot_name=config.bot.name, channel=channel, user=user)
        await console.start()
        await console.wait()
    finally:
        await services.stop()


async def run_platforms(config: Config) -> None:
    """Every platform with credentials (`require_credentials` first); returns when one of them stops."""
    services = await Services.start(config)
    adapters: list[Adapter] = []
    try:
        adapters = _platform_adapters(config, services)
        for adapter in adapters:
            await adapter.start()
            log.info("%s adapter started", adapter.name)
        waits = [asyncio.create_task(a.wait(), name=f"{a.name}-wait") for a in adapters]
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                raise AdapterError(f"{task.get_name()}: {task.exception()}")
    finally:
        for adapter in reversed(adapters):
            await adapter.stop()
        await services.stop()


def _platform_adapters(config: Config, services: Services) -> list[Adapter]:
    adapters: list[Adapter] = []
    secrets = config.secrets
    if secrets.discord_token:
        from adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(config.discord, secrets.discord_token, services.handler))
    if secrets.slack_bot_token:
        from adapters.slack import SlackAdapter

        adapters.append(SlackAdapter(config.slack, secrets, services.handler, services.store))
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


async def _build_guard(config: Config, safety_store: SqlSafetyStore) -> Guard | None:
    if not config.safety.enabled:
        log.warning("SAFETY FILTERS ARE OFF (safety.enabled = false): input and output are not checked")
        return None
    return await build_guard(config, safety_store)
