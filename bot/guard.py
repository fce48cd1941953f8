"""The safety seam the chat pipeline depends on; `bot.safety` implements it.

The handler asks two questions, one per direction, and acts on the answer:
input blocked → refusal with a reference id (or a supportive message for self-harm);
output blocked → regenerate, then a canned reply; redacted → use `Check.text`.
An exception from `check_output` means the check could not run: nothing generated is
posted (fail closed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from bot.events import Command, Event, Reply

__all__ = ["Action", "Check", "Guard"]


class Action(enum.Enum):
    ALLOW = "allow"
    FLAG = "flag"  # allowed, logged for moderators
    REDACT = "redact"  # allowed with parts replaced (`[email]`, `****`): use Check.text
    BLOCK = "block"


@dataclass(frozen=True)
class Check:
    action: Action
    text: str  # the text to use from here on (redacted or censored where the policy says so)
    ref: str = ""  # moderation-log reference shown to the user on a block ("" when nothing was logged)
    self_harm: bool = False  # a blocked input about self-harm gets a supportive answer, not a refusal


class Guard(Protocol):
    async def check_input(self, event: Event) -> Check:
        """Check what a person sent before it is stored or shown to the model."""
        ...

    async def check_output(self, text: str, event: Event, attempt: int) -> Check:
        """Check a generated reply before it is posted; `attempt` counts regenerations from 0."""
        ...

    async def allows_preview(self, text: str, event: Event) -> bool:
        """True when partial generated `text` may be shown as it stands: the output check
        allows it unchanged. Nothing is logged (the finished reply is checked as usual)."""
        ...

    async def run_command(self, args: str, command: Command) -> Reply:
        """The `safety ...` subcommands."""
        ...
