"""Who wrote a Slack message: display name and moderator status from `users.info`.

A moderator is a workspace admin or owner, or a user id listed in `slack.admin_users`.
Answers are cached briefly (admins change rarely; every message needs a name) and the
cache is bounded. When `users.info` fails the author still gets through: as last known
(an expired cache entry), else named by id and a moderator only by the config list — a
Slack outage must not grant rights, nor keep what someone said from being stored.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any

from adapters.cleaning import clean_text
from adapters.slack_web import ApiFailure, SlackWeb
from bot.events import Author

__all__ = ["People"]

log = logging.getLogger(__name__)


class People:
    """Turns Slack user ids into `Author`s, with a small time-limited cache."""

    def __init__(
        self,
        web: SlackWeb,
        admin_users: Collection[str],
        *,
        ttl_s: float = 60.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._web = web
        self._admin_users = frozenset(admin_users)
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Author]] = OrderedDict()

    async def author(self, user_id: str) -> Author:
        """The author for `user_id`; never raises for Slack API failures."""
        now = self._clock()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            user = await self._web.user(user_id)
        except ApiFailure as exc:
            if cached is not None:
                log.warning("slack: users.info failed for %s (%s); as last known", user_id, exc.reason)
                return cached[1]
            log.warning("slack: users.info failed for %s (%s); using the id as name", user_id, exc.reason)
            return Author(id=user_id, name=user_id, is_moderator=user_id in self._admin_users)
        author = self._from_user(user_id, user)
        self._remember(user_id, author, now)
        return author

    def _from_user(self, user_id: str, user: Mapping[str, Any]) -> Author:
        profile = user.get("profile")
        profile = profile if isinstance(profile, Mapping) else {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("name") or user_id
        is_admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        return Author(
            id=user_id,
            name=clean_text(str(name)),
            is_bot=bool(user.get("is_bot")),
            is_moderator=is_admin or user_id in self._admin_users,
        )

    def _remember(self, user_id: str, author: Author, now: float) -> None:
        self._cache[user_id] = (now + self._ttl_s, author)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
