"""Wire payloads shaped like real Discord's (API v10), for the fake gateway and REST server.

Field sets follow discord.py 2.7's `discord/types/*` TypedDicts (user, member, role,
channel, threads, guild, message, interactions), including the keys discord.py reads
unconditionally. One small fixed world is described by `World`: a guild with roles,
two text channels, a thread, an archived thread the gateway never announced (only REST
knows it), members (a plain member, a Manage Channels member, a member with a configured
moderator role, another bot) and a DM channel. The bot has its managed integration role,
as every bot added with permissions does (`<@&role>` mentions of it count as mentions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MANAGE_CHANNELS",
    "MANAGE_GUILD",
    "Person",
    "World",
    "guild_payload",
    "interaction_payload",
    "member_payload",
    "message_payload",
    "user_payload",
]

Json = dict[str, Any]
TIMESTAMP = "2026-01-01T00:00:00.000000+00:00"

VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
EVERYONE_PERMS = (
    VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS | SEND_MESSAGES_IN_THREADS
)


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    bot: bool = False
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class World:
    """Ids of everything the fake knows; snowflakes are small ints, sent as strings."""

    bot: Person = Person(1000, "gpt2bot", bot=True, role_ids=(203,))
    guild_id: int = 100
    guild_name: str = "Test Guild"
    owner_id: int = 2999  # not one of the members below, so nobody is owner-privileged
    general: int = 300  # text channel
    other: int = 301  # a second text channel
    thread: int = 310  # public thread inside `general`
    archived_thread: int = 311  # inside `general`, not in GUILD_CREATE: discord.py has not cached it
    dm: int = 400  # DM channel between `alice` and the bot
    mod_role: int = 201  # named "Moderators", no permissions: moderator only via config
    manager_role: int = 202  # "Managers": Manage Channels
    bot_role: int = 203  # the bot's own managed role (tags.bot_id = the bot)
    alice: Person = Person(2001, "alice")
    manager: Person = Person(2002, "mallory", role_ids=(202,))
    role_mod: Person = Person(2003, "rolf", role_ids=(201,))
    other_bot: Person = Person(2004, "otherbot", bot=True)
    roles: tuple[tuple[int, str, int], ...] = field(
        default=((201, "Moderators", 0), (202, "Managers", MANAGE_CHANNELS))
    )

    @property
    def people(self) -> tuple[Person, ...]:
        return (self.bot, self.alice, self.manager, self.role_mod, self.other_bot)

    def guild_channel_ids(self) -> set[int]:
        return {self.general, self.other, self.thread, self.archived_thread}

    def permissions_of(self, person: Person) -> int:
        """Guild-level permissions: @everyone plus the person's roles (no overwrites used)."""
        perms = EVERYONE_PERMS
        for role_id, _name, role_perms in self.roles:
            if role_id in person.role_ids:
                perms |= role_perms
        return perms


def user_payload(person: Person) -> Json:
    data: Json = {
        "id": str(person.id),
        "username": person.name,
        "discriminator": "0",
        "global_name": person.name,
        "avatar": None,
        "public_flags": 0,
    }
    if person.bot:
        data["bot"] = True
    return data


def member_payload(person: Person, *, with_user: bool = True, permissions: int | None = None) -> Json:
    data: Json = {
        "roles": [str(r) for r in person.role_ids],
        "joined_at": TIMESTAMP,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "premium_since": None,
        "nick": None,
        "avatar": None,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user_payload(person)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def _role(role_id: int, name: str, perms: int, position: int, *, bot_id: int | None = None) -> Json:
    data: Json = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "position": position,
        "permissions": str(perms),
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
        "icon": None,
        "unicode_emoji": None,
    }
    if bot_id is not None:
        data["tags"] = {"bot_id": str(bot_id)}
    return data


def text_channel_payload(world: World, channel_id: int, name: str, *, nsfw: bool = False) -> Json:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(world.guild_id),
        "name": name,
        "position": channel_id - world.general,
        "permission_overwrites": [],
        "nsfw": nsfw,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def thread_payload(world: World, thread_id: int | None = None) -> Json:
    archived = thread_id == world.archived_thread
    return {
        "id": str(thread_id or world.thread),
        "type": 11,
        "guild_id": str(world.guild_id),
        "parent_id": str(world.general),
        "owner_id": str(world.alice.id),
        "name": "side chat",
        "member_count": 2,
        "message_count": 0,
        "total_message_sent": 0,
        "rate_limit_per_user": 0,
        "flags": 0,
        "last_message_id": None,
        "thread_metadata": {
            "archived": archived,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": False,
            "create_timestamp": TIMESTAMP,
        },
    }


def channel_payload(world: World, channel_id: int) -> Json:
    if channel_id in (world.thread, world.archived_thread):
        return thread_payload(world, channel_id)
    if channel_id == world.dm:
        return {
            "id": str(world.dm),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user_payload(world.alice)],
        }
    return text_channel_payload(world, channel_id, "general" if channel_id == world.general else "other")


def guild_payload(world: World) -> Json:
    roles = [_role(world.guild_id, "@everyone", EVERYONE_PERMS, 0)]
    roles += [_role(rid, name, perms, i + 1) for i, (rid, name, perms) in enumerate(world.roles)]
    roles.append(_role(world.bot_role, world.bot.name, EVERYONE_PERMS, len(roles), bot_id=world.bot.id))
    members = [member_payload(p) for p in world.people]
    return {
        "id": str(world.guild_id),
        "name": world.guild_name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "emojis": [],
        "stickers": [],
        "features": [],
        "description": None,
        "owner_id": str(world.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": roles,
        "mfa_level": 0,
        "nsfw_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "banner": None,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "incidents_data": None,
        "joined_at": TIMESTAMP,
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "max_members": 500000,
        "premium_subscription_count": 0,
        "voice_states": [],
        "presences": [],
        "members": members,
        "channels": [
            text_channel_payload(world, world.general, "general"),
            text_channel_payload(world, world.other, "other"),
        ],
        "threads": [thread_payload(world)],
    }


def message_payload(
    world: World,
    message_id: int,
    channel_id: int,
    author: Person,
    content: str,
    *,
    mentions: tuple[Person, ...] = (),
    role_mentions: tuple[int, ...] = (),
    reply_to: Json | None = None,
    flags: int = 0,
) -> Json:
    """A MESSAGE_CREATE body; `reply_to` is the referenced message's own payload."""
    in_guild = channel_id in world.guild_channel_ids()
    data: Json = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": user_payload(author),
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mention_roles": [str(r) for r in role_mentions],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "type": 19 if reply_to else 0,
        "flags": flags,
        "mentions": [
            {**user_payload(p), "member": member_payload(p, with_user=False)} if in_guild else user_payload(p)
            for p in mentions
        ],
    }
    if in_guild:
        data["guild_id"] = str(world.guild_id)
        data["member"] = member_payload(author, with_user=False)
    if reply_to is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": reply_to["id"],
            "channel_id": reply_to["channel_id"],
            **({"guild_id": reply_to["guild_id"]} if "guild_id" in reply_to else {}),
        }
        data["referenced_message"] = reply_to
    return data


def interaction_payload(
    world: World,
    interaction_id: int,
    token: str,
    channel_id: int,
    user: Person,
    data: Json,
    *,
    kind: int = 2,
) -> Json:
    """An INTERACTION_CREATE body (kind 2 = application command, 4 = autocomplete)."""
    payload: Json = {
        "id": str(interaction_id),
        "application_id": str(world.bot.id),
        "type": kind,
        "data": data,
        "token": token,
        "version": 1,
        "channel_id": str(channel_id),
        "channel": channel_payload(world, channel_id),
        "locale": "en-US",
        "app_permissions": str(EVERYONE_PERMS),
        "entitlements": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if channel_id in world.guild_channel_ids():
        payload["guild_id"] = str(world.guild_id)
        payload["guild"] = {"id": str(world.guild_id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = member_payload(user, permissions=world.permissions_of(user))
        payload["authorizing_integration_owners"] = {"0": str(world.guild_id)}
        payload["context"] = 0
    else:
        payload["user"] = user_payload(user)
        payload["authorizing_integration_owners"] = {"0": str(world.guild_id)}
        payload["context"] = 1
    return payload
