"""`ReplyPreview`: shows a reply while it is being written, safely and within rate limits.

The queue hands over the text so far as it grows (`update`, on the event loop). A task of
its own shows it through `Outbox.preview`:

* not before `interval_s` after the generation started, then at most once per `interval_s`
  (Discord and Slack allow about one edit a second), so a quick reply is never previewed;
* only text the output check allows as it stands (`allows`), stripped, marked as unfinished.
  Each check reads only what is new since the last text that passed, plus the sentence it
  continues (at least `OVERLAP` characters back), so a reply costs about one full check
  however often it is previewed;
* one platform call at a time, always the latest text (lengths in between are skipped);
* `close()` stops it and waits for a call in flight (at most `CLOSE_WAIT_S`, then cancels
  it), so a late preview can never overwrite the finished reply sent after it, and a
  platform's long rate-limit wait never holds up the conversation.

A failing preview is logged and previewing stops; the reply itself is not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from bot import messages
from bot.events import Outbox

__all__ = ["CLOSE_WAIT_S", "OVERLAP", "ReplyPreview", "check_window"]

log = logging.getLogger(__name__)

OVERLAP = 200  # characters of already-checked text each new check reads again, at least
CLOSE_WAIT_S = 2.0
_SENTENCE_END = re.compile(r"[.!?\n]")


def check_window(text: str, checked: int) -> int:
    """Where the check of `text` must start when `text[:checked]` passed: the start of the
    sentence that runs across `checked`, or `OVERLAP` characters back if that is earlier."""
    if checked <= 0:
        return 0
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, checked)]
    sentence = ends[-1] if ends else 0
    return max(0, min(sentence, checked - OVERLAP))


Allows = Callable[[str], Awaitable[bool]]


class ReplyPreview:
    def __init__(self, outbox: Outbox, allows: Allows | None, interval_s: float) -> None:
        self._outbox = outbox
        self._allows = allows
        self._interval_s = interval_s
        loop = asyncio.get_running_loop()
        self._next_at = loop.time() + interval_s
        self._latest = ""
        self._tried = ""  # the last text checked (shown or held back)
        self._passed = ""  # the longest text that passed the check
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.shown = 0  # previews delivered

    def update(self, text: str) -> None:
        """The reply's text so far (from the queue's `on_text`)."""
        if self._closing.is_set():
            return
        self._latest = text
        self._changed.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop previewing; returns once no preview call is in flight."""
        self._closing.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=CLOSE_WAIT_S)
        if not done:
            log.warning("a reply preview was still being shown after %.0f s; cancelled", CLOSE_WAIT_S)
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            delay = self._next_at - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
                continue
            text = self._latest.strip()
            if not text or text == self._tried:
                self._changed.clear()
                await _first(self._changed.wait(), self._closing.wait())
                continue
            self._next_at = loop.time() + self._interval_s
            try:
                if not await self._show(text):
                    return
            except Exception:
                log.warning("reply preview failed; the reply is shown when it is done", exc_info=True)
                return

    async def _show(self, text: str) -> bool:
        """Show `text` if the check allows it; False once closing or held back."""
        self._tried = text
        if self._allows is not None:
            checked = len(self._passed) if text.startswith(self._passed) else 0
            if not await self._allows(text[check_window(text, checked) :]):
                return not self._closing.is_set()  # held back; the next, longer text is checked again
            self._passed = text
        if self._closing.is_set():
            return False
        await self._outbox.preview(messages.preview(text))
        self.shown += 1
        return True


async def _first(*waits: Awaitable[bool]) -> None:
    """Return when the first of `waits` does; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
