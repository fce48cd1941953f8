"""The safety seam the chat pipeline depends on; `bot.safety.Safety` implements it.

For each message the handler asks for a `Screen`: that message's checks under the policy
in force where it was sent, looked up once. The handler acts on each `Decision`: an input
blocked → a refusal with the reference id (or a supportive answer for a person at risk);
an output blocked → regenerate, then a canned reply; otherwise post `Decision.text`, which
has marks such as `[email]` where the policy redacts. An exception from `check_output`
means the check could not run: nothing generated is posted (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.events import ChannelRef, Command, Reply

__all__ = ["Decision", "Guard", "Screen"]


@dataclass(frozen=True)
class Decision:
    blocked: bool
    text: str  # the text to use from here on (redacted or censored where the policy says so)
    ref: str = ""  # moderation-log reference shown to the user on a block ("" when nothing was logged)
    self_harm: bool = False  # a blocked input from a person at risk: answer with support, not a refusal


class Screen(Protocol):
    """One message's checks, under the policy resolved when the screen was made."""

    async def check_input(self, text: str) -> Decision:
        """Check what a person sent before it is stored or shown to the model."""
        ...

    async def check_output(self, text: str, attempt: int, final: bool) -> Decision:
        """Check a generated reply before it is posted; `attempt` counts from 0, `final` says
        that a block now means the canned reply (no regeneration follows)."""
        ...

    async def allows_preview(self, text: str) -> bool:
        """True when partial generated `text` may be shown as it stands: the output check
        allows it unchanged. Nothing is logged (the finished reply is checked as usual)."""
        ...


class Guard(Protocol):
    async def screen(self, where: ChannelRef, user_id: str) -> Screen:
        """The checks for a message from `user_id` (who is answered) in `where`."""
        ...

    async def run_command(self, args: str, command: Command) -> Reply:
        """The `safety ...` subcommands."""
        ...
