"""Every user-visible string, in one place, so tone stays consistent and translation is easy.

Functions take the values they show; nothing here knows where the text goes.
Sections for adapters and safety follow the core's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.inference.types import ModelInfo, QueueStats, RemoteStatus

__all__ = [
    "BUSY",
    "DEMO_BANNER",
    "DEMO_WARNING",
    "DISCORD_COMMAND",
    "DISCORD_FOREIGN_COMMAND",
    "DISCORD_OPTIONS",
    "DISCORD_STALE_COMMAND",
    "DISCORD_SUBCOMMANDS",
    "EMPTY_REPLY",
    "ERROR",
    "HELP",
    "NOT_MODERATOR",
    "OUTPUT_BLOCKED",
    "SAFETY_LOG_EMPTY",
    "SAFETY_NOT_MODERATOR",
    "SAFETY_UNAVAILABLE",
    "SAFETY_USAGE",
    "SELF_HARM_SUPPORT",
    "SLACK_THINKING",
    "TIMEOUT",
    "Conversation",
    "bad_value",
    "batch_lowered",
    "enabled_changed",
    "history_trimmed",
    "input_blocked",
    "input_too_long",
    "persona_set",
    "prefix_cache_lowered",
    "preview",
    "rate_limited",
    "remote_lines",
    "remote_not_applied",
    "remote_ready",
    "remote_rejected",
    "remote_state",
    "remote_unsupported",
    "reset_done",
    "restarting",
    "safety_below_floor",
    "safety_changed",
    "safety_log_line",
    "safety_show",
    "safety_test",
    "safety_test_too_long",
    "safety_unknown",
    "safety_usage",
    "setting_changed",
    "setting_unset",
    "show",
    "status",
    "trimmed_notice",
    "unknown_command",
    "unknown_setting",
    "usage",
    "with_notice",
]

# --- core -------------------------------------------------------------------------------

DEMO_WARNING = "demo model: random weights, replies are random text"
DEMO_BANNER = (
    "*** DEMO MODEL: GPT-2 with RANDOM weights. Its replies are random text, not language. ***\n"
    "*** Set model.name to gpt2, gpt2-medium, ... or a local model directory for real replies. ***"
)
BUSY = "I'm busy with other conversations right now. Please try again in a moment."
ERROR = "Sorry, something went wrong while I was answering. Please try again."
TIMEOUT = "Sorry, that took too long and I gave up. Please try again."
EMPTY_REPLY = "…"
OUTPUT_BLOCKED = "I couldn't come up with a reply that fits this channel's rules. Try rephrasing?"
SELF_HARM_SUPPORT = (
    "It sounds like you might be going through something really hard. You don't have to face it alone: "
    "please reach out to someone you trust, or a crisis line such as 988 (US), 116 123 (UK/IE Samaritans), "
    "or findahelpline.com for your country. If you're in immediate danger, call your local emergency number."
)
NOT_MODERATOR = "Only moderators can change my settings here."
SAFETY_UNAVAILABLE = "Safety filters are not available in this installation."

HELP = """\
Talk to me by mentioning me, in a DM, or anywhere in a channel where auto-reply is on.
Commands (`/gpt2 <command>`):
  help                  this text
  status                model, queue, this channel's settings and history
  show                  this channel's generation settings
  reset                 forget this conversation's history (moderators)
  enable | disable      auto-reply to every message here (moderators)
  set <key> <value>     change a setting for this channel (moderators)
  unset <key>           back to the default (moderators)
  persona [text]        show, or set (moderators), the line that sets my character here
Settings: {keys}"""


def show(values: list[tuple[str, str, bool]], auto_reply: str) -> str:
    """`/gpt2 show`: each setting as (key, value, set here)."""
    lines = [f"{key} = {value}{' *' if here else ''}" for key, value, here in values]
    lines.append(f"auto-reply = {auto_reply}")
    lines.append("(* set for this channel; the rest are defaults)")
    return "\n".join(lines)


@dataclass(frozen=True)
class Conversation:
    """What `status` says about one conversation's history."""

    stored: int  # turns in the database
    in_prompt: int  # turns the next prompt holds
    prompt_tokens: int
    budget: int  # the most prompt tokens allowed (window - max_new_tokens)


def status(
    info: ModelInfo, stats: QueueStats, conversation: Conversation, auto_reply: str, ignored: Sequence[str] = ()
) -> str:
    """`/gpt2 status`; `ignored`: this channel's settings ("top_k = 40") a remote server does not apply."""
    stored = conversation.stored
    engine = [
        f"Model: {info.name} on {info.device} ({info.dtype}, {info.n_params / 1e6:.1f}M parameters)",
        f"Queue: {stats.waiting} waiting, {stats.running} generating "
        f"(limit {stats.max_queue} waiting; batches up to {stats.max_batch}, largest so far {stats.largest_batch})",
    ]
    lines = [
        *(engine if stats.remote is None else remote_lines(info, stats, stats.remote, ignored)),
        f"This conversation: {stored} message{'s' if stored != 1 else ''} stored, "
        f"{conversation.in_prompt} in the next prompt ({conversation.prompt_tokens} of {conversation.budget} tokens)",
        f"Auto-reply: {auto_reply}",
    ]
    if stats.reused_tokens:
        share = stats.reused_tokens / max(stats.prompt_tokens, 1)
        lines.insert(
            2,
            f"Prefix cache: {stats.reused_tokens:,} of {stats.prompt_tokens:,} prompt tokens "
            f"({share:.0%}) reused from earlier turns",
        )
    if stored > conversation.in_prompt:
        lines.append(history_trimmed(stored - conversation.in_prompt))
    if info.is_demo:
        lines.insert(0, f"⚠ {DEMO_WARNING}")
    return "\n".join(lines)


def preview(text: str) -> str:
    """A reply still being written, as shown while it grows."""
    return f"{text} …"


def prefix_cache_lowered(configured_mb: int, used: int) -> str:
    """Log line when `inference.prefix_cache_mb` exceeds its share of free memory."""
    return (
        f"inference.prefix_cache_mb = {configured_mb} is more than a quarter of the free memory; "
        f"using {used // 1_000_000} MB"
    )


def batch_lowered(requested: int, used: int, cache: str) -> str:
    """Log line (for the admin) when the KV cache of `inference.max_batch` rows would not fit."""
    return (
        f"inference.max_batch = {requested} does not fit in memory; using {used}. {cache}. "
        f"Set inference.max_batch = {used} (or less) to silence this, or free memory for more."
    )


def remote_ready(server: str, url: str, model: str, n_positions: int) -> str:
    """Log line: the remote inference server answered the start-up check."""
    return f"remote inference: {server} server at {url}, model {model!r}, {n_positions}-token window"


def remote_unsupported(server: str, settings: Sequence[str]) -> str:
    """Log line at start: settings this server will not apply."""
    return (
        f"the {server} server does not apply {', '.join(settings)}: replies are generated without them, "
        "whatever a channel sets (`/gpt2 status` lists them)"
    )


def remote_rejected(server: str, settings: Sequence[str], why: str) -> str:
    """Log line: the server answered a request with a 4xx naming these settings' fields."""
    return f"the {server} server turned down {', '.join(settings)} ({why}); requests go on without them"


def remote_not_applied(server: str, setting: str, value: object) -> str:
    """Log line, once per setting: a request asked for a setting this server does not apply."""
    return f"a channel asks for {setting} = {value}, which the {server} server does not apply; replied without it"


def remote_state(state: str, detail: str) -> str:
    """Log line when the remote server's state changes."""
    return "remote inference server answers again" if state == "ok" else f"remote inference server {state}: {detail}"


def remote_lines(info: ModelInfo, stats: QueueStats, remote: RemoteStatus, ignored: Sequence[str]) -> list[str]:
    """`status` lines for a remote server: the model, the server's state and latency, requests, ignored settings."""
    where = f"Server: {remote.server} at {remote.base_url}"
    if remote.state != "ok":
        state = f"{where}: {remote.state} for {remote.since_s:.0f} s ({remote.detail})"
    elif remote.reply_p50_s is None or remote.reply_p95_s is None:
        state = f"{where}: ok, no replies yet"
    else:
        state = f"{where}: ok, replies p50 {remote.reply_p50_s:.2f} s, p95 {remote.reply_p95_s:.2f} s"
        if remote.first_text_p50_s is not None:
            state += f", first text p50 {remote.first_text_p50_s:.2f} s"
        state += f" (last {remote.replies})"
    lines = [
        f"Model: {info.name} on a remote server ({info.n_positions}-token window)",
        state,
        f"Requests: {stats.waiting} waiting, {stats.running} at the server "
        f"(at most {stats.max_batch} at once, then up to {stats.max_queue} waiting)",
    ]
    if ignored:
        lines.append(f"⚠ Not applied by this server: {', '.join(ignored)} (replies are generated without them)")
    return lines


def usage(command: str, form: str) -> str:
    return f"Usage: /gpt2 {command} {form}".rstrip()


def unknown_command(name: str, known: str) -> str:
    return f"I don't know the command `{name}`. Commands: {known}."


def unknown_setting(key: str, known: str) -> str:
    return f"There is no setting `{key}`. Settings: {known}."


def bad_value(key: str, value: str, bounds: str) -> str:
    return f"`{value}` is not a valid {key}: it must be {bounds}. Nothing was changed."


def setting_changed(key: str, old: str, new: str) -> str:
    return f"{key}: {old} → {new}"


def setting_unset(key: str, default: str) -> str:
    return f"{key} is back to the default ({default})."


def persona_set(persona: str) -> str:
    return f"Persona set: {persona}" if persona else "Persona cleared."


def enabled_changed(enabled: bool) -> str:
    if enabled:
        return "Auto-reply is on: I'll answer every message in this channel."
    return "Auto-reply is off: I'll answer only when mentioned or in DMs."


def reset_done(removed: int) -> str:
    return f"Forgot {removed} message{'s' if removed != 1 else ''} of this conversation."


def input_blocked(ref: str) -> str:
    refusal = "I can't respond to that in this channel."
    return f"{refusal} (ref {ref})" if ref else refusal


def input_too_long(limit: int) -> str:
    return f"That message is too long for me (the limit is {limit} characters)."


def rate_limited(seconds: float) -> str:
    return f"Slow down a little — try again in {max(1, round(seconds))} s."


def history_trimmed(dropped: int) -> str:
    return f"{dropped} older message{'s' if dropped != 1 else ''} no longer fit in GPT-2's 1024-token window."


def restarting(answer_later: bool) -> str:
    """Left where a reply was being written when the bot stopped (placeholder or preview)."""
    if answer_later:
        return "⏳ I'm restarting — I'll answer this as soon as I'm back."
    return "⏳ I'm restarting and lost this one — please ask again in a minute."


def trimmed_notice(kept: int) -> str:
    """Sent with the first reply whose prompt had to leave older messages out (llmcord's warning)."""
    return (
        f"⚠️ This conversation no longer fits in GPT-2's 1024-token window: from here on I only see "
        f"the last {kept} message{'s' if kept != 1 else ''}."
    )


def with_notice(text: str, notice: str) -> str:
    return f"{text}\n\n{notice}"


# --- slack ------------------------------------------------------------------------------

SLACK_THINKING = "_thinking…_"  # placeholder in the thread while a reply is generated


# --- discord ----------------------------------------------------------------------------
# Slash-command texts shown in Discord's command picker (descriptions: at most 100 chars).

DISCORD_COMMAND = "Talk to GPT-2 about its settings in this channel"
DISCORD_SUBCOMMANDS = {
    "help": "How to talk to me, and what the commands do",
    "status": "Model, queue, and this conversation's state",
    "show": "This channel's generation settings",
    "reset": "Forget this conversation's history (moderators)",
    "enable": "Answer every message in this channel (moderators)",
    "disable": "Answer only mentions, replies and DMs here (moderators)",
    "set": "Change a setting for this channel (moderators)",
    "unset": "Put a setting back to its default (moderators)",
    "persona": "Show the persona line, or set it (moderators)",
    "safety": "Safety filter settings and reports",
}
DISCORD_OPTIONS = {
    "key": "Which setting",
    "value": "The new value",
    "text": "The new persona line (leave out to see the current one)",
    "args": "What to do (see /gpt2 help)",
}
# Answers to interactions that are not the live /gpt2 (Discord shows "The application did not
# respond" to anything left unanswered).
DISCORD_FOREIGN_COMMAND = "That isn't a command of this bot (any more). Type `/gpt2 help` to see what I can do."
DISCORD_STALE_COMMAND = (
    "That was an old copy of `/gpt2`, and it is gone now. Please use the server's `/gpt2` "
    "(if you still see two, Discord may need a minute, or a restart of your app, to drop the old one)."
)


# --- safety -----------------------------------------------------------------------------
# Refusals never quote the message or name the word that matched (that teaches evasion).

SAFETY_NOT_MODERATOR = "Only moderators can use the safety commands here."
SAFETY_USAGE = """\
safety show                                   this channel's safety policy
safety preset strict|standard|relaxed         pick a preset for this channel
safety set <category> <action> [input|output] change one category (both directions if omitted)
safety words add|remove|allow <word>          block a word here, undo it, or never match it
safety links allow <domain>                   let links to a domain through
safety test <text>                            dry run: what would happen to this text
safety log [n]                                the last n moderation events here
Put `workspace` first (`safety workspace preset strict`) to change the whole server/workspace.
Categories: {categories}. Actions: allow, flag, censor, redact, block."""
SAFETY_LOG_EMPTY = "No moderation events here yet."


def safety_usage(categories: str) -> str:
    return SAFETY_USAGE.format(categories=categories)


def safety_unknown(kind: str, value: str, allowed: str) -> str:
    return f"`{value}` is not a {kind}. Choose one of: {allowed}. Nothing was changed."


def safety_below_floor(category: str, direction: str, least: str) -> str:
    return f"{category} ({direction}) can't be set below `{least}`: that is a hard floor. Nothing was changed."


def safety_changed(scope: str, what: str, version: int) -> str:
    return f"Safety ({scope}): {what}. Policy version {version}."


def safety_show(preset: str, version: str, rows: list[tuple[str, str, str]], extras: list[str]) -> str:
    lines = [f"Safety preset: {preset} (policy {version})", "category: input / output"]
    lines += [f"  {category}: {inp} / {out}" for category, inp, out in rows]
    return "\n".join(lines + extras)


def safety_test(
    direction: str, action: str, categories: str, rules: str, scores: str, text: str, why: list[str] | None = None
) -> str:
    reasons = "".join(f"\n    {line}" for line in why or [])
    return (
        f"{direction}: {action}\n  categories: {categories or '-'}\n  rules: {rules or '-'}\n"
        f"  scores: {scores or '-'}\n  why:{reasons or ' -'}\n  would post: {text}"
    )


def safety_test_too_long(length: int, limit: int) -> str:
    return f"That text is {length} characters long; `safety test` checks at most {limit}. Try a shorter excerpt."


def safety_log_line(when: str, ref: str, direction: str, action: str, categories: str, user: str) -> str:
    return f"{when} ref {ref} {direction} {action} [{categories}] user {user}"
