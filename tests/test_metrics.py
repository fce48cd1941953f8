"""Metrics: the queue's numbers read at scrape time (the same as /gpt2 status), histograms from the
queue, bounded labels; and the real bot process scraped with prometheus_client's parser after a
few messages, every counter and histogram moved by exactly what was sent."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot import messages, metrics
from bot.errors import GenerationTimeout, QueueFull
from bot.events import Author, ChannelRef, Event
from bot.inference.queue import InferenceQueue
from bot.inference.types import GenerationRequest
from bot.settings import sampling_params
from tests.fakes.core import RecordingOutbox, ScriptedGenerator, build_core
from tests.fakes.engine import ScriptedEngine
from tests.process import Lines, free_port, get, start_bot, until_ready

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape() -> Samples:
    return samples(generate_latest(metrics.REGISTRY).decode())


def value(scraped: Samples, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_queue_numbers_are_read_from_the_stats_status_shows() -> None:
    engine = ScriptedEngine(max_batch=4, steps=3)
    queue = InferenceQueue(engine, max_queue=8, timeout_s=10)
    queue.start()
    metrics.QUEUE.watch(queue.stats)
    before = scrape()
    try:
        engine.gate.clear()
        requests = [GenerationRequest((1, 2, 3), sampling_params(max_new_tokens=5), f"c{i}") for i in range(3)]
        tasks = [asyncio.create_task(queue.submit(r)) for r in requests]
        await asyncio.sleep(0.05)
        engine.gate.set()
        results = await asyncio.gather(*tasks)
        after, stats = scrape(), queue.stats()
    finally:
        metrics.QUEUE.watch(None)
        await queue.stop()
    assert value(after, "gpt2bot_generations_total") == stats.completed == 3
    assert (
        value(after, "gpt2bot_generated_tokens_total")
        == stats.generated_tokens
        == sum(len(r.token_ids) for r in results)
    )
    assert value(after, "gpt2bot_prompt_tokens_total") == stats.prompt_tokens == 9
    assert value(after, "gpt2bot_largest_batch") == stats.largest_batch == 3
    assert value(after, "gpt2bot_queue_limit") == 8 and value(after, "gpt2bot_batch_limit") == 4
    assert moved(before, after, "gpt2bot_queue_wait_seconds_count") == 3
    assert moved(before, after, "gpt2bot_time_to_first_token_seconds_count") == 3
    assert moved(before, after, "gpt2bot_batch_size_count") == 3  # three steps of three rows
    assert moved(before, after, "gpt2bot_batch_size_sum") == 9
    assert moved(before, after, "gpt2bot_batch_size_bucket", le="2.0") == 0
    assert ("gpt2bot_generations_total", ()) not in scrape()  # nothing watched: nothing exported


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "chat"),
        (QueueFull(messages.BUSY), "busy"),
        (GenerationTimeout("slow"), "timeout"),
        (RuntimeError("boom"), "error"),
    ],
)
async def test_each_answer_is_counted_once_by_its_outcome(error: Exception | None, outcome: str) -> None:
    generator = ScriptedGenerator()
    generator.error = error
    rig = build_core(generator=generator)
    before = scrape()
    event = Event(ChannelRef("slack", "T1", "C1"), Author("U1", "Ann"), "hi", "m1", addressed=True)
    await rig.handler.on_message(event, RecordingOutbox())
    after = scrape()
    for name in metrics.OUTCOMES:
        assert moved(before, after, "gpt2bot_replies_total", outcome=name) == (name == outcome), name
    assert moved(before, after, "gpt2bot_reply_seconds_count", outcome=outcome) == 1


def test_labels_stay_bounded() -> None:
    assert [metrics.sql_verb(s) for s in ("SELECT 1", "  insert into x", "PRAGMA x", "", "WITH a AS (...)")] == [
        "select",
        "insert",
        "other",
        "other",
        "other",
    ]
    before = scrape()
    metrics.record_safety(["slur_hate", "threat"], "input", "BLOCK")
    after = scrape()
    assert moved(before, after, "gpt2bot_safety_actions_total", category="slur_hate", direction="input", action="block")
    labels = {label for name, pairs in after if name.startswith("gpt2bot_") for label, _ in pairs} - {"le"}
    assert labels <= {"outcome", "category", "direction", "action", "verb", "platform", "method", "version"}


def test_the_real_bot_counts_what_it_answered(tmp_path: Path) -> None:
    """`python -m bot chat` with piped stdin and /metrics on: three chats, a blocked input, a message
    over the length limit and a status command; the scrape moved by exactly that, and the status
    command printed the numbers the metrics hold."""
    port = free_port()
    config = tmp_path / "bot.toml"
    config.write_text(
        '[model]\nname = "demo"\n[health]\nenabled = true\n'
        f'port = {port}\n[storage]\nurl = "sqlite+aiosqlite:///{tmp_path / "bot.db"}"\n'
        "[bot]\nmax_input_chars = 50\npreview_interval_s = 0\n[generation]\nmax_new_tokens = 6\n"
        '[logging]\nformat = "json"\n'
    )
    bot = start_bot(["--config", str(config), "-v", "chat"], tmp_path)
    assert bot.stdin is not None and bot.stdout is not None
    out = Lines(bot.stdout)
    base = f"http://127.0.0.1:{port}"
    try:
        until_ready(base, bot)
        before = samples(get(f"{base}/metrics")[1])

        def say(line: str) -> str:
            assert bot.stdin is not None
            bot.stdin.write(line + "\n")
            bot.stdin.flush()
            return out.next()

        answers = [say(text) for text in ("hello there", "how are you", "tell me more")]
        assert all(a.startswith("GPT-2: ") for a in answers), answers
        refused = say("Immigrants are vermin")
        too_long = say("x" * 60)
        assert refused.startswith("[refusal]") and too_long.startswith("[refusal]"), (refused, too_long)
        status = [say("/gpt2 status")]
        while not status[-1].startswith("Auto-reply"):
            status.append(out.next())
        after = samples(get(f"{base}/metrics")[1])
    finally:
        bot.stdin.close()
        stderr = bot.stderr.read() if bot.stderr else ""
        bot.wait(timeout=60)
        for stream in (bot.stdout, bot.stderr):
            if stream is not None:
                stream.close()
    assert bot.returncode == 0, stderr[-3000:]

    assert moved(before, after, "gpt2bot_replies_total", outcome="chat") == 3
    assert moved(before, after, "gpt2bot_replies_total", outcome="refusal") == 2
    for outcome in ("busy", "timeout", "error"):
        assert moved(before, after, "gpt2bot_replies_total", outcome=outcome) == 0
    assert moved(before, after, "gpt2bot_reply_seconds_count", outcome="chat") == 3
    assert moved(before, after, "gpt2bot_reply_seconds_count", outcome="refusal") == 2
    assert moved(before, after, "gpt2bot_reply_seconds_sum", outcome="chat") > 0
    assert moved(before, after, "gpt2bot_time_to_first_token_seconds_count") == 3
    assert moved(before, after, "gpt2bot_queue_wait_seconds_count") == 3
    assert moved(before, after, "gpt2bot_generations_total") == 3
    tokens = moved(before, after, "gpt2bot_generated_tokens_total")
    assert 3 <= tokens <= 18
    assert moved(before, after, "gpt2bot_batch_size_sum") == moved(before, after, "gpt2bot_batch_size_count") >= tokens
    blocked = {"category": "slur_hate", "direction": "input", "action": "block"}
    assert moved(before, after, "gpt2bot_safety_actions_total", **blocked) == 1
    assert moved(before, after, "gpt2bot_db_query_seconds_count", verb="insert") >= 3  # the user turns at least
    assert value(after, "gpt2bot_build_info", version="0.1.0") == 1
    assert value(after, "process_resident_memory_bytes") > 0

    # /gpt2 status and the metrics come from the same numbers
    queue_line = next(line for line in status if "Queue:" in line)
    found = re.search(r"(\d+) waiting, (\d+) generating.*so far (\d+)", queue_line)
    assert found, queue_line
    waiting, running, largest = map(int, found.groups())
    assert (waiting, running, largest) == (
        value(after, "gpt2bot_queue_waiting"),
        value(after, "gpt2bot_queue_running"),
        value(after, "gpt2bot_largest_batch"),
    )
    reuse = next(line for line in status if line.startswith("Prefix cache:"))  # later turns reuse earlier ones
    reused, prompt = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+(?= )", reuse)[:2])
    assert (reused, prompt) == (
        value(after, "gpt2bot_prefix_cache_reused_tokens_total"),
        value(after, "gpt2bot_prompt_tokens_total"),
    ), reuse

    # the refusal's reference is the one in that message's log lines
    found = re.search(r"ref (\w+)", refused)
    assert found, refused
    ref = found.group(1)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("ref") == ref]
    assert mine and all(line["platform"] == "console" for line in mine)
    assert any(str(line["message"]).startswith("answered: refusal in ") for line in mine)
