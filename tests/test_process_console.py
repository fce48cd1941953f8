"""The real `python -m bot chat` process: stop signals drain, odd bytes are answered.

The demo model writes up to 512 tokens greedily, so a reply is still being written when
the test sends SIGTERM right after the line went in.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


class Chat:
    """`python -m bot -v chat` with stdin kept open; stderr lines collected as they come."""

    def __init__(self, tmp_path: Path, **bot: float) -> None:
        settings = "".join(f"{key} = {value}\n" for key, value in bot.items())
        config = tmp_path / "config.toml"
        self.db = tmp_path / "bot.db"
        config.write_text(
            f'[bot]\n{settings}[model]\nname = "demo"\n[generation]\nmax_new_tokens = 512\ndo_sample = false\n'
            f'[storage]\nurl = "sqlite+aiosqlite:///{tmp_path / "bot.db"}"\n'
        )
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        env.pop("GPT2BOT_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "-v", "chat"],
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.stderr, True), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.stdout, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _collect(self, stream: IO[bytes] | None, into: list[str], announce: bool) -> None:
        assert stream is not None
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            into.append(line)
            if announce:
                self._lines.put(line)

    def wait_for(self, text: str, within_s: float = 90.0) -> None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                if text in self._lines.get(timeout=0.5):
                    return
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
        raise AssertionError(f"no {text!r} in stderr:\n{''.join(self.stderr)}")

    def wait_until_stored(self, turns: int, within_s: float = 30.0) -> None:
        """Until the bot has stored `turns` messages: a stored user turn means its reply has begun."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.OperationalError), contextlib.closing(sqlite3.connect(self.db)) as db:
                if db.execute("SELECT count(*) FROM messages").fetchone()[0] >= turns:
                    return
            time.sleep(0.02)
        raise AssertionError(f"fewer than {turns} stored turns:\n{self.log}")

    def say(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def finish(self, within_s: float = 60.0) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=within_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        for reader in self._readers:
            reader.join(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return code, "".join(self.stdout)

    @property
    def log(self) -> str:
        return "".join(self.stderr)


def test_sigterm_lets_the_reply_in_progress_finish_then_exits_0(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    chat.wait_for("console adapter started")
    chat.say(b"hello there\n")
    time.sleep(0.3)
    chat.proc.send_signal(signal.SIGTERM)
    code, out = chat.finish()
    assert code == 0, chat.log
    assert out.startswith("GPT-2: ") and out.count("\n") == 1  # the reply was not dropped
    log = chat.log
    assert "SIGTERM received: stopping" in log
    assert "stopping 1/3: taking no new messages; 1 reply in progress" in log
    assert "stopping 2/3: every reply in progress finished" in log
    assert "stopping 3/3: disconnected from console" in log and "Traceback" not in log


def test_past_the_grace_period_the_reply_is_cancelled_and_the_bot_still_exits_0(tmp_path: Path) -> None:
    chat = Chat(tmp_path, shutdown_grace_s=0)
    chat.wait_for("console adapter started")
    chat.say(b"hello there\n")
    time.sleep(0.3)
    chat.proc.send_signal(signal.SIGINT)
    code, out = chat.finish()
    assert code == 0, chat.log
    assert out == ""
    assert "1 reply still in progress after" in chat.log and "Traceback" not in chat.log


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    chat = Chat(tmp_path, shutdown_grace_s=60)
    chat.wait_for("console adapter started")
    chat.say(b"hello there\n")
    time.sleep(0.3)
    chat.proc.send_signal(signal.SIGTERM)
    chat.wait_for("stopping 1/3")
    started = time.monotonic()
    chat.proc.send_signal(signal.SIGTERM)
    code, _ = chat.finish(within_s=10)
    assert code == 128 + signal.SIGTERM and time.monotonic() - started < 5
    assert "SIGTERM again: exiting now" in chat.log


def test_bytes_that_are_not_utf8_are_answered_not_a_traceback(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    chat.wait_for("console adapter started")
    chat.say(b"caf\xe9 \xff\xfe\xed\xa0\x80 ok\n")  # latin-1, a BOM-ish pair, a UTF-8-encoded surrogate
    assert chat.proc.stdin is not None
    chat.proc.stdin.close()
    code, out = chat.finish()
    assert code == 0, chat.log
    assert out.startswith("GPT-2: ") and "[error]" not in out
    assert "Traceback" not in chat.log
