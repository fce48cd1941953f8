"""Stopping on SIGTERM or SIGINT without losing a reply (what Docker, systemd and Kubernetes send).

`Signals` turns the first signal into `requested`; a second one exits at once. `drain` then
runs the adapters through their three phases (`bot.events.Adapter`): take no new work, let
in-flight replies finish within the grace period, cancel the rest (each leaves a
"restarting" note where its placeholder or preview stood, and its message stays in the
inbox to be answered after the restart) and disconnect. One log line per phase.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Sequence

from bot.events import Adapter

__all__ = ["Signals", "drain"]

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Signals:
    """While installed, SIGTERM and SIGINT set `requested`; a second signal ends the process at once."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.received = ""
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            self._loop.add_signal_handler(sig, self._on_signal, sig)

    def uninstall(self) -> None:
        if self._loop is not None:
            for sig in STOP_SIGNALS:
                self._loop.remove_signal_handler(sig)
            self._loop = None

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.requested.is_set():
            log.warning("%s again: exiting now, without waiting for replies in progress", sig.name)
            logging.shutdown()
            os._exit(128 + sig.value)
        self.received = sig.name
        log.info("%s received: stopping (send it again to exit at once)", sig.name)
        self.requested.set()


async def drain(adapters: Sequence[Adapter], grace_s: float) -> None:
    """Stop taking work, let replies in progress finish for up to `grace_s`, then stop the adapters."""
    for adapter in adapters:
        await adapter.pause()
    in_flight = sum(adapter.pending for adapter in adapters)
    log.info("stopping 1/3: taking no new messages; %d repl%s in progress", in_flight, "y" if in_flight == 1 else "ies")
    started = time.monotonic()
    if in_flight:
        waits = [asyncio.ensure_future(adapter.idle()) for adapter in adapters]
        _, late = await asyncio.wait(waits, timeout=grace_s)
        for task in late:
            task.cancel()
    left = sum(adapter.pending for adapter in adapters)
    waited = time.monotonic() - started
    if left:
        log.warning(
            "stopping 2/3: %d repl%s still in progress after %.1f s; cancelling",
            left,
            "y" if left == 1 else "ies",
            waited,
        )
    else:
        log.info("stopping 2/3: every reply in progress finished (%.1f s)", waited)
    for adapter in reversed(adapters):
        await adapter.stop()
    log.info("stopping 3/3: disconnected from %s", ", ".join(a.name for a in adapters) or "nothing")
