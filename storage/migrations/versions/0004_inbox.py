"""inbox: events stored before they are acknowledged, until answered (replaces seen_events);
messages looked up by platform id (edits and deletions); channels remember the trim notice

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("owner", sa.String(40), nullable=False),
        sa.Column("lease_until", When, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_inbox"),
    )
    op.create_index("ix_inbox_state_platform_lease_until", "inbox", ["state", "platform", "lease_until"])
    op.create_index("ix_inbox_owner", "inbox", ["owner"])
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])
    op.drop_index("ix_seen_events_seen_at", table_name="seen_events")
    op.drop_table("seen_events")
    op.create_index("ix_messages_channel_id_platform_message_id", "messages", ["channel_id", "platform_message_id"])
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("trim_noticed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("trim_noticed")
    op.drop_index("ix_messages_channel_id_platform_message_id", table_name="messages")
    op.create_table(
        "seen_events",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("seen_at", When, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_seen_events"),
    )
    op.create_index("ix_seen_events_seen_at", "seen_events", ["seen_at"])
    op.drop_table("inbox")
