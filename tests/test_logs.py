"""Logs: per-message context in text and JSON lines, quiet third parties, and no request bodies from Bolt;
the last test runs the real bot in Slack HTTP mode and sends it a forged request carrying user text."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import BodyFilter, bind, context, current_ref, log_context, new_ref, setup_logging
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import SlackSender
from tests.process import free_port, start_bot


@contextlib.contextmanager
def installed(fmt: str) -> Iterator[io.StringIO]:
    """setup_logging into a buffer, restoring the root logger afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("alembic").level)
    stream = io.StringIO()
    setup_logging("INFO", fmt, stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger("alembic").setLevel(saved[2])


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    with installed("json") as stream:
        yield stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_context_reaches_lines_in_the_block_and_its_tasks_only(logged: io.StringIO) -> None:
    log = logging.getLogger("gpt2bot.test")
    with log_context(ref="r1", platform="slack", channel="slack:T1:C1"):
        bind(stage="generate")
        await asyncio.create_task(asyncio.to_thread(log.info, "in a thread of a task"))
        with log_context(stage="output_check"):
            log.warning("nested %s", "block", extra={"tokens": 12})
        assert current_ref() == "r1" and context()["stage"] == "generate"
    log.info("outside")
    first, nested, outside = lines(logged)
    assert first == {**first, "ref": "r1", "platform": "slack", "channel": "slack:T1:C1", "stage": "generate"}
    assert (
        first["message"] == "in a thread of a task" and first["level"] == "INFO" and first["logger"] == "gpt2bot.test"
    )
    assert nested["stage"] == "output_check" and nested["tokens"] == 12 and nested["message"] == "nested block"
    assert "ref" not in outside and current_ref() == ""
    assert str(first["time"]).endswith("+00:00")


def test_json_lines_carry_the_traceback(logged: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("gpt2bot.test").exception("failed")
    (line,) = lines(logged)
    assert line["level"] == "ERROR" and "ValueError: boom" in str(line["exception"])


def test_text_lines_end_with_the_context() -> None:
    with installed("text") as stream, log_context(ref="abc", platform="discord"):
        logging.getLogger("gpt2bot.test").info("answered: chat in %.2f s", 1.234)
    assert stream.getvalue().rstrip().endswith("gpt2bot.test: answered: chat in 1.23 s [ref=abc platform=discord]")


def test_refs_are_short_and_fresh() -> None:
    refs = {new_ref() for _ in range(100)}
    assert len(refs) == 100 and all(len(ref) == 8 for ref in refs)


def test_chatty_third_parties_are_lowered(logged: io.StringIO) -> None:
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("alembic.runtime.migration").warning("a real warning")
    assert [line["message"] for line in lines(logged)] == ["a real warning"]


def test_bolt_request_bodies_are_withheld(logged: io.StringIO) -> None:
    bolt = logging.getLogger("adapters.slack.bolt")
    bolt.info("Invalid request signature detected (signature: v0=1, timestamp: 1, body: my secret plan)")
    bolt.warning("Unhandled request (%s)", "request body: my secret plan")
    bolt.info("an ordinary line")
    messages = [str(line["message"]) for line in lines(logged)]
    assert messages == ["Unhandled request (request body: <withheld>", "an ordinary line"]
    record = logging.makeLogRecord({"name": "slack_bolt.App", "msg": "Invalid request signature (body: x)"})
    logging.getLogger("slack_bolt.App").setLevel(logging.DEBUG)
    try:
        assert BodyFilter().filter(record) and record.getMessage() == "Invalid request signature (body: <withheld>"
    finally:
        logging.getLogger("slack_bolt.App").setLevel(logging.NOTSET)


async def test_the_real_bot_logs_json_and_never_a_forged_requests_body(tmp_path: Path) -> None:
    """`python -m bot run` in Slack HTTP mode, JSON logs at INFO: a forged request with user text
    gets 401 and leaves no trace of that text; Alembic's start-up lines are gone; every log line
    is JSON; a real mention is answered and its log line carries the message's context."""
    port = free_port()
    config = tmp_path / "bot.toml"
    async with FakeSlackApi() as api:
        api.add_user("U1", "Alice")
        config.write_text(
            f'[model]\nname = "demo"\n[storage]\nurl = "sqlite+aiosqlite:///{tmp_path / "bot.db"}"\n'
            f'[slack]\nport = {port}\napi_base_url = "{api.base_url}"\n'
            '[logging]\nformat = "json"\n[generation]\nmax_new_tokens = 5\n'
        )
        secret = "logs-test-signing-secret"
        bot = start_bot(
            ["--config", str(config), "run"], tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET=secret
        )
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", secret)
        try:
            await _until_listening(sender, bot)
            forged = await sender.json({"type": "event_callback", "event": {"text": "my secret plan"}}, secret="wrong")
            assert forged.status == 401
            mention = {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1", "ts": "1.000001"}
            assert (await sender.event(mention)).status == 200
            await api.wait_for("chat.update", within_s=60)
        finally:
            await sender.close()
            bot.terminate()
            _, stderr = await asyncio.to_thread(bot.communicate, timeout=30)
    assert "my secret plan" not in stderr
    assert "Context impl" not in stderr and "Running upgrade" not in stderr
    records = [json.loads(line) for line in stderr.splitlines() if not line.startswith("***")]  # the demo banner
    answered = [r for r in records if str(r["message"]).startswith("answered: chat")]
    assert len(answered) == 1 and answered[0]["platform"] == "slack" and len(str(answered[0]["ref"])) == 8, stderr
    assert str(answered[0]["channel"]).startswith("slack:T1:C1")


async def _until_listening(sender: SlackSender, bot: subprocess.Popen[str], within_s: float = 90.0) -> None:
    """Poll the bot's Slack endpoint until it answers (the model loads first)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert bot.poll() is None, "the bot exited while starting"
        try:
            await sender.raw(b"", "application/json", {})
            return
        except OSError:
            await asyncio.sleep(0.25)
    raise AssertionError("the bot did not start listening")
