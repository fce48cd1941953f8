"""SQLAlchemy 2 ORM tables. Schema changes go through Alembic migrations only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditRow",
    "Base",
    "ChannelRow",
    "InboxRow",
    "MessageRow",
    "ModerationEventRow",
    "SafetyPolicyRow",
    "SettingRow",
]

# Named constraints keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ChannelRow(Base):
    """A conversation: a channel, or a thread in it (thread = "" for the channel itself)."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "workspace", "channel", "thread", name="uq_channels_where"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    thread: Mapped[str] = mapped_column(String(64), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trim_noticed: Mapped[bool] = mapped_column(Boolean, default=False)  # people were told history is trimmed


class SettingRow(Base):
    """A moderator's override of one generation setting in one channel."""

    __tablename__ = "channel_settings"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MessageRow(Base):
    """One turn of a conversation, user or bot."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_channel_id_id", "channel_id", "id"),
        Index("ix_messages_created_at", "created_at"),
        Index("ix_messages_channel_id_platform_message_id", "channel_id", "platform_message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    platform_message_id: Mapped[str] = mapped_column(String(64), default="")


class AuditRow(Base):
    """Who changed what in which channel, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_channel_id_id", "channel_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    channel_key: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64), default="")
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InboxRow(Base):
    """A platform event, stored before it was acknowledged, until it is answered (`bot.inbox`)."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_state_platform_lease_until", "state", "platform", "lease_until"),
        Index("ix_inbox_owner", "owner"),
        Index("ix_inbox_received_at", "received_at"),
    )

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    route: Mapped[dict[str, object]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(8))  # "pending" | "done" | "dropped"
    owner: Mapped[str] = mapped_column(String(40))
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer)


class SafetyPolicyRow(Base):
    """A moderator's safety policy for one scope (global, workspace or channel)."""

    __tablename__ = "safety_policies"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    preset: Mapped[str | None] = mapped_column(String(16), nullable=True)
    overrides: Mapped[list[list[str]]] = mapped_column(JSON)
    blocked_words: Mapped[list[str]] = mapped_column(JSON)
    allowed_words: Mapped[list[str]] = mapped_column(JSON)
    allowed_domains: Mapped[list[str]] = mapped_column(JSON)
    log_content: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ModerationEventRow(Base):
    """One flag, block, redaction or regeneration by the safety filters."""

    __tablename__ = "moderation_events"
    __table_args__ = (
        Index("ix_moderation_events_ref", "ref"),
        Index("ix_moderation_events_where", "platform", "workspace", "channel", "id"),
        Index("ix_moderation_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    thread: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(JSON)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(64))
    excerpt: Mapped[str] = mapped_column(Text)
