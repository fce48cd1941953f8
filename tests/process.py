"""Running the real bot process (`python -m bot ...`) from tests, with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "bot_env", "free_port", "run_cli", "start_bot"]

ROOT = Path(__file__).resolve().parents[1]


def bot_env(**env: str) -> dict[str, str]:
    """This environment without config overrides or credentials the developer may have set, plus `env`."""
    skip = ("GPT2BOT_CONFIG", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")
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
