"""The operator's endpoint: /healthz, /readyz with the reason a part is not ready, /metrics; and the real
bot (`python -m bot run`, Slack HTTP mode, PostgreSQL behind a proxy the test cuts) going unready
while its database is unreachable and ready again after."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from bot import health, metrics
from bot.config import HealthSection
from bot.errors import ConfigError
from bot.health import HealthServer, Readiness
from storage.database import create_engine, problem, upgrade
from tests.conftest import POSTGRES_URL, empty_database
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.tcp_proxy import TcpProxy
from tests.process import free_port, get, run_cli, start_bot, until_ready


async def test_readiness_reports_every_part_and_why() -> None:
    readiness = Readiness()
    readiness.set("model", "loading")
    readiness.set("slack", None)

    async def database() -> str | None:
        return "unreachable (no route)"

    async def broken() -> str | None:
        raise RuntimeError("bug")

    readiness.add("database", database)
    readiness.add("broken", broken)
    assert await readiness.report() == {
        "model": "loading",
        "slack": None,
        "database": "unreachable (no route)",
        "broken": "check failed (RuntimeError)",
    }


async def test_a_hanging_check_is_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.05)
    readiness = Readiness()

    async def hangs() -> str | None:
        await asyncio.sleep(10)
        return None

    readiness.add("backend", hangs)
    assert await readiness.report() == {"backend": "no answer within 0.05 s"}


async def test_the_endpoint_answers_health_readiness_and_metrics() -> None:
    readiness = Readiness()
    readiness.set("model", "loading")
    server = HealthServer(HealthSection(enabled=True, port=0), readiness, metrics.REGISTRY)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/healthz") as response:
                assert response.status == 200 and await response.json() == {"status": "ok"}
            async with http.get(f"{server.url}/readyz") as response:
                assert response.status == 503
                assert await response.json() == {"ready": False, "checks": {"model": "loading"}}
            readiness.set("model", None)
            async with http.get(f"{server.url}/readyz") as response:
                assert response.status == 200 and (await response.json())["ready"] is True
            async with http.get(f"{server.url}/metrics") as response:
                assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
                names = {family.name for family in text_string_to_metric_families(await response.text())}
            assert {"gpt2bot_replies", "gpt2bot_reply_seconds", "process_resident_memory_bytes"} <= names
            async with http.get(f"{server.url}/nothing") as response:
                assert response.status == 404
        taken = int(server.url.rsplit(":", 1)[1])
        with pytest.raises(ConfigError, match=r"health\.port = .*cannot listen on 127\.0\.0\.1"):
            await HealthServer(HealthSection(enabled=True, port=taken), Readiness(), metrics.REGISTRY).start()
    finally:
        await server.stop()


async def test_database_problems_name_the_fix(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(engine, "0001")
        assert "run `python -m bot db upgrade`" in str(await problem(engine))
        await upgrade(engine)
        assert await problem(engine) is None
    finally:
        await engine.dispose()
    nowhere = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    try:
        assert str(await problem(nowhere)).startswith("unreachable (")
    finally:
        await nowhere.dispose()


async def readyz(base: str) -> tuple[int, dict[str, object]]:
    status, body = await asyncio.to_thread(get, f"{base}/readyz")
    return status, json.loads(body)


async def until_status(base: str, status: int, within_s: float = 20.0) -> dict[str, object]:
    async with asyncio.timeout(within_s):
        while True:
            got, body = await readyz(base)
            if got == status:
                return body
            await asyncio.sleep(0.2)


@pytest.mark.postgres
async def test_the_real_bot_is_unready_while_its_database_is_unreachable(tmp_path: Path) -> None:
    target = make_url(POSTGRES_URL)
    async with empty_database("postgres", tmp_path) as url, FakeSlackApi() as api:
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        proxied = make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        upgraded = await asyncio.to_thread(run_cli, ["db", "upgrade"], tmp_path, GPT2BOT_STORAGE__URL=proxied)
        assert upgraded.returncode == 0, upgraded.stderr
        health_port = free_port()
        config = tmp_path / "bot.toml"
        config.write_text(
            f'[model]\nname = "demo"\n[storage]\nurl_env = "DATABASE_URL"\n'
            f"[health]\nenabled = true\nport = {health_port}\n"
            f'[slack]\nport = {free_port()}\napi_base_url = "{api.base_url}"\n'
        )
        env = {"DATABASE_URL": proxied, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
        bot = start_bot(["--config", str(config), "run"], tmp_path, **env)
        base = f"http://127.0.0.1:{health_port}"
        try:
            ready = await asyncio.to_thread(until_ready, base, bot)
            assert ready == {"ready": True, "checks": {"model": None, "database": None, "slack": None}}
            await proxy.stop()
            down = await until_status(base, 503)
            checks = down["checks"]
            assert isinstance(checks, dict) and str(checks["database"]).startswith("unreachable (")
            assert checks["model"] is None and checks["slack"] is None
            assert (await asyncio.to_thread(get, f"{base}/healthz"))[0] == 200  # alive, just not ready
            await proxy.start()
            assert (await until_status(base, 200))["ready"] is True
        finally:
            bot.terminate()
            _, stderr = await asyncio.to_thread(bot.communicate, timeout=30)
            await proxy.stop()
    assert "Traceback" not in stderr, stderr[-3000:]
