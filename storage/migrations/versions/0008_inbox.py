"""inbox: every update fetched from Telegram, stored before its offset is confirmed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        # the update as Telegram sent it (JSON), encrypted: it may carry a counsellor's
        # notes. Cleared once the update is handled; the row stays a while for dedupe.
        sa.Column("payload_enc", sa.Text(), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("handled_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("update_id", name="pk_inbox"),
    )
    op.create_index("ix_inbox_handled_at", "inbox", ["handled_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_handled_at", table_name="inbox")
    op.drop_table("inbox")
