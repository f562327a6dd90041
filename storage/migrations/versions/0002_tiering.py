"""tiering: screenings, client grades, tier history, alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Instants: timestamptz on PostgreSQL; on SQLite the ORM's UTCDateTime stores naive UTC.
TS = sa.DateTime(timezone=True)


def _client_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["client_id"], ["clients.id"], name=f"fk_{table}_client_id_clients", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(8), nullable=False),
        sa.Column("answers_enc", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(32), nullable=False),
        sa.Column("item9", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
        _client_fk("screenings"),
        sa.PrimaryKeyConstraint("id", name="pk_screenings"),
    )
    op.create_index(
        "ix_screenings_client_id_instrument_at", "screenings", ["client_id", "instrument", "at"]
    )

    op.create_table(
        "client_grades",
        sa.Column("client_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("risk", sa.String(16), nullable=False),
        sa.Column("risk_rank", sa.Integer(), nullable=False),
        sa.Column("data_enc", sa.Text(), nullable=False),
        sa.Column("graded_at", TS, nullable=False),
        sa.Column("tier_set_at", TS, nullable=False),
        sa.Column("review_due_at", TS, nullable=True),
        sa.Column("next_contact_due", TS, nullable=True),
        _client_fk("client_grades"),
        sa.PrimaryKeyConstraint("client_id", name="pk_client_grades"),
    )

    op.create_table(
        "tier_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("old", sa.String(16), nullable=True),
        sa.Column("new", sa.String(16), nullable=True),
        sa.Column("reasons_enc", sa.Text(), nullable=False),
        sa.Column("by_counsellor_id", sa.Integer(), nullable=True),
        _client_fk("tier_changes"),
        sa.ForeignKeyConstraint(
            ["by_counsellor_id"],
            ["counsellors.id"],
            name="fk_tier_changes_by_counsellor_id_counsellors",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tier_changes"),
    )
    op.create_index("ix_tier_changes_client_id_at", "tier_changes", ["client_id", "at"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("previous", sa.String(16), nullable=True),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("respond_by", TS, nullable=False),
        sa.Column("realert_minutes", sa.Integer(), nullable=True),
        sa.Column("escalate_minutes", sa.Integer(), nullable=True),
        sa.Column("realert_at", TS, nullable=True),
        sa.Column("escalate_at", TS, nullable=True),
        sa.Column("reasons_enc", sa.Text(), nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        _client_fk("alerts"),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_alerts_counsellor_id_counsellors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_status_realert_at", "alerts", ["status", "realert_at"])
    op.create_index("ix_alerts_counsellor_id_raised_at", "alerts", ["counsellor_id", "raised_at"])


def downgrade() -> None:
    for table in ("alerts", "tier_changes", "client_grades", "screenings"):
        op.drop_table(table)
