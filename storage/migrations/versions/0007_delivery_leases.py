"""delivery leases and the shared send budget: outbox.lease_until (a claimed row belongs
to its worker until then; the worker renews it while it sends) and send_slots (one row per
rate-limit key — "all" and "chat:<id>" — holding the theoretical arrival time of the next
send, shared by every process on PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("outbox", sa.Column("lease_until", TS, nullable=True))
    op.create_table(
        "send_slots",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("tat", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_send_slots"),
    )


def downgrade() -> None:
    op.drop_table("send_slots")
    op.drop_column("outbox", "lease_until")
