"""Who wrote a message: users.info, cached, and degrading — never failing — when Slack does."""

from __future__ import annotations

import pytest

from adapters.slack_people import People
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_rig import slack_web


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "body": "text"},  # a plain-text error page: reason() used to raise on it
        {"status": 200, "body": "text"},
        {"status": 500, "body": "drop"},
        {"status": 429, "error": "ratelimited", "retry_after": 0},
        {"status": 200, "error": "user_not_found"},
    ],
)
async def test_a_failed_lookup_names_the_author_by_id_and_grants_nothing(
    failure: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        api.add_user("UADMIN", "Ada", admin=True)
        api.fail("users.info", times=9, **failure)  # type: ignore[arg-type]  # more than any retries
        people = People(web, admin_users=("ULISTED",))
        author = await people.author("UADMIN")
        assert (author.id, author.name, author.is_moderator, author.is_bot) == ("UADMIN", "UADMIN", False, False)
        assert (await people.author("ULISTED")).is_moderator  # the config list still counts
    assert all(record.exc_info is None for record in caplog.records)


async def test_a_failed_lookup_uses_what_was_known_before() -> None:
    now = [0.0]
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        api.add_user("UADMIN", "Ada", admin=True)
        people = People(web, admin_users=(), ttl_s=60, clock=lambda: now[0])
        assert (await people.author("UADMIN")).name == "Ada"
        now[0] += 61  # the cached answer expired
        api.fail("users.info", status=500, times=3)
        author = await people.author("UADMIN")
        assert (author.name, author.is_moderator) == ("Ada", True)
        assert len(api.calls_to("users.info")) == 4  # it did ask again


async def test_names_are_cleaned_like_message_text() -> None:
    async with FakeSlackApi() as api, slack_web(api) as (web, _):
        api.add_user("U1", "Al\ud800ice")
        assert (await People(web, ()).author("U1")).name == "Al\ufffdice"
