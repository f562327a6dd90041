"""the whole map (issue 15): recurring follow-ups (plan_series, plan_items.series_id/seq),
the outcome of each contact, roster fields (dorm, phone; encrypted) and private-practice value
inputs (payer, payment capacity) in client_details

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

# Plain ALTER TABLE … ADD/DROP COLUMN (never batch mode: see 0003).


def upgrade() -> None:
    op.create_table(
        "plan_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=False),
        sa.Column("every", sa.String(8), nullable=False),
        sa.Column("first_due", TS, nullable=False),
        sa.Column("until_at", TS, nullable=True),
        sa.Column("stop_below", sa.String(16), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_plan_series_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_series"),
    )
    op.create_index("ix_plan_series_client_id", "plan_series", ["client_id"])
    op.add_column("plan_items", sa.Column("series_id", sa.Integer(), nullable=True))
    op.add_column("plan_items", sa.Column("seq", sa.Integer(), nullable=True))
    op.create_index("ix_plan_items_series_id_seq", "plan_items", ["series_id", "seq"], unique=True)
    op.add_column("interactions", sa.Column("outcome", sa.String(16), nullable=True))
    op.create_table(
        "client_details",
        sa.Column("client_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dorm_enc", sa.Text(), nullable=True),
        sa.Column("phone_enc", sa.Text(), nullable=True),
        sa.Column("payer", sa.String(16), nullable=True),
        sa.Column("pay_capacity", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_client_details_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name="pk_client_details"),
    )


def downgrade() -> None:
    op.drop_table("client_details")
    op.drop_column("interactions", "outcome")
    op.drop_index("ix_plan_items_series_id_seq", table_name="plan_items")
    op.drop_column("plan_items", "seq")
    op.drop_column("plan_items", "series_id")
    op.drop_index("ix_plan_series_client_id", table_name="plan_series")
    op.drop_table("plan_series")
