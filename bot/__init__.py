"""gpt2bot: GPT-2 in Discord and Slack. The package's own version comes from its installed metadata."""

from __future__ import annotations

from importlib import metadata

__all__ = ["version"]


def version() -> str:
    try:
        return metadata.version("gpt2bot")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
