"""`/gpt2 <subcommand>`: the core's command grammar as one Discord slash command.

The subcommands mirror `bot.commands.COMMANDS` (a test keeps them equal) with typed
options; `key` options autocomplete from `bot.settings.SETTINGS`. An interaction's
options are turned back into the grammar's text (`set temperature 0.5`), so the core
parses, checks and applies Discord commands exactly like every other platform's.

Discord sets `default_member_permissions` per top-level command only, never per
subcommand, and a member needs *all* the bits in it. With `discord.restrict_commands`
(the default) `/gpt2` is therefore shown only to members with Manage Channels (and
administrators; server admins can widen it under Server Settings → Integrations).
Either way the core refuses changes from non-moderators: the check is server-side too.

Sync bulk-overwrites `/gpt2` in its scope (each configured guild, or global), which
deletes whatever else this application had registered there. The other scope keeps what
an older configuration put there, and Discord shows both copies: so a guild sync deletes
the global `/gpt2`, and a global sync deletes the guild copies in the servers the bot is
in (`remove_guild_copies`, after the servers have arrived). `kind_of` tells an
interaction for the live `/gpt2` from a stale copy's and from anything else.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot import messages
from bot.settings import SETTINGS

__all__ = [
    "NAME",
    "SUBCOMMANDS",
    "Kind",
    "Option",
    "autocomplete_choices",
    "command_payload",
    "command_text",
    "forget",
    "kind_of",
    "remove_guild_copies",
    "sync",
]

log = logging.getLogger(__name__)

NAME = "gpt2"
CHAT_INPUT = 1  # application command type of slash commands
STRING = 3  # application command option type
SUBCOMMAND = 1
MAX_CHOICES = 25  # Discord's limit for autocomplete answers
_GUILD, _BOT_DM = 0, 1  # interaction context types


@dataclass(frozen=True)
class Option:
    name: str
    required: bool = True
    autocomplete: bool = False
    max_length: int = 0


SUBCOMMANDS: dict[str, tuple[Option, ...]] = {
    "help": (),
    "status": (),
    "show": (),
    "reset": (),
    "enable": (),
    "disable": (),
    "set": (Option("key", autocomplete=True), Option("value", max_length=500)),
    "unset": (Option("key", autocomplete=True),),
    "persona": (Option("text", required=False, max_length=500),),
    "safety": (Option("args", required=False, max_length=200),),
}


def command_payload(*, restrict: bool, allow_dms: bool, global_scope: bool) -> dict[str, Any]:
    """The `/gpt2` application command as Discord's bulk-overwrite endpoint takes it."""
    payload: dict[str, Any] = {
        "name": NAME,
        "type": 1,
        "description": messages.DISCORD_COMMAND,
        "options": [
            {
                "type": SUBCOMMAND,
                "name": name,
                "description": messages.DISCORD_SUBCOMMANDS[name],
                "options": [_option_payload(option) for option in options],
            }
            for name, options in SUBCOMMANDS.items()
        ],
        "default_member_permissions": str(discord.Permissions(manage_channels=True).value) if restrict else None,
        "nsfw": False,
    }
    if global_scope:  # contexts only apply to global commands; guild commands live in the guild
        payload["integration_types"] = [0]
        payload["contexts"] = [_GUILD, _BOT_DM] if allow_dms else [_GUILD]
    return payload


def _option_payload(option: Option) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": STRING,
        "name": option.name,
        "description": messages.DISCORD_OPTIONS[option.name],
        "required": option.required,
    }
    if option.autocomplete:
        data["autocomplete"] = True
    if option.max_length:
        data["max_length"] = option.max_length
    return data


def _subcommand(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if data.get("name") != NAME:
        return None
    options = data.get("options") or []
    if not options or options[0].get("type") != SUBCOMMAND:
        return None
    sub: Mapping[str, Any] = options[0]
    return sub


class Kind(enum.Enum):
    OURS = "ours"  # the live /gpt2 with a subcommand: run it
    STALE = "stale"  # /gpt2 registered in the scope the bot no longer syncs to
    FOREIGN = "foreign"  # another command name, a subcommand group, a component: not ours


def kind_of(data: Mapping[str, Any], guild_ids: Sequence[str]) -> Kind:
    """What an application command interaction's `data` is, with `/gpt2` synced to
    `guild_ids` (empty: global). `data["guild_id"]` names the guild a command is registered in."""
    if data.get("name") != NAME or data.get("type", CHAT_INPUT) != CHAT_INPUT:
        return Kind.FOREIGN
    registered_in = data.get("guild_id")
    live = registered_in is None if not guild_ids else str(registered_in) in guild_ids
    if not live:
        return Kind.STALE
    return Kind.OURS if _subcommand(data) is not None else Kind.FOREIGN


def command_text(data: Mapping[str, Any]) -> str | None:
    """`set temperature 0.5` from an interaction's data; None if it is not a `/gpt2` command."""
    sub = _subcommand(data)
    if sub is None:
        return None
    values = {o["name"]: o.get("value") for o in sub.get("options") or []}
    order = [o.name for o in SUBCOMMANDS.get(sub["name"], ())] or list(values)
    parts = [str(sub["name"])] + [str(values[name]).strip() for name in order if values.get(name) not in (None, "")]
    return " ".join(part for part in parts if part)


def autocomplete_choices(data: Mapping[str, Any]) -> list[discord.app_commands.Choice[str]]:
    """Setting keys matching what the user has typed into a focused `key` option."""
    sub = _subcommand(data)
    focused = next((o for o in (sub or {}).get("options") or [] if o.get("focused")), None)
    if focused is None or focused.get("name") != "key":
        return []
    typed = str(focused.get("value") or "").strip().lower()
    matches = [spec for key, spec in SETTINGS.items() if typed in key]
    return [
        discord.app_commands.Choice(name=f"{spec.key} — {spec.help}"[:100], value=spec.key)
        for spec in matches[:MAX_CHOICES]
    ]


async def sync(client: discord.Client, guild_ids: Sequence[str], *, restrict: bool, allow_dms: bool) -> None:
    """Overwrite our commands: in each configured guild (instant), or globally. A guild sync
    also deletes a global `/gpt2` left by an earlier global sync."""
    app_id = _app_id(client)
    if guild_ids:
        payload = [command_payload(restrict=restrict, allow_dms=allow_dms, global_scope=False)]
        for guild_id in guild_ids:
            await client.http.bulk_upsert_guild_commands(app_id, int(guild_id), payload)
        for command in await client.http.get_global_commands(app_id):
            if _is_ours(command):
                await client.http.delete_global_command(app_id, int(command["id"]))
                log.info("discord: deleted the global /%s left by an earlier global sync", NAME)
    else:
        payload = [command_payload(restrict=restrict, allow_dms=allow_dms, global_scope=True)]
        await client.http.bulk_upsert_global_commands(app_id, payload)


async def remove_guild_copies(client: discord.Client, guild_ids: Iterable[int]) -> int:
    """With a global sync: delete `/gpt2` copies an earlier guild sync left in these guilds;
    how many were deleted."""
    app_id = _app_id(client)
    removed = 0
    for guild_id in guild_ids:
        for command in await client.http.get_guild_commands(app_id, guild_id):
            if _is_ours(command):
                await client.http.delete_guild_command(app_id, guild_id, int(command["id"]))
                removed += 1
    if removed:
        log.info(
            "discord: deleted %d server cop%s of /%s left by an earlier sync",
            removed,
            "y" if removed == 1 else "ies",
            NAME,
        )
    return removed


async def forget(client: discord.Client, data: Mapping[str, Any]) -> None:
    """Delete the stale registration an interaction came from (its id, in its guild or global)."""
    app_id = _app_id(client)
    command_id = int(data["id"])
    if data.get("guild_id") is not None:
        await client.http.delete_guild_command(app_id, int(data["guild_id"]), command_id)
    else:
        await client.http.delete_global_command(app_id, command_id)
    log.info("discord: deleted a stale /%s (command %s) someone had just used", NAME, command_id)


def _is_ours(command: Mapping[str, Any]) -> bool:
    return command.get("name") == NAME and command.get("type", CHAT_INPUT) == CHAT_INPUT


def _app_id(client: discord.Client) -> int:
    if client.application_id is None:
        raise RuntimeError("application id unknown: sync after login")
    return client.application_id
