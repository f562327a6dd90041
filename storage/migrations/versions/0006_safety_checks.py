"""crisis path (issue 11): safety checks, risk-phrase signals, the latest next-contact date

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "safety_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("answers_enc", sa.Text(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_safety_checks_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_safety_checks_counsellor_id_counsellors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_safety_checks"),
    )
    op.create_index("ix_safety_checks_client_id_at", "safety_checks", ["client_id", "at"])
    op.create_table(
        "risk_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("phrases_enc", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(16), server_default="open", nullable=False),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_risk_signals_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_risk_signals_counsellor_id_counsellors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_risk_signals"),
    )
    op.create_index("ix_risk_signals_client_id_at", "risk_signals", ["client_id", "at"])
    op.add_column("client_grades", sa.Column("contact_latest_at", TS, nullable=True))
    op.create_index("ix_client_grades_contact_latest_at", "client_grades", ["contact_latest_at"])


def downgrade() -> None:
    op.drop_index("ix_client_grades_contact_latest_at", table_name="client_grades")
    op.drop_column("client_grades", "contact_latest_at")
    op.drop_index("ix_risk_signals_client_id_at", table_name="risk_signals")
    op.drop_table("risk_signals")
    op.drop_index("ix_safety_checks_client_id_at", table_name="safety_checks")
    op.drop_table("safety_checks")
