"""The adapter's Web API client: slack_sdk's retry handlers, and every failure one `ApiFailure`."""

from __future__ import annotations

import time

import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from adapters.slack_web import ApiFailure, PreviewPace, RateLimitWatch
from bot import metrics
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_rig import slack_web


async def test_a_rate_limited_call_waits_for_retry_after_then_goes_through() -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        api.rate_limit("chat.postMessage", retry_after=1)
        started = time.monotonic()
        ts = await web.post("C1", "1.1", "hello")
        assert time.monotonic() - started >= 1.0  # Slack's Retry-After was honoured
        assert ts and [c.body["text"] for c in api.calls_to("chat.postMessage")] == ["hello", "hello"]


@pytest.mark.parametrize("body", ["text", "drop", "json"])
async def test_server_errors_and_dropped_connections_are_retried(body: str) -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        api.fail("chat.update", "internal_error", status=500, body=body, times=2)
        await web.update("C1", "1.1", "hello")
        assert len(api.calls_to("chat.update")) == 3


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, "json", "channel_not_found"),  # Slack's ok: false
        (500, "json", "channel_not_found"),
        (429, "json", "ratelimited"),
        (500, "text", "HTTP 500"),  # a plain-text error page
        (502, "text", "HTTP 502"),
        (200, "text", "unexpected answer (AttributeError)"),  # slack_sdk cannot read a plain-text 200
        (500, "drop", "ServerDisconnectedError"),
    ],
)
async def test_what_fails_after_the_retries_is_one_api_failure_with_a_short_reason(
    status: int, body: str, reason: str
) -> None:
    labels = {"platform": "slack", "method": "chat.postMessage"}
    errors_before = sample("gpt2bot_platform_api_errors_total", labels)
    limited_before = sample("gpt2bot_platform_rate_limited_total", labels)
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        error = "ratelimited" if status == 429 else "channel_not_found"
        api.fail("chat.postMessage", error, status=status, body=body, times=3, retry_after=0)
        with pytest.raises(ApiFailure) as caught:
            await web.post("C1", "", "hello")
        assert (caught.value.method, caught.value.reason) == ("chat.postMessage", reason)
        assert caught.value.rate_limited == (status == 429)
    assert sample("gpt2bot_platform_api_errors_total", labels) == errors_before + 1  # counted for /metrics
    assert sample("gpt2bot_platform_rate_limited_total", labels) - limited_before == (3 if status == 429 else 0)


def sample(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_users_info_answers_the_user_object() -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        api.add_user("U1", "Alice")
        assert (await web.user("U1"))["name"] == "alice"


async def test_the_watch_notes_every_429_and_previews_pause_for_it() -> None:
    now = [100.0]
    watch = RateLimitWatch(clock=lambda: now[0])
    pace = PreviewPace(watch, clock=lambda: now[0])
    request = HttpRequest(method="POST", url="https://slack.com/api/chat.update", headers={})
    limited = HttpResponse(status_code=429, headers={"Retry-After": "3"})
    retried = await watch.can_retry_async(state=RetryState(), request=request, response=limited)
    assert retried is False  # it only watches: slack_sdk's own handler does the retrying
    assert watch.limited("chat.update") and not watch.limited("chat.postMessage")
    assert not pace.allows()
    now[0] += 3.5
    assert pace.allows()


def test_previews_share_a_budget_below_chat_update_s_limit() -> None:
    now = [0.0]
    pace = PreviewPace(RateLimitWatch(clock=lambda: now[0]), clock=lambda: now[0])
    shown = 0
    for _ in range(600):  # one attempt every 0.1 s for a minute, as 6 replies previewing each second would
        shown += pace.allows()
        now[0] += 0.1
    assert 40 <= shown <= 50  # Tier 3: about 50 chat.update calls a minute per workspace
