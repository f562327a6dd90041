"""The key check: the right CAREMAP_SECRET_KEY or no start.

At first start a known text is encrypted under the key and kept in the `meta` table
(row `key_check`). Every later start decrypts it before anything else happens (before
the migrations, which may re-encrypt rows): another key is refused, so nothing is ever
written under a wrong key. A database from before the key check is verified against one
of its encrypted fields instead, then gets its check row.

`rotate_key` re-encrypts every `*_enc` column (and the check) under a new key in ONE
transaction: until it commits, the old key's check (and data) stays as it was.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.matching import folded_name
from storage.crypto import Cipher
from storage.db import Database
from storage.errors import DecryptionError, StorageError
from storage.orm import Base, MetaRow, table_of

__all__ = [
    "KEY_CHECK",
    "KeyMismatch",
    "check_key",
    "encrypted_columns",
    "ensure_key_check",
    "rotate_key",
    "sqlite_file_has_data",
]

KEY_CHECK = "key_check"
_PLAINTEXT = "caremap key check v1"

# Tables that held encrypted fields before the key check existed (a legacy database is
# verified against the first token found in one of them).
_LEGACY = (
    ("interactions", "notes_enc"),
    ("needs", "text_enc"),
    ("plan_items", "text_enc"),
    ("pending_inputs", "payload_enc"),
    ("client_grades", "data_enc"),
    ("screenings", "answers_enc"),
    ("tier_changes", "reasons_enc"),
    ("alerts", "reasons_enc"),
)


class KeyMismatch(StorageError):
    """The key cannot read this database (the key check, or a legacy field, fails)."""


def _matches(cipher: Cipher, token: str, *, legacy: bool) -> bool:
    try:
        plain = cipher.decrypt(token)
    except DecryptionError:
        return False
    return legacy or plain == _PLAINTEXT


def check_key(db: Database) -> str:
    """Verify `db.cipher` against the database BEFORE migrating. Returns "fresh" (nothing
    to check against), "legacy" (verified against an encrypted field) or "ok"; raises
    KeyMismatch when the key cannot read the data."""
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if "meta" in tables:
            token = conn.execute(
                text("SELECT value FROM meta WHERE name = :n"), {"n": KEY_CHECK}
            ).scalar()
            if token is not None:
                if not _matches(db.cipher, token, legacy=False):
                    raise KeyMismatch("the key check failed")
                return "ok"
        for table, column in _LEGACY:
            if table not in tables:
                continue
            token = conn.execute(
                text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL LIMIT 1")
            ).scalar()
            if token is not None:
                if not _matches(db.cipher, token, legacy=True):
                    raise KeyMismatch("an encrypted field could not be read")
                return "legacy"
    return "fresh"


def ensure_key_check(db: Database) -> bool:
    """After migrating: store the key check if there is none yet (True when stored), then
    verify the stored one (a racing process may have stored its own first)."""
    with db.uow(write=True) as uow:
        session = uow.session
        stored = False
        if session.get(MetaRow, KEY_CHECK) is None:
            insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
            result = session.execute(
                insert(table_of(MetaRow))
                .values(name=KEY_CHECK, value=db.cipher.encrypt(_PLAINTEXT))
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(table_of(MetaRow).c.name)
            )
            stored = result.first() is not None
        token = session.scalar(
            select(MetaRow.value)
            .where(MetaRow.name == KEY_CHECK)
            .execution_options(populate_existing=True)
        )
        if token is None or not _matches(db.cipher, token, legacy=False):
            raise KeyMismatch("the key check failed")
    return stored


def sqlite_file_has_data(path: Path) -> bool:
    """Whether a SQLite file holds CareMap data (a key check or any counsellor), read
    with the standard library in read-only mode, without a key."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return False
    except OSError:
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return True  # unreadable: do not assume it is empty
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if (
            "meta" in tables
            and conn.execute("SELECT 1 FROM meta WHERE name = ?", (KEY_CHECK,)).fetchone()
        ):
            return True
        for table in ("counsellors", "clients"):
            if table in tables and conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                return True
        return False
    except sqlite3.DatabaseError:
        return True  # not a readable database (encrypted? corrupt?): never overwrite its key
    finally:
        conn.close()


def encrypted_columns() -> list[tuple[str, list[str], list[str]]]:
    """(table, primary-key columns, `*_enc` columns) for every table with encrypted
    fields: the columns a key rotation re-encrypts."""
    out = []
    for table in Base.metadata.sorted_tables:
        enc = [c.name for c in table.columns if c.name.endswith("_enc")]
        if enc:
            out.append((table.name, [c.name for c in table.primary_key.columns], enc))
    return out


@dataclass(frozen=True)
class Rotation:
    tables: int
    fields: int


def rotate_key(db: Database, new: Cipher) -> Rotation:
    """Re-encrypt every encrypted field and the key check under `new`, in one
    transaction. The old key (`db.cipher`) must pass the key check first."""
    old = db.cipher
    fields = 0
    tables = 0
    with db.uow(write=True) as uow:
        session = uow.session
        token = session.scalar(select(MetaRow.value).where(MetaRow.name == KEY_CHECK))
        if token is None or not _matches(old, token, legacy=False):
            raise KeyMismatch("the key check failed")
        for name, pk, enc in encrypted_columns():
            # raw SQL: the tokens as stored, past the Encrypted* column types
            cols = ", ".join(pk + enc)
            rows = session.execute(text(f"SELECT {cols} FROM {name}")).all()
            if rows:
                tables += 1
            setter = ", ".join(f"{c} = :{c}" for c in enc)
            where = " AND ".join(f"{c} = :{c}" for c in pk)
            stmt = text(f"UPDATE {name} SET {setter} WHERE {where}")
            for row in rows:
                values = dict(zip(pk + enc, row, strict=True))
                for col in enc:
                    if values[col] is not None:
                        values[col] = new.encrypt(old.decrypt(values[col]))
                        fields += 1
                session.execute(stmt, values)
        # the names' blind index is keyed by the key too (storage/clients.py `named`)
        index = text("UPDATE clients SET name_key = :k WHERE id = :id")
        for client_id, token in session.execute(
            text("SELECT id, name_enc FROM clients WHERE name_enc IS NOT NULL")
        ).all():
            session.execute(
                index, {"id": client_id, "k": new.blind_index(folded_name(new.decrypt(token)))}
            )
        session.execute(
            update(table_of(MetaRow))
            .where(table_of(MetaRow).c.name == KEY_CHECK)
            .values(value=new.encrypt(_PLAINTEXT))
        )
    db.scrub()  # old ciphertexts do not linger in the -wal file
    return Rotation(tables=tables, fields=fields)
