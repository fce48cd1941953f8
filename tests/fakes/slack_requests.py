"""Requests exactly as Slack sends them: signed Events API JSON and slash-command forms.

Signature (Slack's "verifying requests" recipe): `v0=` + hex HMAC-SHA256 of
`v0:{timestamp}:{raw body}` keyed by the signing secret, in `X-Slack-Signature`, with
the timestamp in `X-Slack-Request-Timestamp`. Redeliveries add `X-Slack-Retry-Num` and
`X-Slack-Retry-Reason`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

__all__ = ["SentRequest", "SlackSender", "command_form", "event_callback", "sign"]

_ids = itertools.count(1)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers for `body` (the exact bytes that will be sent)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_callback(event: Mapping[str, Any], *, team: str = "T1", event_id: str = "") -> dict[str, Any]:
    """An Events API envelope around `event` (a fresh event id unless one is given)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A1",
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
    }


def command_form(
    text: str,
    *,
    user: str = "U1",
    channel: str = "C1",
    team: str = "T1",
    response_url: str = "",
    channel_name: str = "general",
) -> dict[str, str]:
    """The fields of a `/gpt2 <text>` slash command."""
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "fake",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user.lower(),
        "command": "/gpt2",
        "text": text,
        "api_app_id": "A1",
        "response_url": response_url,
        "trigger_id": f"trigger.{next(_ids)}",
    }


@dataclass(frozen=True)
class SentRequest:
    status: int
    text: str
    elapsed_s: float


@dataclass
class SlackSender:
    """Posts signed requests to the bot's HTTP endpoint, as Slack would."""

    url: str
    secret: str
    session: aiohttp.ClientSession = field(default_factory=aiohttp.ClientSession)

    async def close(self) -> None:
        await self.session.close()

    async def raw(self, body: bytes, content_type: str, headers: Mapping[str, str]) -> SentRequest:
        started = time.monotonic()
        all_headers = {"Content-Type": content_type, **headers}
        async with self.session.post(self.url, data=io.BytesIO(body), headers=all_headers) as response:
            text = await response.text()
        return SentRequest(response.status, text, time.monotonic() - started)

    async def json(
        self, payload: Mapping[str, Any], *, retry_num: int = 0, timestamp: int | None = None, secret: str | None = None
    ) -> SentRequest:
        body = json.dumps(payload).encode()
        headers = sign(self.secret if secret is None else secret, body, timestamp)
        if retry_num:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.raw(body, "application/json", headers)

    async def event(self, event: Mapping[str, Any], *, event_id: str = "", retry_num: int = 0) -> SentRequest:
        return await self.json(event_callback(event, event_id=event_id), retry_num=retry_num)

    async def command(self, text: str, **fields: str) -> SentRequest:
        body = urlencode(command_form(text, **fields)).encode()
        return await self.raw(body, "application/x-www-form-urlencoded", sign(self.secret, body))
