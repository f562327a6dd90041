"""reminders: counsellor agenda hour and quiet hours, plan reminder marks, alert delivery
state, and the outbox (due work as rows)

Revision ID: 0003
Revises: 0002
Create Date: 2026-03-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Instants: timestamptz on PostgreSQL; on SQLite the ORM's UTCDateTime stores naive UTC.
TS = sa.DateTime(timezone=True)

# Columns are added with plain ALTER TABLE … ADD COLUMN and dropped with … DROP COLUMN
# (SQLite ≥ 3.35), never with batch mode: a batch "move and copy" of `counsellors` would
# DROP the table, and with foreign_keys=ON that cascades into every caseload.
_ALERT_COLUMNS = ("escalated_at", "realert_count", "message_id", "sent_at")


def upgrade() -> None:
    op.add_column(
        "counsellors", sa.Column("agenda_at", sa.String(5), server_default="08:00", nullable=True)
    )
    op.add_column("counsellors", sa.Column("quiet_hours", sa.String(11), nullable=True))
    op.add_column("counsellors", sa.Column("telegram_language", sa.String(2), nullable=True))

    op.add_column("plan_items", sa.Column("reminded_due_at", TS, nullable=True))

    op.add_column("alerts", sa.Column("escalated_at", TS, nullable=True))
    op.add_column(
        "alerts",
        sa.Column("realert_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("alerts", sa.Column("message_id", sa.BigInteger(), nullable=True))
    op.add_column("alerts", sa.Column("sent_at", TS, nullable=True))

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_outbox_counsellor_id_counsellors",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_outbox_client_id_clients", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )
    op.create_index(
        "ix_outbox_status_not_before_priority", "outbox", ["status", "not_before", "priority"]
    )
    op.create_index("ix_outbox_counsellor_id", "outbox", ["counsellor_id"])
    op.create_index("ix_outbox_client_id", "outbox", ["client_id"])

    op.create_index("ix_client_grades_next_contact_due", "client_grades", ["next_contact_due"])
    op.create_index("ix_client_grades_review_due_at", "client_grades", ["review_due_at"])


def downgrade() -> None:
    op.drop_index("ix_client_grades_review_due_at", table_name="client_grades")
    op.drop_index("ix_client_grades_next_contact_due", table_name="client_grades")
    op.drop_table("outbox")
    for column in _ALERT_COLUMNS:
        op.drop_column("alerts", column)
    op.drop_column("plan_items", "reminded_due_at")
    op.drop_column("counsellors", "telegram_language")
    op.drop_column("counsellors", "quiet_hours")
    op.drop_column("counsellors", "agenda_at")
