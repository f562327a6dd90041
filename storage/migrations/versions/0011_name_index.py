"""a blind index of client names: clients.name_key = `Cipher.blind_index` of the folded
name (HMAC under a key derived from the database's key; never the name), indexed with the
counsellor: resolving a client by name no longer decrypts the whole caseload. Existing rows
get theirs with the database's key (so, with rows, it runs through Database.migrate).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from domain.matching import folded_name

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("name_key", sa.String(64), nullable=True))
    op.create_index("ix_clients_counsellor_id_name_key", "clients", ["counsellor_id", "name_key"])
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, name_enc FROM clients WHERE name_enc IS NOT NULL")
    ).all()
    cipher = context.config.attributes.get("cipher")
    if cipher is None and rows:
        raise RuntimeError(
            "migration 0011 indexes existing names and needs the key: run it through "
            "`python -m bot` (Database.migrate), not the bare alembic command"
        )
    update = sa.text("UPDATE clients SET name_key = :k WHERE id = :id")
    for client_id, token in rows:
        assert cipher is not None  # refused above when there are rows
        conn.execute(
            update, {"id": client_id, "k": cipher.blind_index(folded_name(cipher.decrypt(token)))}
        )


def downgrade() -> None:
    op.drop_index("ix_clients_counsellor_id_name_key", table_name="clients")
    op.drop_column("clients", "name_key")
