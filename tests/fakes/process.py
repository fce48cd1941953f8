"""The bot as a real process: `python -m bot --config C run`, started, watched and stopped by a test.

`BotProcess` writes the config (TOML) into a directory of its own, starts the process with the
environment it is given (plus `HF_HUB_OFFLINE=1`), reads its stderr line by line as it comes,
waits for a log line or a listening port, sends signals, and returns the exit status. Each
wait is bounded; leaving the `async with` block kills a process still running. Platform
neutral: the Slack and Discord tests put their own sections and secrets into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["ROOT", "BotProcess", "free_port", "toml"]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def toml(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """`{"slack": {"port": 3000}}` as TOML: strings, numbers, booleans and lists of them."""
    lines: list[str] = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_value(value)}" for key, value in table.items())
        lines.append("")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are valid in TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


class BotProcess:
    """One run of the bot's command line; `restart()` runs it again on the same config."""

    def __init__(
        self,
        directory: Path,
        config: Mapping[str, Mapping[str, Any]],
        env: Mapping[str, str],
        *,
        args: Sequence[str] = ("run",),
    ) -> None:
        self.directory = directory
        self.config_path = directory / "config.toml"
        self.configure(config)
        self._env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **env}
        self._env.pop("GPT2BOT_CONFIG", None)
        self._args = list(args)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.lines: list[str] = []  # stderr of every run so far, one entry a line
        self.log_path = directory / "bot.stderr"  # the same, kept for a look after a failed test
        self.runs = 0

    # --- running -----------------------------------------------------------------------

    def configure(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        """Write the config the next `start()` reads (as an operator deploying a change would)."""
        self.config_path.write_text(toml(config))

    async def start(self) -> None:
        if self.running:
            raise RuntimeError("the bot process is already running")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(self.config_path),
            *self._args,
            cwd=self.directory,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 20,  # a log line may be long (a traceback's is not split)
        )
        self.runs += 1
        self.lines.append(f"--- run {self.runs} ---")
        self._reader = asyncio.create_task(self._read(self._process))

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def send(self, sig: signal.Signals) -> None:
        assert self._process is not None
        self._process.send_signal(sig)

    async def wait(self, within_s: float = 30.0) -> int:
        """The exit status, once the process ended (and all its stderr is read)."""
        assert self._process is not None and self._reader is not None
        async with asyncio.timeout(within_s):
            status = await self._process.wait()
            await self._reader
        return status

    async def kill(self) -> int:
        """SIGKILL: the process gets no chance to tidy up."""
        if self.running:
            self.send(signal.SIGKILL)
        return await self.wait(10.0)

    async def __aenter__(self) -> BotProcess:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await self.kill()

    # --- watching ----------------------------------------------------------------------

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def since(self, run: int) -> list[str]:
        """The stderr lines of run `run` (1 = the first) and later."""
        start = self.lines.index(f"--- run {run} ---")
        return self.lines[start + 1 :]

    async def wait_for_line(
        self, pattern: str, within_s: float = 60.0, *, after: int = 0, count: int = 1
    ) -> re.Match[str]:
        """The `count`th stderr line from index `after` on that matches `pattern` (a regex)."""
        compiled = re.compile(pattern)
        seen, found = after, 0
        async with asyncio.timeout(within_s):
            while True:
                for line in self.lines[seen:]:
                    match = compiled.search(line)
                    found += match is not None
                    if match and found == count:
                        return match
                seen = len(self.lines)
                if not self.running and self._reader is not None and self._reader.done():
                    status = self._process.returncode if self._process is not None else None
                    raise AssertionError(f"the bot exited ({status}) before logging {pattern!r}:\n{self.tail()}")
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_port(self, port: int, within_s: float = 60.0, host: str = "127.0.0.1") -> None:
        """Until something accepts connections on `host:port` (or the process ends)."""
        async with asyncio.timeout(within_s):
            while True:
                if not self.running:
                    raise AssertionError(f"the bot exited before listening on {host}:{port}:\n{self.tail()}")
                try:
                    _, writer = await asyncio.open_connection(host, port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                await writer.wait_closed()
                return

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.lines[-lines:])

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        try:
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(f"--- run {self.runs} ---\n")
                while line := await process.stderr.readline():
                    text = line.decode("utf-8", "replace").rstrip("\n")
                    self.lines.append(text)
                    log.write(text + "\n")
                    self._changed.set()
        finally:
            self._changed.set()
