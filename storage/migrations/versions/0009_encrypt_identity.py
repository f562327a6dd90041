"""encrypt identifying and sensitive facts: client names, student numbers, majors, grades,
trust and satisfaction; tags; screening totals, bands and item 9; status history values.
Existing rows are encrypted with the database's key (checked before migrating).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.sql.schema import SchemaItem

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → (clear column, its type before) ; each becomes `<column>_enc` TEXT
_COLUMNS: dict[str, list[tuple[str, sa.types.TypeEngine, bool]]] = {
    "clients": [
        ("name", sa.String(200), False),
        ("sid", sa.String(64), True),
        ("major", sa.String(200), True),
        ("grade", sa.String(64), True),
        ("trust", sa.Integer(), True),
        ("satisfaction", sa.Integer(), True),
    ],
    "screenings": [
        ("total", sa.Integer(), False),
        ("band", sa.String(32), False),
        ("item9", sa.Integer(), True),
    ],
    "status_changes": [
        ("old", sa.String(32), True),
        ("new", sa.String(32), True),
    ],
}
_INTS = {"trust", "satisfaction", "total", "item9"}


def _cipher(needed: bool) -> Any:
    cipher = context.config.attributes.get("cipher")
    if cipher is None and needed:
        raise RuntimeError(
            "migration 0008 encrypts existing rows and needs the key: run it through "
            "`python -m bot` (Database.migrate), not the bare alembic command"
        )
    return cipher


def _has_rows(conn: sa.Connection, table: str) -> bool:
    return conn.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None


def _swap(table: str, encrypt: bool) -> None:
    """Move each column of `table` between clear and `_enc`, converting every row."""
    conn = op.get_bind()
    cols = _COLUMNS[table]
    cipher = _cipher(_has_rows(conn, table))
    src = [c if encrypt else f"{c}_enc" for c, _, _ in cols]
    dst = [f"{c}_enc" if encrypt else c for c, _, _ in cols]
    for (_name, typ, _), new in zip(cols, dst, strict=True):
        op.add_column(table, sa.Column(new, sa.Text() if encrypt else typ, nullable=True))
    rows = conn.execute(sa.text(f"SELECT id, {', '.join(src)} FROM {table}")).all()
    setter = ", ".join(f"{d} = :{d}" for d in dst)
    update = sa.text(f"UPDATE {table} SET {setter} WHERE id = :id")
    for row in rows:
        values: dict[str, object] = {"id": row[0]}
        for (name, _, _), d, value in zip(cols, dst, row[1:], strict=True):
            if value is None:
                values[d] = None
            elif encrypt:
                values[d] = cipher.encrypt(str(value))
            else:
                plain = cipher.decrypt(value)
                values[d] = int(plain) if name in _INTS else plain
        conn.execute(update, values)
    for old in src:
        op.drop_column(table, old)


def _rebuild_tags(encrypt: bool) -> None:
    """client_tags had UNIQUE(client_id, tag) and an index on tag (SQLite cannot drop such
    a column): keep the rows, recreate the table, put them back (same ids)."""
    conn = op.get_bind()
    src = "tag" if encrypt else "tag_enc"
    rows = conn.execute(sa.text(f"SELECT id, client_id, {src} FROM client_tags ORDER BY id")).all()
    cipher = _cipher(bool(rows))
    op.drop_table("client_tags")
    column = "tag_enc" if encrypt else "tag"
    args: list[SchemaItem] = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column(column, sa.Text() if encrypt else sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_client_tags_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_client_tags"),
    ]
    if not encrypt:
        args.append(sa.UniqueConstraint("client_id", "tag", name="uq_client_tags_client_id_tag"))
    op.create_table("client_tags", *args)
    if encrypt:
        op.create_index("ix_client_tags_client_id", "client_tags", ["client_id"])
    else:
        op.create_index("ix_client_tags_tag", "client_tags", ["tag"])
    insert = sa.text(
        f"INSERT INTO client_tags (id, client_id, {column}) VALUES (:id, :client_id, :v)"
    )
    for tag_id, client_id, value in rows:
        v = cipher.encrypt(value) if encrypt else cipher.decrypt(value)
        conn.execute(insert, {"id": tag_id, "client_id": client_id, "v": v})
    if rows and conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('client_tags', 'id'), (SELECT max(id) FROM client_tags))"
            )
        )


def upgrade() -> None:
    op.drop_index("ix_clients_counsellor_id_name", table_name="clients")
    for table in _COLUMNS:
        _swap(table, encrypt=True)
    _rebuild_tags(encrypt=True)


def downgrade() -> None:
    _rebuild_tags(encrypt=False)
    for table in _COLUMNS:
        _swap(table, encrypt=False)
    op.create_index("ix_clients_counsellor_id_name", "clients", ["counsellor_id", "name"])
