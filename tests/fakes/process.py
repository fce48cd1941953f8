"""The real bot as a subprocess, driven from async tests: `python -m bot --config C run`.

Signals, exit codes, a kill -9 and a restart against the same database cannot be tried
in-process. `tests.process` runs the bot with blocking calls; a platform's tests need the
bot beside their fake platform, which serves it from the test's own event loop, so
nothing may block that loop. `BotProcess` starts the bot with a config file
(`write_config`) and an environment (`tests.process.bot_env`), sends its log to a file,
waits for log lines (or a listening port) without blocking, signals it, and kills it
(SIGKILL) if a test leaves it running. `start()` again after it ended is a restart: the same
config (rewrite it with `write_config` first to deploy a change) and the same log file, which
then holds every run. Platform neutral: each platform's tests point the config at their own fake.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.process import ROOT

__all__ = ["BotProcess", "write_config"]


def write_config(path: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    """A TOML config file of `sections` (str, int, float, bool, lists of str)."""
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


class BotProcess:
    """One run of the bot; `async with` starts it and makes sure it is gone afterwards."""

    def __init__(self, config: Path, env: Mapping[str, str], log: Path, command: str = "run") -> None:
        self.config = config
        self.env = dict(env)
        self.log = log
        self.command = command
        self._process: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(self.config),
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def log_lines(self) -> list[str]:
        return self.log_text().splitlines()

    async def wait_for_line(
        self, pattern: str, *, within_s: float = 60.0, after: int = 0, count: int = 1
    ) -> re.Match[str]:
        """The `count`th log line from line `after` on that matches the regex `pattern`."""
        compiled = re.compile(pattern)
        try:
            async with asyncio.timeout(within_s):
                while True:
                    found = [m for m in map(compiled.search, self.log_lines()[after:]) if m]
                    if len(found) >= count:
                        return found[count - 1]
                    if self._process is not None and self._process.returncode is not None:
                        raise AssertionError(f"the bot exited ({self._process.returncode}) before logging {pattern!r}")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise TimeoutError(f"no {pattern!r} in the log within {within_s} s:\n{self.log_text()[-4000:]}") from None

    async def wait_for_port(self, port: int, *, within_s: float = 60.0, host: str = "127.0.0.1") -> None:
        """Until something accepts connections on `host:port`; AssertionError if the process ends first."""
        async with asyncio.timeout(within_s):
            while True:
                if self._process is not None and self._process.returncode is not None:
                    raise AssertionError(f"the bot exited ({self._process.returncode}):\n{self.log_text()[-4000:]}")
                try:
                    _, writer = await asyncio.open_connection(host, port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                await writer.wait_closed()
                return

    async def wait_for_log(self, text: str, *, within_s: float = 60.0) -> None:
        """Until `text` appears in the log; TimeoutError (with the log) otherwise, or if the process ends first."""
        try:
            async with asyncio.timeout(within_s):
                while text not in self.log_text():
                    if self._process is not None and self._process.returncode is not None:
                        raise AssertionError(f"the bot exited ({self._process.returncode}) before logging {text!r}")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise TimeoutError(f"no {text!r} in the log within {within_s} s:\n{self.log_text()[-4000:]}") from None

    def send(self, sig: signal.Signals) -> None:
        assert self._process is not None
        self._process.send_signal(sig)

    async def wait(self, *, within_s: float = 60.0) -> int:
        """The exit status, once the process has ended."""
        assert self._process is not None
        async with asyncio.timeout(within_s):
            self.returncode = await self._process.wait()
        return self.returncode

    async def kill(self) -> None:
        """SIGKILL: no clean-up at all (a crash, an OOM kill, a pulled plug)."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            self.returncode = await self._process.wait()

    async def __aenter__(self) -> BotProcess:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.kill()
