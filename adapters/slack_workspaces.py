"""What the Slack adapter keeps per workspace: a Web API client with that workspace's bot token,
its people (who is an admin) and its preview pace (Slack's rate limits count per workspace).

With one bot token (the default) there is one of each. With installs in many workspaces
(`slack_installs`) the token of each is looked up when a reply is due; a workspace whose
token changed (it installed the app again) gets fresh ones.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator

from adapters.slack_people import People
from adapters.slack_web import PreviewPace, RateLimitWatch, SlackWeb, web_client

__all__ = ["MAX_WORKSPACES", "Workspace", "Workspaces"]

MAX_WORKSPACES = 1000  # kept at once; the least recently used beyond this are rebuilt when needed


@dataclass(frozen=True)
class Workspace:
    web: SlackWeb
    people: People
    pace: PreviewPace


class Workspaces:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        admin_users: Sequence[str],
        backoff: RetryIntervalCalculator,
        token: Callable[[str], Awaitable[str]],
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._admin_users = admin_users
        self._backoff = backoff
        self._token = token  # team id -> its bot token ("" = not installed)
        self._kept: OrderedDict[str, Workspace] = OrderedDict()  # by token

    async def get(self, team: str) -> Workspace | None:
        """`team`'s workspace, or None when the app is not installed there."""
        token = await self._token(team)
        if not token:
            return None
        found = self._kept.get(token)
        if found is None:
            watch = RateLimitWatch()
            web = SlackWeb(web_client(token, self._base_url, self._session, watch, backoff=self._backoff))
            found = Workspace(web, People(web, self._admin_users), PreviewPace(watch))
            self._kept[token] = found
            if len(self._kept) > MAX_WORKSPACES:
                self._kept.popitem(last=False)
        self._kept.move_to_end(token)
        return found
