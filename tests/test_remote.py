"""The remote backend end to end: the bot's whole pipeline against `transformers serve` on loopback.

The server runs the scripted GPT-2 (tests/remote_kit.py): a short prompt is answered with
"hello there" before a "\\nBob:" speaker line, a prompt past position 256 with a long run of
"la di da …" and no speaker line, so every reply is known in advance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from bot import messages
from bot.app import Services
from bot.config import BotSection, Config, GenerationSection, InferenceSection, ModelSection, StorageSection
from bot.errors import GenerationTimeout
from bot.events import Author, ChannelRef, Command, Event, ReplyKind
from bot.inference.dialects import Wire
from bot.inference.probe import remote_tokenizer
from bot.inference.remote import RemoteGenerator, RemoteServer
from bot.inference.types import FinishReason, GenerationRequest, ModelInfo
from bot.prompt import SPEAKER_STOP
from bot.settings import sampling_params
from tests.fakes.core import RecordingOutbox
from tests.remote_kit import SilentServer, TransformersServer

ANN = Author("u1", "Ann", is_moderator=True)
LONG_PROMPT = "tell me a story " * 80  # ~320 tokens: the reply starts past position 256 and runs long


def remote_config(
    url: str, model_dir: Path, db: Path, generation: GenerationSection | None = None, **inference: object
) -> Config:
    section = dataclasses.replace(InferenceSection(), backend="openai", base_url=url, **inference)  # type: ignore[arg-type]
    return Config(
        bot=BotSection(preview_interval_s=0.0),
        model=ModelSection(name=str(model_dir)),  # its tokenizer files trim the prompts
        generation=generation or GenerationSection(),
        storage=StorageSection(url=f"sqlite+aiosqlite:///{db}"),
        inference=section,
    )


def long_replies(url: str, model_dir: Path, tmp_path: Path, **inference: object) -> Config:
    """Replies of up to 500 tokens: with LONG_PROMPT one stays streaming for many seconds."""
    return remote_config(url, model_dir, tmp_path / "r.db", GenerationSection(max_new_tokens=500), **inference)


def event(text: str, channel: str = "c1") -> Event:
    return Event(ChannelRef("test", "", channel), ANN, text, addressed=True, message_id=f"m{time.monotonic_ns()}")


async def ask(services: Services, text: str, channel: str = "c1") -> RecordingOutbox:
    outbox = RecordingOutbox()
    await asyncio.wait_for(services.handler.on_message(event(text, channel), outbox), 60)
    return outbox


async def command(services: Services, text: str, channel: str = "c1") -> str:
    outbox = RecordingOutbox()
    await services.handler.on_command(Command(ChannelRef("test", "", channel), ANN, text), outbox)
    [reply] = outbox.replies
    return reply.text


async def until(check: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"not within {within_s:g} s: {what}")


async def running(services: Services, count: int) -> None:
    await until(lambda: services.queue.stats().running >= count, f"{count} request(s) at the server")


def generator_for(url: str, model_dir: Path, wire: Wire, timeout_s: float = 120.0) -> RemoteGenerator:
    """A generator on a wire of our choosing, without the start-up check."""
    tokenizer = remote_tokenizer(str(model_dir))
    server = RemoteServer(url, str(model_dir), wire, 1024)
    info = ModelInfo(server.model, "remote", "remote", 1024, 0, 50256)
    return RemoteGenerator(AsyncOpenAI(base_url=url, api_key="none"), server, tokenizer, info, timeout_s=timeout_s)


@pytest.fixture
async def remote(transformers_server: TransformersServer, scripted_model_dir: Path, tmp_path: Path):
    services = await Services.start(remote_config(transformers_server.base_url, scripted_model_dir, tmp_path / "r.db"))
    yield services
    await services.stop()


async def test_a_reply_through_the_server_is_the_local_engines_reply(
    remote: Services, scripted_model_dir: Path, tmp_path: Path
) -> None:
    """Same conversation, same model, same settings: the server and the in-process engine agree."""
    assert isinstance(remote.queue, RemoteGenerator) and remote.loaded is None
    assert remote.queue.info.device == "remote" and remote.queue.server.wire.dialect.name == "transformers"
    local_config = Config(
        bot=BotSection(preview_interval_s=0.0),
        model=ModelSection(str(scripted_model_dir), "cpu"),
        storage=StorageSection(url=f"sqlite+aiosqlite:///{tmp_path / 'local.db'}"),
    )
    local = await Services.start(local_config)
    try:
        replies = [(await ask(s, "hi there")).replies for s in (remote, local)]
    finally:
        await local.stop()
    [remote_reply], [local_reply] = replies
    assert remote_reply.kind is ReplyKind.CHAT and remote_reply.text == local_reply.text
    assert remote_reply.text.endswith("hello there") and "\n" not in remote_reply.text  # cut before "\nBob:"
    assert await remote.store.count_messages(ChannelRef("test", "", "c1")) == 2  # user turn and reply stored


async def test_the_stop_pattern_is_enforced_on_our_side_and_closes_the_stream(
    transformers_server: TransformersServer, scripted_model_dir: Path
) -> None:
    """No stop strings sent: the server would write 60 tokens; the regex cuts at the first speaker
    line, no preview ever shows it, and the next request is answered at once (the stream was closed)."""
    generator = generator_for(transformers_server.base_url, scripted_model_dir, Wire.of("transformers"))
    prompt = tuple(remote_tokenizer(str(scripted_model_dir)).encode("Ann: hi\nGPT-2:"))
    previews: list[str] = []
    try:
        params = sampling_params(max_new_tokens=60)
        cut = await generator.submit(GenerationRequest(prompt, params, "c1", SPEAKER_STOP), previews.append)
        served = await generator.submit(GenerationRequest(prompt, params, "c1", SPEAKER_STOP, ("\nBob:",)))
    finally:
        await generator.stop()
    assert cut.finish_reason is FinishReason.STOP and "\n" not in cut.text and "hello there" in cut.text
    assert served.text == cut.text and served.finish_reason is FinishReason.STOP  # the server stopped itself
    assert all(cut.text.startswith(p) and "\n" not in p for p in previews)


async def test_long_replies_stream_previews_to_the_chat(
    transformers_server: TransformersServer, scripted_model_dir: Path, tmp_path: Path
) -> None:
    config = remote_config(
        transformers_server.base_url,
        scripted_model_dir,
        tmp_path / "r.db",
        GenerationSection(max_new_tokens=48, no_repeat_ngram_size=0),
    )
    config = dataclasses.replace(config, bot=BotSection(preview_interval_s=0.05))
    services = await Services.start(config)
    try:
        outbox = await ask(services, LONG_PROMPT)
    finally:
        await services.stop()
    [reply] = outbox.replies
    assert reply.kind is ReplyKind.CHAT and len(reply.text.split()) > 20
    assert set(reply.text.split()) <= {"la", "di", "da", "do", "re", "mi", "fa", "so"}
    assert outbox.previews and all(p.endswith(" …") and reply.text.startswith(p[:-2].rstrip()) for p in outbox.previews)


async def test_a_slow_server_gets_the_timeout_answer_in_time_and_the_turn_is_kept(
    transformers_server: TransformersServer, scripted_model_dir: Path, tmp_path: Path
) -> None:
    config = long_replies(transformers_server.base_url, scripted_model_dir, tmp_path, timeout_s=1.0)
    services = await Services.start(config)
    try:
        started = time.monotonic()
        outbox = await ask(services, LONG_PROMPT)
        took = time.monotonic() - started
        stored = await services.store.count_messages(ChannelRef("test", "", "c1"))
    finally:
        await services.stop()
    [reply] = outbox.replies
    assert reply.text == messages.TIMEOUT and took < 5.0
    assert stored == 1


async def test_reset_cancels_the_reply_being_streamed(
    transformers_server: TransformersServer, scripted_model_dir: Path, tmp_path: Path
) -> None:
    config = long_replies(transformers_server.base_url, scripted_model_dir, tmp_path)
    services = await Services.start(config)
    try:
        streaming = asyncio.create_task(ask(services, LONG_PROMPT))
        await running(services, 1)
        answer = await command(services, "/gpt2 reset")
        cancelled = await asyncio.wait_for(streaming, 10)
        stats = services.queue.stats()
        after = await ask(services, "hi", "c2")  # answered: the server stopped the cancelled reply
    finally:
        await services.stop()
    assert answer == messages.reset_done(1) and cancelled.replies == [] and stats.running == 0
    assert after.replies[0].kind is ReplyKind.CHAT


async def test_beyond_the_in_flight_limit_requests_wait_then_get_busy(
    transformers_server: TransformersServer, scripted_model_dir: Path, tmp_path: Path
) -> None:
    config = long_replies(transformers_server.base_url, scripted_model_dir, tmp_path, max_in_flight=1, max_queue=1)
    services = await Services.start(config)
    try:
        first = asyncio.create_task(ask(services, LONG_PROMPT, "c1"))
        await running(services, 1)
        second = asyncio.create_task(ask(services, "hi", "c2"))  # waits for the one slot
        await until(lambda: services.queue.stats().waiting == 1, "the second request waiting")
        third = await ask(services, "hi", "c3")  # the waiting room is full too
        assert [r.text for r in third.replies] == [messages.BUSY]
        assert services.queue.cancel_channel(ChannelRef("test", "", "c1").key) == 1
        await first
        assert (await asyncio.wait_for(second, 30)).replies[0].kind is ReplyKind.CHAT
        assert services.queue.stats().rejected == 1
    finally:
        await services.stop()


async def test_settings_the_server_rejects_are_reported_at_start_and_in_status(
    transformers_server: TransformersServer, scripted_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Told it is vLLM, the bot sends vLLM's fields: transformers serve answers 422 for `top_k` and
    `repetition_penalty`, and token-id prompts with 400. All found at start, said once, shown in status."""
    config = remote_config(transformers_server.base_url, scripted_model_dir, tmp_path / "r.db", server="vllm")
    with caplog.at_level(logging.INFO, logger="bot.inference"):
        services = await Services.start(config)
    try:
        outbox = await ask(services, "hi")
        status = await command(services, "/gpt2 status")
        await command(services, "/gpt2 set no_repeat_ngram_size 0")
        status_after = await command(services, "/gpt2 status")
    finally:
        await services.stop()
    assert outbox.replies[0].kind is ReplyKind.CHAT
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "the vllm server does not apply top_k, repetition_penalty, no_repeat_ngram_size, num_beams" in warnings[0]
    assert sum("which the vllm server does not apply" in w for w in warnings) == 3  # top_k, penalty, ngram: once each
    assert f"Server: vllm at {transformers_server.base_url}: ok, replies p50" in status
    assert "Not applied by this server: top_k = 40, repetition_penalty = 1.2, no_repeat_ngram_size = 3" in status
    assert "Not applied by this server: top_k = 40, repetition_penalty = 1.2 (" in status_after
    wire = services.queue.server.wire if isinstance(services.queue, RemoteGenerator) else None
    assert wire is not None and not wire.token_prompts and wire.rejected == {"top_k", "repetition_penalty"}


async def test_a_field_rejected_after_start_is_reported_and_the_request_resent(
    transformers_server: TransformersServer, scripted_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unchecked = Wire(Wire.of("vllm").dialect, token_prompts=False)  # as if the start-up check had missed it
    generator = generator_for(transformers_server.base_url, scripted_model_dir, unchecked)
    prompt = tuple(remote_tokenizer(str(scripted_model_dir)).encode("Ann: hi\nGPT-2:"))
    try:
        with caplog.at_level(logging.WARNING, logger="bot.inference.remote"):
            reply = await generator.submit(GenerationRequest(prompt, sampling_params(max_new_tokens=8), "c1"))
    finally:
        await generator.stop()
    assert reply.text
    assert generator.status().not_applied == ("top_k", "repetition_penalty", "no_repeat_ngram_size", "num_beams")
    assert any("turned down repetition_penalty, top_k" in r.getMessage() for r in caplog.records)


async def test_server_killed_mid_stream_then_restarted(
    scripted_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed while streaming: an apology at once, the turn kept, status says unreachable; while it is
    down every message gets the apology within the timeout; once it is back, replies resume."""
    server = TransformersServer(scripted_model_dir, tmp_path / "serve.log").start()
    config = long_replies(server.base_url, scripted_model_dir, tmp_path, timeout_s=20.0, max_retries=1)
    services = await Services.start(config)
    try:
        streaming = asyncio.create_task(ask(services, LONG_PROMPT))
        await running(services, 1)
        await asyncio.sleep(0.3)
        server.stop()
        killed = await asyncio.wait_for(streaming, 15)
        started = time.monotonic()
        down = await ask(services, "are you there?")
        down_s = time.monotonic() - started
        status_down = await command(services, "/gpt2 status")
        server.start()
        back = await ask(services, "hi", "c2")
        status_back = await command(services, "/gpt2 status")
        stored = await services.store.count_messages(ChannelRef("test", "", "c1"))
    finally:
        await services.stop()
        server.stop()
    assert [r.text for r in killed.replies] == [messages.ERROR]
    assert [r.text for r in down.replies] == [messages.ERROR] and down_s < 10
    assert f"Server: transformers at {server.base_url}: unreachable for" in status_down
    assert back.replies[0].kind is ReplyKind.CHAT and ": ok, replies p50" in status_back
    assert stored == 2  # both turns sent while it failed are kept


async def test_a_silent_server_times_out(scripted_model_dir: Path) -> None:
    """A server that accepts and never answers: the request timeout still holds."""
    silent = SilentServer()
    generator = generator_for(silent.base_url, scripted_model_dir, Wire.of("transformers"), timeout_s=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(GenerationTimeout):
            await generator.submit(GenerationRequest((15496,), sampling_params(), "c1"))
    finally:
        await generator.stop()
        silent.stop()
    assert time.monotonic() - started < 3.0


def test_no_weights_are_loaded_with_the_remote_backend(remote: Services) -> None:
    assert remote.loaded is None
    assert remote.queue.info.n_params == 0 and remote.queue.info.n_positions == 1024


async def test_status_shows_the_server_and_its_latency(remote: Services) -> None:
    await ask(remote, "hi")
    status = await command(remote, "/gpt2 status")
    assert status.startswith(f"Model: {remote.queue.info.name} on a remote server (1024-token window)")
    assert "Requests: 0 waiting, 0 at the server (at most 16 at once, then up to 256 waiting)" in status
    assert "first text p50" in status and "(last 1)" in status
    assert "Not applied" not in status
