"""The inbox as the Discord adapter uses it: claims that never raise.

A failing inbox (the database is down) must not cost a reply: `claim` then says None and
the message is handled anyway, just not durably (answering twice beats never answering);
`done` and `release` of such a message do nothing. Every failure is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.inbox import Claim, Inbox

__all__ = ["PLATFORM", "Claims"]

log = logging.getLogger(__name__)

PLATFORM = "discord"


class Claims:
    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    @staticmethod
    def key(message_id: str) -> str:
        return f"{PLATFORM}:{message_id}"

    async def claim(self, key: str, route: Mapping[str, str]) -> Claim | None:
        """The inbox's answer; None when the inbox failed."""
        try:
            return await self._inbox.claim(key, PLATFORM, route)
        except Exception:
            log.exception("discord: the inbox failed; handling %s anyway", key)
            return None

    async def done(self, key: str, claim: Claim | None) -> None:
        if claim is None:
            return
        try:
            await self._inbox.done(key)
        except Exception:
            log.exception("discord: could not mark %s answered in the inbox", key)

    async def release(self, key: str, claim: Claim | None) -> None:
        """Give the message back unanswered: any process (this one after a restart) may take it."""
        if claim is None:
            return
        try:
            await self._inbox.release(key)
        except Exception:
            log.exception("discord: could not hand %s back to the inbox", key)
