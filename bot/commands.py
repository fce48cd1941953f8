"""One command grammar for every platform: parse → check permission → validate → apply.

`/gpt2 <name> [args]`; the adapters hand over the text after `/gpt2` (Discord builds it
from its typed slash-command options). Read-only commands are open to everyone;
anything that changes state needs `author.is_moderator`, which the adapter decides from
the platform's permissions. Every change goes through the store, which writes the
audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot import messages
from bot.config import Config
from bot.errors import CommandError, PermissionDenied, UserError
from bot.events import Command, Reply, ReplyKind
from bot.history import History
from bot.inference.dialects import off
from bot.inference.types import Generator, QueueStats
from bot.settings import SETTINGS, ChannelSettings, SettingSpec, for_channel, format_value
from bot.store import Store

__all__ = ["COMMANDS", "MODERATOR_COMMANDS", "CommandRunner", "ParsedCommand", "SafetyCommands", "parse"]

COMMANDS = ("help", "status", "show", "reset", "enable", "disable", "set", "unset", "persona", "safety")
MODERATOR_COMMANDS = frozenset({"reset", "enable", "disable", "set", "unset"})


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: str  # the rest of the line, stripped


class SafetyCommands(Protocol):
    """The `safety ...` subcommands (provided by bot.safety)."""

    async def run_command(self, args: str, command: Command) -> Reply: ...


def parse(text: str) -> ParsedCommand:
    """Split `set temperature 0.5` into name and arguments; unknown names are refused."""
    stripped = text.strip()
    if stripped.lower().startswith("/gpt2"):
        stripped = stripped[5:].strip()
    name, _, rest = stripped.partition(" ")
    name = name.lower() or "help"
    if name not in COMMANDS:
        raise CommandError(messages.unknown_command(name, ", ".join(COMMANDS)))
    return ParsedCommand(name, rest.strip())


class CommandRunner:
    def __init__(
        self,
        config: Config,
        store: Store,
        generator: Generator,
        history: History,
        safety: SafetyCommands | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._generator = generator
        self._history = history
        self._safety = safety
        self._handlers: dict[str, Callable[[Command, str], Awaitable[Reply]]] = {
            "help": self._help,
            "status": self._status,
            "show": self._show,
            "reset": self._reset,
            "enable": self._enable,
            "disable": self._disable,
            "set": self._set,
            "unset": self._unset,
            "persona": self._persona,
            "safety": self._safety_command,
        }

    async def run(self, command: Command) -> Reply:
        """Answer a command; user errors become refusals, never exceptions."""
        try:
            parsed = parse(command.text)
            if parsed.name in MODERATOR_COMMANDS and not command.author.is_moderator:
                raise PermissionDenied(messages.NOT_MODERATOR)
            return await self._handlers[parsed.name](command, parsed.args)
        except UserError as exc:
            return Reply(exc.user_message, ReplyKind.REFUSAL, ephemeral=True, reply_to=command.message_id)

    async def settings(self, command: Command) -> ChannelSettings:
        return for_channel(self._config, await self._store.channel_state(command.where))

    # --- read-only ---------------------------------------------------------------------

    async def _help(self, command: Command, _args: str) -> Reply:
        return _answer(command, messages.HELP.format(keys=", ".join(SETTINGS)))

    async def _show(self, command: Command, _args: str) -> Reply:
        state = await self._store.channel_state(command.where)
        settings = for_channel(self._config, state)
        values = [(key, settings.value(key), key in state.overrides) for key in SETTINGS]
        return _answer(command, messages.show(values, format_value(settings.enabled)))

    async def _status(self, command: Command, _args: str) -> Reply:
        info, stats = self._generator.info, self._generator.stats()
        settings = await self.settings(command)
        stored = await self._store.count_messages(command.where)
        prompt = await self._history.prompt(command.where, settings)
        conversation = messages.Conversation(stored, prompt.turns_used, len(prompt.ids), prompt.budget)
        ignored = _not_applied(stats, settings)
        return _answer(command, messages.status(info, stats, conversation, format_value(settings.enabled), ignored))

    # --- changes (moderators) ----------------------------------------------------------

    async def _reset(self, command: Command, _args: str) -> Reply:
        self._generator.cancel_channel(command.where.key)
        removed = await self._store.clear_messages(command.where, command.author)
        return _answer(command, messages.reset_done(removed))

    async def _enable(self, command: Command, _args: str) -> Reply:
        await self._store.set_enabled(command.where, True, command.author)
        return _answer(command, messages.enabled_changed(True))

    async def _disable(self, command: Command, _args: str) -> Reply:
        await self._store.set_enabled(command.where, False, command.author)
        return _answer(command, messages.enabled_changed(False))

    async def _set(self, command: Command, args: str) -> Reply:
        key, _, raw = args.partition(" ")
        if not key or not raw.strip():
            raise CommandError(messages.usage("set", "<key> <value>") + f"\nSettings: {', '.join(SETTINGS)}")
        spec = _spec(key)
        value = format_value(spec.parse(raw))  # raises with the bounds; nothing changes
        before = await self.settings(command)
        await self._store.set_setting(command.where, spec.key, value, command.author)
        return _answer(command, messages.setting_changed(spec.key, before.value(spec.key), value))

    async def _unset(self, command: Command, args: str) -> Reply:
        if not args:
            raise CommandError(messages.usage("unset", "<key>"))
        spec = _spec(args.split()[0])
        await self._store.set_setting(command.where, spec.key, None, command.author)
        after = await self.settings(command)
        return _answer(command, messages.setting_unset(spec.key, after.value(spec.key)))

    async def _persona(self, command: Command, args: str) -> Reply:
        if not args:
            return _answer(command, f"persona = {(await self.settings(command)).value('persona')}")
        if not command.author.is_moderator:
            raise PermissionDenied(messages.NOT_MODERATOR)
        persona = str(SETTINGS["persona"].parse(args))
        await self._store.set_setting(command.where, "persona", persona, command.author)
        return _answer(command, messages.persona_set(persona))

    async def _safety_command(self, command: Command, args: str) -> Reply:
        if self._safety is None:
            raise CommandError(messages.SAFETY_UNAVAILABLE)
        return await self._safety.run_command(args, command)


def _not_applied(stats: QueueStats, settings: ChannelSettings) -> tuple[str, ...]:
    """This channel's settings, as "key = value", that the remote server does not apply (off ones don't matter)."""
    if stats.remote is None:
        return ()
    keys = [key for key in stats.remote.not_applied if not off(key, getattr(settings, key))]
    return tuple(f"{key} = {settings.value(key)}" for key in keys)


def _spec(key: str) -> SettingSpec:
    spec = SETTINGS.get(key.lower())
    if spec is None:
        raise CommandError(messages.unknown_setting(key, ", ".join(SETTINGS)))
    return spec


def _answer(command: Command, text: str) -> Reply:
    """Command answers are shown only to the person who asked, where the platform allows."""
    return Reply(text, ReplyKind.COMMAND, ephemeral=True, reply_to=command.message_id)
