"""The Slack Web API calls the adapter makes, on one client with slack_sdk's own retry handlers.

`web_client` builds the `AsyncWebClient`: rate-limited calls (429) are retried after Slack's
`Retry-After`, server errors (500, 503) and dropped connections with backoff, a few times
each. `SlackWeb` wraps the handful of methods the adapter uses so that every failure left
after those retries — an `ok: false` answer, an HTTP error, a body that is not JSON, a
connection that dropped — arrives as one `ApiFailure` with a short, secret-free reason.
(slack_sdk raises `SlackApiError`, aiohttp errors, or even `AttributeError` for a plain-text
error body; callers must not have to know which.)

`RateLimitWatch` sits first among the retry handlers and notes every 429 and its
`Retry-After`; `PreviewPace` uses it so previews, which are only a courtesy, pause while
Slack asks us to slow down and share a budget below `chat.update`'s per-workspace limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler, default_interval_calculator
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import metrics
from bot.ratelimit import TokenBucket

__all__ = ["ApiFailure", "PreviewPace", "RateLimitWatch", "SlackWeb", "web_client"]

log = logging.getLogger(__name__)

RETRIES = 2  # per kind of failure, after the first try
TIMEOUT_S = 15
# chat.update is a Tier 3 method: about 50 calls a minute per workspace. Previews get most of
# that; the final update of every reply must still get through.
PREVIEWS_PER_MINUTE = 40
PREVIEW_BURST = 5


class ApiFailure(Exception):
    """A Web API call failed for good (after the retries). `status` is the HTTP status of
    Slack's answer (200 for `ok: false`), 0 when none came (connection, timeout)."""

    def __init__(self, method: str, reason: str, *, status: int = 0) -> None:
        super().__init__(f"{method}: {reason}")
        self.method = method
        self.reason = reason
        self.status = status

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


class RateLimitWatch(AsyncRetryHandler):
    """Notes until when Slack asked each method to wait; never retries anything itself."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(max_retry_count=0)
        self._clock = clock
        self._until: dict[str, float] = {}

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            method = request.url.rsplit("/", 1)[-1]
            metrics.PLATFORM_RATE_LIMITED.labels("slack", method).inc()
            self._until[method] = self._clock() + _retry_after(response.headers)
            log.info("slack: %s is rate-limited for %.0f s", method, self._until[method] - self._clock())
        return False

    def limited(self, method: str) -> bool:
        return self._until.get(method, 0.0) > self._clock()


class PreviewPace:
    """Whether a preview may be shown now: not while chat.update is rate-limited, and within
    a budget shared by every reply in the workspace."""

    def __init__(self, watch: RateLimitWatch, clock: Callable[[], float] = time.monotonic) -> None:
        self._watch = watch
        self._clock = clock
        per_second = PREVIEWS_PER_MINUTE / 60.0
        self._bucket = TokenBucket(PREVIEW_BURST, per_second, PREVIEW_BURST, clock())

    def allows(self) -> bool:
        if self._watch.limited("chat.update") or self._watch.limited("chat.postMessage"):
            return False
        return self._bucket.take(self._clock()) == 0.0


def web_client(
    token: str,
    base_url: str,
    session: aiohttp.ClientSession,
    watch: RateLimitWatch,
    *,
    backoff: RetryIntervalCalculator = default_interval_calculator,  # 0.5 s, then 1 s, each plus up to 1 s
) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        session=session,
        timeout=TIMEOUT_S,
        retry_handlers=[
            watch,
            AsyncRateLimitErrorRetryHandler(max_retry_count=RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=RETRIES, interval_calculator=backoff),
            AsyncConnectionErrorRetryHandler(max_retry_count=RETRIES, interval_calculator=backoff),
        ],
    )


class SlackWeb:
    """The Web API methods the adapter uses; each raises only `ApiFailure`."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def auth_test(self) -> Mapping[str, Any]:
        return await self._call("auth.test", self.client.auth_test())

    async def connections_open(self, app_token: str) -> str:
        """A Socket Mode websocket URL (apps.connections.open takes the app-level token)."""
        answer = await self._call("apps.connections.open", self.client.apps_connections_open(app_token=app_token))
        return str(answer.get("url") or "")

    async def post(
        self,
        channel: str,
        thread_ts: str,
        text: str,
        blocks: Sequence[dict[str, Any]] = (),
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Post in `channel` (in the thread `thread_ts`, "" = top level); the new message's ts."""
        extra: dict[str, Any] = {"blocks": list(blocks), "mrkdwn": False} if blocks else {}
        call = self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts or None,
            text=text,
            parse="none",
            link_names=False,
            unfurl_links=False,
            unfurl_media=False,
            metadata=metadata,
            **extra,
        )
        answer = await self._call("chat.postMessage", call)
        return str(answer.get("ts") or "")

    async def update(
        self,
        channel: str,
        ts: str,
        text: str,
        blocks: Sequence[dict[str, Any]] = (),
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Replace our message `ts`; its blocks become `blocks` (none: the plain `text` shows)."""
        call = self.client.chat_update(
            channel=channel, ts=ts, text=text, blocks=list(blocks), parse="none", link_names=False, metadata=metadata
        )
        await self._call("chat.update", call)

    async def thread(self, channel: str, thread_ts: str, after: str) -> list[Mapping[str, Any]]:
        """Messages of the thread `thread_ts` ("" = the channel's top level, from `after` on),
        with their metadata: conversations.replies, or conversations.history for top-level DMs."""
        if thread_ts:
            call = self.client.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
            )
            method = "conversations.replies"
        else:
            call = self.client.conversations_history(
                channel=channel, oldest=after, include_all_metadata=True, limit=200
            )
            method = "conversations.history"
        found = (await self._call(method, call)).get("messages")
        return [m for m in found if isinstance(m, Mapping)] if isinstance(found, list) else []

    async def delete(self, channel: str, ts: str) -> None:
        await self._call("chat.delete", self.client.chat_delete(channel=channel, ts=ts))

    async def ephemeral(self, channel: str, user: str, thread_ts: str, text: str) -> None:
        call = self.client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread_ts or None, text=text, parse="none", link_names=False
        )
        await self._call("chat.postEphemeral", call)

    async def user(self, user_id: str) -> Mapping[str, Any]:
        """The `user` object of users.info ({} when Slack sends none)."""
        answer = await self._call("users.info", self.client.users_info(user=user_id))
        user = answer.get("user")
        return user if isinstance(user, Mapping) else {}

    async def _call(self, method: str, call: Awaitable[AsyncSlackResponse]) -> Mapping[str, Any]:
        try:
            response = await call
        except Exception as exc:  # every way slack_sdk and aiohttp report a failed call
            raise failure(method, exc) from exc
        data = response.data
        return data if isinstance(data, Mapping) else {}


def failure(method: str, exc: BaseException) -> ApiFailure:
    """`exc` from a call of `method` as an `ApiFailure` (the one place Web API failures pass)."""
    if isinstance(exc, ApiFailure):
        return exc
    metrics.PLATFORM_API_ERRORS.labels("slack", method).inc()
    return ApiFailure(method, reason(exc), status=_status(exc))


def reason(exc: BaseException) -> str:
    """A short, secret-free reason: Slack's error code, the HTTP status, or the error's type."""
    if isinstance(exc, ApiFailure):
        return exc.reason
    if isinstance(exc, SlackApiError):
        data = getattr(exc.response, "data", None)
        error = data.get("error") if isinstance(data, Mapping) else None
        if isinstance(error, str) and error:
            return error[:100]
        status = _status(exc)
        return f"HTTP {status}" if status else "unexpected answer"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return type(exc).__name__  # e.g. ServerDisconnectedError, ClientConnectorError
    return f"unexpected answer ({type(exc).__name__})"  # slack_sdk reading a body that is not JSON


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else 0


def _retry_after(headers: Mapping[str, Sequence[str] | str]) -> float:
    for name, values in headers.items():
        if name.lower() == "retry-after":
            value = values if isinstance(values, str) else (values[0] if values else "")
            try:
                return max(1.0, min(float(value), 3600.0))
            except ValueError:
                break
    return 1.0
