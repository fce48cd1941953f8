"""How the core's replies reach Slack: `Outbox` for messages and for slash commands.

A message is answered in its thread. While the core generates, a placeholder
("thinking…") stands in that thread; previews of a slow reply replace its text with
`chat.update` (or post it, when placeholders are off), and the first chunk of the reply
replaces it for good; further chunks follow as thread replies. The standing message is
forgotten only once something replaced it: when the final update fails (after slack_sdk's
retries), the reply is posted instead and the placeholder deleted; when that fails too,
the failure is logged with the reply's reference and the placeholder is deleted, so no
"thinking…" stays behind. A standing message no reply replaced is deleted when the
handling ends, or, when the bot stops mid-reply, turned into a short "restarting" note.
`send` never raises for Slack failures: it returns None when the reply did not arrive.

Each message standing in for a reply carries Slack message metadata naming the message it
answers and whether the reply is complete (`REPLY_EVENT`). So when a process dies mid-reply,
the next one (`earlier_reply`) finds what it left: a reply that did arrive is not sent a
second time, and a placeholder, preview or "restarting" note is reused for the reply
instead of standing there forever.

Generated text goes out as plain text (see `slack_render.plain_blocks`); the bot's own
answers (commands, refusals) keep Slack's formatting. Slash-command answers are
ephemeral: through the command's `response_url`, or `chat.postEphemeral` when that fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack_render import MAX_CHARS, plain_blocks, render
from adapters.slack_web import ApiFailure, PreviewPace, SlackWeb, reason
from bot import messages
from bot.events import Reply, ReplyKind

__all__ = ["REPLY_EVENT", "CommandOutbox", "EarlierReply", "ThreadOutbox", "earlier_reply"]

log = logging.getLogger(__name__)

REPLY_EVENT = "gpt2bot_reply"  # metadata event type: {"answers": the message's ts, "done": reply complete}


@dataclass(frozen=True)
class EarlierReply:
    """Our message in a thread from an earlier try at answering a message."""

    ts: str
    done: bool  # the reply arrived; otherwise it is a placeholder, preview or note to reuse


async def earlier_reply(web: SlackWeb, channel: str, thread_ts: str, answering: str) -> EarlierReply | None:
    """What an earlier try at answering message `answering` left in its thread, if anything."""
    found: EarlierReply | None = None
    for message in await web.thread(channel, thread_ts, after=answering):
        metadata = message.get("metadata")
        if not isinstance(metadata, Mapping) or metadata.get("event_type") != REPLY_EVENT:
            continue
        payload = metadata.get("event_payload")
        if isinstance(payload, Mapping) and payload.get("answers") == answering:
            found = EarlierReply(str(message.get("ts") or ""), payload.get("done") is True)
    return found


def _blocks(kind: ReplyKind, chunk: str) -> Sequence[dict[str, Any]]:
    """Generated text is shown exactly as written; the bot's own texts may use formatting."""
    return plain_blocks(chunk) if kind is ReplyKind.CHAT else ()


class ThreadOutbox:
    """Replies to one message, in `thread_ts` ("" = top level, used for DMs)."""

    def __init__(
        self,
        web: SlackWeb,
        *,
        channel: str,
        thread_ts: str,
        user: str,
        answering: str = "",
        placeholder: str = "",
        pace: PreviewPace | None = None,
        earlier: str = "",
        limit: int = MAX_CHARS,
    ) -> None:
        self._web = web
        self._channel = channel
        self._thread_ts = thread_ts
        self._user = user
        self._answering = answering  # ts of the message this replies to
        self._placeholder = placeholder
        self._pace = pace
        self._limit = limit
        self._standing = earlier  # ts of our placeholder, preview or note, until a reply replaced it

    def working(self) -> AbstractAsyncContextManager[None]:
        return self._working()

    @asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        if self._placeholder:
            try:
                if self._standing:  # left by an earlier try: "thinking…" again
                    await self._web.update(self._channel, self._standing, self._placeholder, (), self._meta(False))
                else:
                    self._standing = await self._web.post(
                        self._channel, self._thread_ts, self._placeholder, (), self._meta(False)
                    )
            except ApiFailure as exc:  # the reply itself may still get through
                log.warning("slack: placeholder in %s failed (%s)", self._channel, exc.reason)
        yield

    async def preview(self, text: str) -> None:
        """Show the reply so far in the standing message (posting one if there is none yet).
        Skipped while Slack rate-limits us or the workspace's preview budget is spent."""
        chunks = render(text, self._limit)
        if not chunks or (self._pace is not None and not self._pace.allows()):
            return
        blocks, meta = plain_blocks(chunks[0]), self._meta(False)
        try:
            if self._standing:
                await self._web.update(self._channel, self._standing, chunks[0], blocks, meta)
            else:
                self._standing = await self._web.post(self._channel, self._thread_ts, chunks[0], blocks, meta)
        except ApiFailure as exc:
            log.info("slack: preview in %s not shown (%s)", self._channel, exc.reason)

    async def send(self, reply: Reply) -> str | None:
        chunks = render(reply.text, self._limit)
        if not chunks:
            log.info("slack: empty %s reply in %s not sent", reply.kind.value, self._channel)
            return None
        if reply.ephemeral:
            return await self._send_ephemeral(reply, chunks)
        first = await self._replace_standing(reply, chunks[0])
        if first is None:
            return None
        for chunk in chunks[1:]:
            try:
                await self._web.post(self._channel, self._thread_ts, chunk, _blocks(reply.kind, chunk))
            except ApiFailure as exc:
                log.error(
                    "slack: reply to %s in %s cut short: a later part failed (%s)", self._ref(reply), self._channel, exc
                )
                break
        return first

    async def close(self) -> None:
        """Delete a standing message no reply replaced (the core chose not to answer)."""
        await self._remove_standing()

    async def abandon(self, answer_later: bool) -> None:
        """The bot is stopping mid-reply: leave a "restarting" note where the reply was coming."""
        if not self._standing:
            return
        note = messages.restarting(answer_later)
        try:
            await self._web.update(self._channel, self._standing, note, (), self._meta(False))
        except ApiFailure as exc:
            log.warning("slack: restarting note in %s failed (%s); deleting the placeholder", self._channel, exc.reason)
            await self._remove_standing()
            return
        self._standing = ""

    # --- helpers -----------------------------------------------------------------------

    async def _replace_standing(self, reply: Reply, chunk: str) -> str | None:
        """Show `chunk` in place of the standing message, or posted after it; its ts, or None."""
        blocks, meta = _blocks(reply.kind, chunk), self._meta(True)
        if self._standing:
            try:
                await self._web.update(self._channel, self._standing, chunk, blocks, meta)
            except ApiFailure as exc:  # e.g. someone deleted it, or Slack is overloaded: post instead
                log.warning("slack: updating the placeholder in %s failed (%s); posting the reply", self._channel, exc)
            else:
                ts, self._standing = self._standing, ""
                return ts
        try:
            ts = await self._web.post(self._channel, self._thread_ts, chunk, blocks, meta)
        except ApiFailure as exc:
            log.error("slack: reply to %s in %s was not delivered (%s)", self._ref(reply), self._channel, exc)
            await self._remove_standing()
            return None
        await self._remove_standing()
        return ts

    async def _send_ephemeral(self, reply: Reply, chunks: list[str]) -> str | None:
        try:
            for chunk in chunks:
                await self._web.ephemeral(self._channel, self._user, self._thread_ts, chunk)
        except ApiFailure as exc:
            log.error("slack: answer to %s in %s was not delivered (%s)", self._ref(reply), self._channel, exc)
            return None
        return ""

    async def _remove_standing(self) -> None:
        ts, self._standing = self._standing, ""
        if not ts:
            return
        try:
            await self._web.delete(self._channel, ts)
        except ApiFailure as exc:
            log.error("slack: placeholder %s in %s could not be removed (%s)", ts, self._channel, exc.reason)

    def _ref(self, reply: Reply) -> str:
        return f"message {reply.reply_to or self._answering or '?'}"

    def _meta(self, done: bool) -> dict[str, Any] | None:
        if not self._answering:
            return None
        return {"event_type": REPLY_EVENT, "event_payload": {"answers": self._answering, "done": done}}


class CommandOutbox:
    """Answers one `/gpt2` command, visible only to the person who ran it."""

    def __init__(
        self,
        web: SlackWeb,
        *,
        response_url: str,
        channel: str,
        user: str,
        limit: int = MAX_CHARS,
    ) -> None:
        self._web = web
        self._response_url = response_url
        self._channel = channel
        self._user = user
        self._limit = limit

    def working(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # the command was acknowledged; nothing to show meanwhile

    async def preview(self, text: str) -> None:
        """Command answers are not generated text: nothing to preview."""

    async def send(self, reply: Reply) -> str | None:
        for chunk in render(reply.text, self._limit):
            if await self._respond(chunk):
                continue
            try:
                await self._web.ephemeral(self._channel, self._user, "", chunk)
            except ApiFailure as exc:
                log.error("slack: answer to a /gpt2 command in %s was not delivered (%s)", self._channel, exc)
                return None
        return ""

    async def _respond(self, text: str) -> bool:
        if not self._response_url:
            return False
        webhook = AsyncWebhookClient(self._response_url, session=self._web.client.session, timeout=10)
        try:
            response = await webhook.send(text=text, response_type="ephemeral")
        except Exception as exc:  # every way the webhook call can fail: fall back to chat.postEphemeral
            log.warning("slack: response_url failed (%s); using chat.postEphemeral", reason(exc))
            return False
        if response.status_code != 200:
            log.warning("slack: response_url answered %s; using chat.postEphemeral", response.status_code)
            return False
        return True
