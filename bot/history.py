"""A conversation's stored turns → the prompt for its next reply."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.events import Author, ChannelRef
from bot.prompt import Prompt, Transcript, Turn
from bot.settings import ChannelSettings
from bot.store import Role, Store, StoredMessage

__all__ = ["History"]


class History:
    def __init__(self, store: Store, transcript: Transcript) -> None:
        self._store = store
        self._transcript = transcript

    async def add_user_turn(self, where: ChannelRef, author: Author, text: str, message_id: str = "") -> bool:
        """Store what a person said; False when this message was stored before (a second try)."""
        return await self._add(where, author.id, author.name, Role.USER, text, message_id)

    async def add_bot_turn(self, where: ChannelRef, bot_id: str, text: str, message_id: str = "") -> bool:
        """Store a reply that reached the platform as message `message_id`."""
        return await self._add(where, bot_id, self._transcript.bot_name, Role.BOT, text, message_id)

    async def prompt(self, where: ChannelRef, settings: ChannelSettings) -> Prompt:
        """The prompt for the bot's next turn, trimmed to the window."""
        budget = self._transcript.n_positions - settings.max_new_tokens
        # A stored line costs at least 3 tokens ("A:" + newline), so older rows can never fit.
        turns = await self._store.recent_messages(where, limit=budget // 3 + 1)
        return self._transcript.build(settings.persona, [_turn(m) for m in turns], settings.max_new_tokens)

    async def _add(self, where: ChannelRef, author_id: str, name: str, role: Role, text: str, message_id: str) -> bool:
        message = StoredMessage(
            author_id=author_id,
            author_name=name[:100],
            role=role,
            text=text,
            created_at=datetime.now(UTC),
            message_id=message_id,
        )
        return await self._store.add_message(where, message)


def _turn(message: StoredMessage) -> Turn:
    return Turn(message.author_name, message.text)
