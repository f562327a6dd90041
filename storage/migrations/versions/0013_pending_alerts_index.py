"""the idle tick by index: the oldest alerts not yet pushed are read from a partial index
(raised_at, id) over pending alerts only, not sorted out of every pending alert on each
tick; on PostgreSQL the cadence and review scans' indexes carry the client id (INCLUDE), so
a tick reads them without visiting client_grades' wide rows (an index-only scan once the
table is vacuumed). SQLite's indexes hold the client id already (it is the rowid).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = "status = 'pending'"
_SCANS = {
    "ix_client_grades_risk_next_contact_due": ["risk", "next_contact_due"],
    "ix_client_grades_risk_review_due_at": ["risk", "review_due_at"],
}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_index(
        "ix_alerts_raised_at_id_pending",
        "alerts",
        ["raised_at", "id"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    if _postgresql():
        for name, columns in _SCANS.items():
            op.drop_index(name, table_name="client_grades")
            op.create_index(name, "client_grades", columns, postgresql_include=["client_id"])


def downgrade() -> None:
    if _postgresql():
        for name, columns in _SCANS.items():
            op.drop_index(name, table_name="client_grades")
            op.create_index(name, "client_grades", columns)
    op.drop_index("ix_alerts_raised_at_id_pending", table_name="alerts")
