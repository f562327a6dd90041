"""the idle tick's scans by index at any caseload: cadence and review scans by (risk, due)
(only crisis/high clients are scanned, issue 13), the escalation scan over open alerts
only, the follow-up scan over those not yet pushed for their time

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "acknowledged_at IS NULL AND escalated_at IS NULL"
_UNREMINDED = "done_at IS NULL AND (reminded_due_at IS NULL OR reminded_due_at != due_at)"


def upgrade() -> None:
    op.create_index(
        "ix_client_grades_risk_next_contact_due", "client_grades", ["risk", "next_contact_due"]
    )
    op.create_index(
        "ix_client_grades_risk_review_due_at", "client_grades", ["risk", "review_due_at"]
    )
    op.create_index(
        "ix_alerts_escalate_at_open",
        "alerts",
        ["escalate_at"],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )
    op.create_index(
        "ix_plan_items_due_at_unreminded",
        "plan_items",
        ["due_at"],
        postgresql_where=sa.text(_UNREMINDED),
        sqlite_where=sa.text(_UNREMINDED),
    )


def downgrade() -> None:
    op.drop_index("ix_plan_items_due_at_unreminded", table_name="plan_items")
    op.drop_index("ix_alerts_escalate_at_open", table_name="alerts")
    op.drop_index("ix_client_grades_risk_review_due_at", table_name="client_grades")
    op.drop_index("ix_client_grades_risk_next_contact_due", table_name="client_grades")
