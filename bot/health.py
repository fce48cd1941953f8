"""The operator's HTTP endpoint: `/healthz`, `/readyz` and Prometheus `/metrics` (aiohttp).

- `/healthz`: 200 while the process and its event loop answer (the handler runs on the loop).
- `/readyz`: 200 when every registered part is ready, else 503; the JSON body says which part is
  not ready and why: `{"ready": false, "checks": {"database": "unreachable (...)", "model": null}}`.
- `/metrics`: `bot.metrics.REGISTRY` in the Prometheus text format.

Parts register with `Readiness`: either a state they set (`set("slack", "connecting")`, then
`set("slack", None)`), or an async check asked on every `/readyz` (`add("database", check)`),
which answers None when ready or a short reason. A check that fails or hangs counts as not ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bot.config import HealthSection
from bot.errors import ConfigError

__all__ = ["CHECK_TIMEOUT_S", "Check", "HealthServer", "Readiness"]

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 5.0
Check = Callable[[], Awaitable[str | None]]  # None = ready, else why not


class Readiness:
    """What must be up before this process takes traffic, and why each part is not (yet)."""

    def __init__(self) -> None:
        self._states: dict[str, str | None] = {}
        self._checks: dict[str, Check] = {}

    def set(self, name: str, reason: str | None) -> None:
        """Part `name` is ready (None) or not, and why."""
        self._states[name] = reason

    def add(self, name: str, check: Check) -> None:
        """Ask `check` on every report."""
        self._checks[name] = check

    async def report(self) -> dict[str, str | None]:
        """Every part's reason for not being ready (None = ready), checks run concurrently."""
        names = list(self._checks)
        answers = await asyncio.gather(*(self._ask(name, self._checks[name]) for name in names))
        return {**self._states, **dict(zip(names, answers, strict=True))}

    async def _ask(self, name: str, check: Check) -> str | None:
        try:
            return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_S:g} s"
        except Exception as exc:
            log.exception("readiness check %r failed", name)
            return f"check failed ({type(exc).__name__})"


class HealthServer:
    def __init__(self, section: HealthSection, readiness: Readiness, registry: CollectorRegistry) -> None:
        self._section = section
        self.readiness = readiness
        self._registry = registry
        self._runner: web.AppRunner | None = None
        self.url = ""  # http://host:port once started

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._section.host, self._section.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            where = f"{self._section.host}:{self._section.port}"
            raise ConfigError("health.port", self._section.port, f"cannot listen on {where} ({exc.strerror})") from None
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        log.info("health: /healthz, /readyz and /metrics on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        checks = await self.readiness.report()
        ready = all(reason is None for reason in checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, self._registry)  # the process collector reads /proc
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
