"""inbox: each event's conversation and message id, so several processes answer a conversation's
messages in the order they arrived (bot.turns)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("conversation", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("message_id", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_inbox_conversation_state_received_at", "inbox", ["conversation", "state", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_conversation_state_received_at", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("message_id")
        batch.drop_column("conversation")
