"""The `safety ...` subcommands: parse → validate → apply, answering with text.

Every subcommand is for moderators only (a dry run shows which rule matched, which
would teach evasion). Changes apply to the channel, or to the whole workspace/guild when
the arguments start with `workspace` (or `server`/`guild`); each change bumps the scope's
policy version, which later moderation events record.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot import messages
from bot.errors import CommandError, PermissionDenied
from bot.events import Author, ChannelRef
from bot.safety.categories import Action, Category, Direction, Hit, parse_action, parse_category, parse_direction
from bot.safety.links import domain_of
from bot.safety.normalise import fold
from bot.safety.policy import FLOOR, PolicyConfig, Preset, Scope
from bot.safety.store import scope_keys

if TYPE_CHECKING:  # the service imports this module
    from bot.safety.service import Safety

__all__ = ["MAX_LOG", "MAX_TEST_CHARS", "run_command"]

MAX_LOG = 50
MAX_REASONS = 12  # lines of "why" per direction in a dry run
MAX_TEST_CHARS = 2000  # like bot.max_input_chars' default: a dry run is no way around the input limit
_CATEGORIES = ", ".join(c.value for c in Category)
_WORKSPACE_WORDS = ("workspace", "server", "guild")


def _scope(where: ChannelRef, workspace: bool) -> tuple[Scope, str]:
    keys = scope_keys(where)
    if workspace:
        if not where.workspace:
            raise CommandError(messages.safety_unknown("scope here", "workspace", "channel"))
        return keys[1]
    return keys[-1]


async def _update(
    safety: Safety, where: ChannelRef, author: Author, workspace: bool, what: str, change: dict[str, object]
) -> str:
    scope, key = _scope(where, workspace)
    old = await safety.store.get_policy(scope, key) or PolicyConfig(scope, key)
    stored = await safety.store.put_policy(replace(old, **change), author.id)  # type: ignore[arg-type]
    return messages.safety_changed(scope.value, what, stored.version)


async def _set(safety: Safety, where: ChannelRef, author: Author, ws: bool, args: list[str]) -> str:
    if len(args) not in (2, 3):
        raise CommandError(messages.safety_usage(_CATEGORIES))
    category, action = parse_category(args[0]), parse_action(args[1])
    if category is None:
        raise CommandError(messages.safety_unknown("category", args[0], _CATEGORIES))
    if action is None:
        raise CommandError(messages.safety_unknown("action", args[1], "allow, flag, censor, redact, block"))
    directions = list(Direction)
    if len(args) == 3:
        direction = parse_direction(args[2])
        if direction is None:
            raise CommandError(messages.safety_unknown("direction", args[2], "input, output"))
        directions = [direction]
    for d in directions:
        least = FLOOR.get((category, d), (Action.ALLOW, 1.0))[0]
        if action < least:
            raise CommandError(messages.safety_below_floor(category.value, d.value, least.name.lower()))
    scope, key = _scope(where, ws)
    config = await safety.store.get_policy(scope, key) or PolicyConfig(scope, key)
    for d in directions:
        config = config.with_override(category, d, action)
    stored = await safety.store.put_policy(config, author.id)
    what = f"{category.value} {'/'.join(d.value for d in directions)} → {action.name.lower()}"
    return messages.safety_changed(scope.value, what, stored.version)


async def _words(safety: Safety, where: ChannelRef, author: Author, ws: bool, args: list[str]) -> str:
    if len(args) != 2 or args[0] not in ("add", "remove", "allow"):
        raise CommandError(messages.safety_usage(_CATEGORIES))
    verb, word = args[0], fold(args[1]).strip()
    if not word or len(word) > 60:
        raise CommandError(messages.safety_unknown("word", args[1][:60], "1 to 60 characters"))
    scope, key = _scope(where, ws)
    config = await safety.store.get_policy(scope, key) or PolicyConfig(scope, key)
    blocked, allowed = set(config.blocked_words), set(config.allowed_words)
    if verb == "add":
        blocked.add(word)
        allowed.discard(word)
    elif verb == "allow":
        allowed.add(word)
        blocked.discard(word)
    else:
        blocked.discard(word)
        allowed.discard(word)
    return await _update(
        safety,
        where,
        author,
        ws,
        f"words {verb} {word}",
        {"blocked_words": frozenset(blocked), "allowed_words": frozenset(allowed)},
    )


async def _links(safety: Safety, where: ChannelRef, author: Author, ws: bool, args: list[str]) -> str:
    if len(args) != 2 or args[0] != "allow":
        raise CommandError(messages.safety_usage(_CATEGORIES))
    domain = domain_of(args[1])
    if "." not in domain or " " in domain or len(domain) > 253:
        raise CommandError(messages.safety_unknown("domain", args[1][:80], "a domain like example.com"))
    scope, key = _scope(where, ws)
    config = await safety.store.get_policy(scope, key) or PolicyConfig(scope, key)
    return await _update(
        safety, where, author, ws, f"links allow {domain}", {"allowed_domains": config.allowed_domains | {domain}}
    )


async def _show(safety: Safety, where: ChannelRef) -> str:
    policy = await safety.policy(where)
    rows = []
    for c in Category:
        cells = []
        for d in Direction:
            r = policy.rule(c, d)
            cells.append(f"{r.action.name.lower()}≥{r.threshold:g}" if r.action > Action.ALLOW else "allow")
        rows.append((c.value, cells[0], cells[1]))
    extras = [
        f"blocked words: {len(policy.words.blocked)}, allowed words: {len(policy.words.allowed)}",
        f"allowed link domains: {', '.join(sorted(policy.allowed_domains)) or '-'}",
        f"content logging: {'on' if policy.log_content else 'off'}",
    ]
    return messages.safety_show(policy.preset.value, policy.version, rows, extras)


async def _test(safety: Safety, where: ChannelRef, text: str) -> str:
    if not text:
        raise CommandError(messages.safety_usage(_CATEGORIES))
    if len(text) > MAX_TEST_CHARS:
        raise CommandError(messages.safety_test_too_long(len(text), MAX_TEST_CHARS))
    policy = await safety.policy(where)
    hits = safety.checker.scan(text, policy.words, policy.allowed_domains)
    out = []
    for d in Direction:  # a dry run: nothing is logged
        v = await safety.check(text, policy, d)
        scores = ", ".join(f"{c.value} {s:.2f}" for c, s in sorted(v.scores.items(), key=lambda x: -x[1]))
        cats = ", ".join(c.value for c in v.categories)
        why = [_reason(text, h) for h in hits if h.category in v.categories and h.score > 0]
        why += [f"{c.value} {v.scores[c]:.2f} {r}" for c in v.categories for r in v.rule_ids if r.startswith("clf.")]
        out.append(
            messages.safety_test(
                d.value,
                v.action.name.lower(),
                cats,
                ", ".join(v.rule_ids),
                scores,
                v.text_out if not v.blocked else "(nothing)",
                list(dict.fromkeys(why))[:MAX_REASONS],
            )
        )
    return "\n".join(out)


def _reason(text: str, hit: Hit) -> str:
    """One line of why: category, score, rule, and the words it matched (or their place)."""
    seen = text[hit.span[0] : hit.span[1]] if hit.span else hit.match
    return (
        f"{hit.category.value} {hit.score:.2f} {hit.rule}: {seen[:80]!r}"
        if seen
        else f"{hit.category.value} {hit.score:.2f} {hit.rule}"
    )


async def _log(safety: Safety, where: ChannelRef, args: list[str]) -> str:
    try:
        n = int(args[0]) if args else 10
    except ValueError:
        raise CommandError(messages.safety_unknown("number", args[0][:20], f"1 to {MAX_LOG}")) from None
    if not 1 <= n <= MAX_LOG:
        raise CommandError(messages.safety_unknown("number", str(n), f"1 to {MAX_LOG}"))
    events = await safety.store.recent_events(where, n)
    if not events:
        return messages.SAFETY_LOG_EMPTY
    return "\n".join(
        messages.safety_log_line(
            e.created_at.strftime("%Y-%m-%d %H:%M"),
            e.ref,
            e.direction.value,
            e.action.name.lower(),
            ", ".join(c.value for c in e.categories),
            e.user_id or "(bot)",
        )
        for e in events
    )


async def run_command(safety: Safety, args: str, where: ChannelRef, author: Author) -> tuple[str, bool]:
    """Answer a `safety ...` command; returns (text, ephemeral). Raises CommandError/PermissionDenied."""
    if not author.is_moderator:
        raise PermissionDenied(messages.SAFETY_NOT_MODERATOR)
    sub, _, rest = args.strip().partition(" ")
    sub = sub.lower()
    ws = sub in _WORKSPACE_WORDS
    if ws:
        sub, _, rest = rest.strip().partition(" ")
        sub = sub.lower()
    words = rest.split()
    if sub in ("", "show", "help"):
        return (await _show(safety, where) if sub != "help" else messages.safety_usage(_CATEGORIES)), True
    if sub == "test":
        return await _test(safety, where, rest.strip()), True
    if sub == "log":
        return await _log(safety, where, words), True
    if sub == "preset":
        names = ", ".join(p.value for p in Preset)
        if len(words) != 1 or words[0].lower() not in {p.value for p in Preset}:
            raise CommandError(messages.safety_unknown("preset", " ".join(words)[:30], names))
        preset = Preset(words[0].lower())
        return await _update(safety, where, author, ws, f"preset {preset.value}", {"preset": preset}), False
    if sub == "set":
        return await _set(safety, where, author, ws, words), False
    if sub == "words":
        return await _words(safety, where, author, ws, words), False
    if sub == "links":
        return await _links(safety, where, author, ws, words), False
    raise CommandError(messages.safety_usage(_CATEGORIES))
