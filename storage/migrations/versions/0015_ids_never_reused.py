"""ids that leave the database are never reused: alerts, plan items, pending inputs,
referrals and risk signals on SQLite get AUTOINCREMENT.

Their ids are written into buttons (ack, done, snooze, the date and client choices, a
referral's status, a risk phrase's answer) and into the outbox's dedupe keys
("alert:<id>", "plan:<id>:…"). SQLite without AUTOINCREMENT gives a new row the largest id
+ 1, so deleting the newest row (an /undo, an expired question, a forgotten client) handed
its id to the next row: a crisis alert raised after an undone one took the undone alert's
id, found its push already in the outbox, and was never pushed, repeated or escalated; an old
button could act on a newer row. PostgreSQL's sequences never reuse a value: nothing to do.

SQLite's own procedure, on the table's stored definition: a new table with the id as
`INTEGER PRIMARY KEY AUTOINCREMENT`, the rows copied (same ids), the old table dropped (none
of these is the parent of a foreign key, so nothing cascades), the new one renamed, the
indexes made again from their stored SQL; the sequence starts past every id the outbox
names and a margin past the largest id (see MARGIN).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("alerts", "plan_items", "pending_inputs", "referrals", "risk_signals")
# Ids deleted before this revision may already sit above the largest id left (a button in a
# chat, a key in the outbox): the sequence starts past them. The outbox names the alerts and
# plan items it has pushed; for the rest, a margin far beyond any run of deleted newest rows
# (a database in use only: a new one starts at 1).
OUTBOX_PREFIXES = {"alerts": ("alert:", "realert:", "escalation:"), "plan_items": ("plan:",)}
MARGIN = 1000


def _one(sql: str, old: str, new: str, table: str) -> str:
    if sql.count(old) != 1:
        raise RuntimeError(f"0015: unexpected definition of {table}: {old!r} not found once")
    return sql.replace(old, new)


def _autoincrement(table: str) -> None:
    conn = op.get_bind()
    [(sql,)] = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).all()
    if "AUTOINCREMENT" in sql.upper():
        return  # already (a database made after this revision, or migrated twice)
    indexes = [
        row[0]
        for row in conn.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                "AND sql IS NOT NULL ORDER BY name"
            ),
            {"t": table},
        )
    ]
    temp = f"_0015_{table}"
    # the id is the first column: `CREATE TABLE t (\n\tid INTEGER NOT NULL, \n\t…`
    head = re.match(rf"CREATE TABLE {table} \((\s*)id INTEGER NOT NULL,", sql)
    if head is None:
        raise RuntimeError(f"0015: unexpected definition of {table}: {sql[:80]!r}")
    new = (
        f"CREATE TABLE {temp} ({head.group(1)}id INTEGER NOT NULL "
        f"CONSTRAINT pk_{table} PRIMARY KEY AUTOINCREMENT," + sql[head.end() :]
    )
    new = _one(new, f"CONSTRAINT pk_{table} PRIMARY KEY (id), ", "", table)
    conn.exec_driver_sql(new)
    conn.exec_driver_sql(f"INSERT INTO {temp} SELECT * FROM {table}")
    conn.exec_driver_sql(f"DROP TABLE {table}")
    conn.exec_driver_sql(f"ALTER TABLE {temp} RENAME TO {table}")
    for index in indexes:
        conn.exec_driver_sql(index)
    if conn.execute(sa.text("SELECT count(*) FROM counsellors")).scalar_one() == 0:
        return  # a new database: no button or outbox key names any id yet
    floor = conn.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
    for prefix in OUTBOX_PREFIXES.get(table, ()):
        # "realert:12:1" → 12: CAST reads the leading digits
        named = conn.execute(
            sa.text(
                "SELECT coalesce(max(CAST(substr(dedupe_key, :n) AS INTEGER)), 0) FROM outbox "
                "WHERE substr(dedupe_key, 1, :len) = :prefix"
            ),
            {"n": len(prefix) + 1, "len": len(prefix), "prefix": prefix},
        ).scalar_one()
        floor = max(floor, named)
    conn.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
    conn.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"),
        {"t": table, "s": floor + MARGIN},
    )


def _clients_floor() -> None:
    """`clients` is the parent of every caseload table and is not rebuilt: new client ids
    start past the largest one ever forgotten, kept in meta (`storage.clients`). A client
    forgotten before this revision is still named by the audit trail, which keeps client
    ids after /forget: start past the largest it names."""
    conn = op.get_bind()
    named = conn.execute(sa.text("SELECT coalesce(max(client_id), 0) FROM audit_log")).scalar_one()
    top = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM clients")).scalar_one()
    if named > top:
        conn.execute(
            sa.text(
                "INSERT INTO meta (name, value) VALUES ('clients_forgotten_id', :v) "
                "ON CONFLICT (name) DO UPDATE SET "
                "value = max(CAST(meta.value AS INTEGER), CAST(excluded.value AS INTEGER))"
            ),
            {"v": str(named)},
        )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _autoincrement(table)
    _clients_floor()


def downgrade() -> None:
    # AUTOINCREMENT stays: to the older code it only means that ids are never reused
    pass
