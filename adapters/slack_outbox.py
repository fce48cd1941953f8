"""How the core's replies reach Slack: `Outbox` for messages and for slash commands.

A message is answered in its thread. While the core generates, a placeholder
("thinking…") stands in that thread; previews of a slow reply replace its text with
`chat.update` (or post it, when placeholders are off), the first chunk of the reply
replaces it for good and further chunks follow as thread replies. A placeholder or preview
the core never replaced is deleted when the handling ends. Slash-command answers are ephemeral: through
the command's `response_url`, or `chat.postEphemeral` when that fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack_render import MAX_CHARS, render
from bot.events import Reply

__all__ = ["API_ERRORS", "CommandOutbox", "ThreadOutbox", "reason"]

log = logging.getLogger(__name__)

# What a Web API or response_url call can raise when Slack or the network fails.
API_ERRORS: tuple[type[Exception], ...] = (SlackApiError, aiohttp.ClientError, OSError, TimeoutError)

# Every message goes out with parse="none" and link_names off: the text is already
# escaped, so Slack must not turn words into mentions or links on its own.


def reason(exc: BaseException) -> str:
    """A short, secret-free reason for a failed call: Slack's error code or the type."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__


class ThreadOutbox:
    """Replies to one message, in `thread_ts` ("" = top level, used for DMs)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        user: str,
        placeholder: str = "",
        limit: int = MAX_CHARS,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts or None
        self._user = user
        self._placeholder = placeholder
        self._limit = limit
        self._placeholder_ts = ""  # set while a placeholder waits to be replaced

    def working(self) -> AbstractAsyncContextManager[None]:
        return self._working()

    @asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        if self._placeholder and not self._placeholder_ts:
            try:
                self._placeholder_ts = await self._post(self._placeholder)
            except API_ERRORS as exc:  # the reply itself may still get through
                log.warning("slack: placeholder in %s failed (%s)", self._channel, reason(exc))
        yield

    async def preview(self, text: str) -> None:
        """Show the reply so far in the placeholder (posting one if there is none yet)."""
        chunks = render(text, self._limit)
        if not chunks:
            return
        if not self._placeholder_ts:
            self._placeholder_ts = await self._post(chunks[0])
            return
        await self._update(self._placeholder_ts, chunks[0])

    async def send(self, reply: Reply) -> str | None:
        chunks = render(reply.text, self._limit)
        if not chunks:
            log.info("slack: empty %s reply in %s not sent", reply.kind.value, self._channel)
            return None
        if reply.ephemeral:
            for chunk in chunks:
                await self._client.chat_postEphemeral(
                    channel=self._channel,
                    user=self._user,
                    thread_ts=self._thread_ts,
                    text=chunk,
                    parse="none",
                    link_names=False,
                )
            return ""
        first, rest = chunks[0], chunks[1:]
        ts = await self._fill_placeholder(first)
        if not ts:
            rest = chunks
        for chunk in rest:
            posted = await self._post(chunk)
            ts = ts or posted
        return ts

    async def _post(self, text: str) -> str:
        """Post `text` in the thread; return the new message's ts."""
        posted = await self._client.chat_postMessage(
            channel=self._channel,
            thread_ts=self._thread_ts,
            text=text,
            parse="none",
            link_names=False,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(posted.get("ts") or "")

    async def _update(self, ts: str, text: str) -> None:
        """Replace the text of our message `ts` in this channel."""
        await self._client.chat_update(channel=self._channel, ts=ts, text=text, parse="none", link_names=False)

    async def _fill_placeholder(self, text: str) -> str:
        """Replace the waiting placeholder with `text`: its ts, or "" when there is none or it failed."""
        ts, self._placeholder_ts = self._placeholder_ts, ""
        if not ts:
            return ""
        try:
            await self._update(ts, text)
        except SlackApiError as exc:  # e.g. someone deleted it: post the reply instead
            log.warning("slack: updating the placeholder in %s failed (%s)", self._channel, reason(exc))
            return ""
        return ts

    async def close(self) -> None:
        """Delete a placeholder that no reply replaced (the core chose not to answer)."""
        ts, self._placeholder_ts = self._placeholder_ts, ""
        if not ts:
            return
        try:
            await self._client.chat_delete(channel=self._channel, ts=ts)
        except API_ERRORS as exc:
            log.warning("slack: deleting the placeholder in %s failed (%s)", self._channel, reason(exc))


class CommandOutbox:
    """Answers one `/gpt2` command, visible only to the person who ran it."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        response_url: str,
        channel: str,
        user: str,
        limit: int = MAX_CHARS,
    ) -> None:
        self._client = client
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
            if not await self._respond(chunk):
                await self._client.chat_postEphemeral(
                    channel=self._channel, user=self._user, text=chunk, parse="none", link_names=False
                )
        return ""

    async def _respond(self, text: str) -> bool:
        if not self._response_url:
            return False
        webhook = AsyncWebhookClient(self._response_url, session=self._client.session, timeout=10)
        try:
            response = await webhook.send(text=text, response_type="ephemeral")
        except API_ERRORS as exc:
            log.warning("slack: response_url failed (%s); using chat.postEphemeral", reason(exc))
            return False
        if response.status_code != 200:
            log.warning("slack: response_url answered %s; using chat.postEphemeral", response.status_code)
            return False
        return True
