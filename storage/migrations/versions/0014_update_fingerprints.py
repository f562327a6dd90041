"""an update id is not an update: processed_updates and inbox keep a fingerprint of what the
update was (its chat and message, or its callback query), so an update whose id was used
before — Telegram picks the next id at random after a week without updates; a bot moved to
a new token starts a new sequence — is handled, not skipped as "already processed". Rows
from before this revision have no fingerprint and keep their old meaning.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("processed_updates", "inbox")


def upgrade() -> None:
    for table in _TABLES:  # a nullable column: no table rewrite, on either backend
        op.add_column(table, sa.Column("fingerprint", sa.String(32), nullable=True))


def downgrade() -> None:
    for table in _TABLES:  # SQLite ≥ 3.35 drops a column in place (see 0003)
        op.drop_column(table, "fingerprint")
