"""Running the real bot process (`python -m bot ...`) from tests, with a clean environment."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

__all__ = ["ROOT", "Lines", "bot_env", "free_port", "get", "run_cli", "start_bot", "until_ready"]

ROOT = Path(__file__).resolve().parents[1]


def bot_env(**env: str) -> dict[str, str]:
    """This environment without config overrides or credentials the developer may have set, plus `env`."""
    skip = (
        "GPT2BOT_CONFIG",
        "DISCORD_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "REDIS_PASSWORD",
    )
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in skip and not (key.startswith("GPT2BOT_") and "__" in key)
    }
    return {**environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **env}


def run_cli(args: list[str], cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=bot_env(**env),
        timeout=120,
    )


def start_bot(args: list[str], cwd: Path, **env: str) -> subprocess.Popen[str]:
    """The bot as a child process with pipes for stdin, stdout and stderr (the caller ends it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=bot_env(**env),
    )


def free_port() -> int:
    """A port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Lines:
    """A child's output read line by line on a thread, so a test can wait for the next line."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))

    def next(self, within_s: float = 60.0) -> str:
        line = self._lines.get(timeout=within_s)
        self.seen.append(line)
        return line


def get(url: str, timeout_s: float = 10.0) -> tuple[int, str]:
    """GET `url`: (status, body), also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def until_ready(base_url: str, bot: subprocess.Popen[Any], within_s: float = 120.0) -> dict[str, Any]:
    """Poll `/readyz` until it answers 200 (the model loads first); its JSON body."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert bot.poll() is None, "the bot exited while starting"
        try:
            status, body = get(f"{base_url}/readyz", timeout_s=5)
        except OSError:
            time.sleep(0.25)
            continue
        if status == 200:
            ready: dict[str, Any] = json.loads(body)
            return ready
        time.sleep(0.25)
    raise AssertionError(f"not ready within {within_s:g} s")
