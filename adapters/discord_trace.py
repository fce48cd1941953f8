"""Discord REST calls counted for the operator: failures and 429s by route, from aiohttp's trace.

discord.py handles rate limits itself and tells its callers nothing about the 429s it waited
out, so the documented `http_trace` client option (an `aiohttp.TraceConfig`) is where every
request's outcome can be seen. Labels are bounded: the method and the route with its ids
replaced (`POST /channels/{id}/messages`), never a URL with ids in it.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import aiohttp
import yarl

from bot import metrics

__all__ = ["PLATFORM", "route_label", "trace_config"]

PLATFORM = "discord"
_IDS = re.compile(r"/\d{2,}")
_API_PREFIX = re.compile(r"^.*?/api/v\d+")
_TOKENS = re.compile(r"(/(?:webhooks|interactions)/\{id\})/[^/]+")  # interaction and webhook tokens


def route_label(method: str, url: str) -> str:
    """`POST /channels/{id}/messages` for `POST https://discord.com/api/v10/channels/123/messages`."""
    path = _API_PREFIX.sub("", yarl.URL(url).path) or "/"
    path = _TOKENS.sub(r"\1/{token}", _IDS.sub("/{id}", path))
    return f"{method.upper()} {path}"[:120]


async def _on_request_end(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
) -> None:
    status = params.response.status
    if status == 429:
        metrics.PLATFORM_RATE_LIMITED.labels(PLATFORM, route_label(params.method, str(params.url))).inc()
    elif status >= 400:  # refused (403 missing permission, 404 deleted ...) or failed (5xx)
        metrics.PLATFORM_API_ERRORS.labels(PLATFORM, route_label(params.method, str(params.url))).inc()


async def _on_request_exception(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
) -> None:
    metrics.PLATFORM_API_ERRORS.labels(PLATFORM, route_label(params.method, str(params.url))).inc()


def trace_config() -> aiohttp.TraceConfig:
    """For `discord.Client(http_trace=...)`: counts 429s, error answers and failed connections."""
    config = aiohttp.TraceConfig()
    config.on_request_end.append(_on_request_end)
    config.on_request_exception.append(_on_request_exception)
    return config
