"""Which encryption key a database uses: the configured `CAREMAP_SECRET_KEY`, or for a
SQLite file a key file beside it (`caremap.db.key`, created on first use, owner-only).
Kept apart from `storage.crypto` (the cipher alone), so the cipher imports no database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.crypto import Cipher
from storage.db import normalize_database_url
from storage.keycheck import sqlite_file_has_data

__all__ = ["key_file_path", "key_file_warning", "resolve_secret_key", "sqlite_database_path"]


def sqlite_database_path(database_url: str) -> Path | None:
    """The file path of a SQLite URL, or None for in-memory / non-SQLite URLs."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:") and "mode=memory" in db:
        return None
    return Path(db)


def resolve_secret_key(configured: str | None, database_url: str) -> tuple[str, Path | None]:
    """Decide the encryption key.

    - a configured key (CAREMAP_SECRET_KEY) wins;
    - SQLite file: load `<db file>.key` beside the database, or create it (mode 0600);
      the path is returned only when the file was CREATED, so the caller can log it;
    - SQLite in memory: an ephemeral key (the data dies with the process anyway);
    - PostgreSQL without a configured key: ValueError.
    """
    if configured is not None and configured.strip():
        key = configured.strip()
        Cipher(key)  # validate now, with a clear message
        return key, None

    url = normalize_database_url(database_url)
    if not url.startswith("sqlite"):
        raise ValueError(
            "CAREMAP_SECRET_KEY is required with PostgreSQL: set it to a Fernet key "
            '(generate one with `python -c "from storage.crypto import Cipher; '
            'print(Cipher.generate_key())"`) and keep it safe; without it the encrypted '
            "notes cannot be read"
        )
    db_path = sqlite_database_path(url)
    if db_path is None:
        return Cipher.generate_key(), None

    key_path = key_file_path(db_path)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    if not key_path.exists():
        if sqlite_file_has_data(db_path):
            # never silently start a second key beside data written under the first
            raise ValueError(
                f"the key file {key_path} is missing but {db_path} holds data: restore the "
                "key file from a backup (or set CAREMAP_SECRET_KEY to the key); a new key "
                "could not read it"
            )
        key = Cipher.generate_key()
        # write a private temp file, then link it into place: atomic, never half-written,
        # and if another process won the race we use its key instead.
        tmp = key_path.with_name(f".{key_path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (key + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, key_path)
            created = True
        except FileExistsError:
            created = False
        finally:
            tmp.unlink(missing_ok=True)
        if created:
            return key, key_path

    try:
        existing = key_path.read_text(encoding="ascii").strip()
        Cipher(existing)
    except ValueError:  # includes UnicodeDecodeError
        raise ValueError(
            f"the key file {key_path} does not hold a valid Fernet key; restore it "
            "from a backup or set CAREMAP_SECRET_KEY"
        ) from None
    return existing, None


def key_file_path(db_path: Path) -> Path:
    """`caremap.db` → `caremap.db.key` (beside the database)."""
    return db_path.with_name(db_path.name + ".key")


def key_file_warning(configured: str | None, database_url: str) -> str | None:
    """One line if the key file in use can be read by other users (group/other bits)."""
    if configured is not None and configured.strip():
        return None
    db_path = sqlite_database_path(database_url)
    if db_path is None:
        return None
    key_path = key_file_path(db_path)
    try:
        mode = key_path.stat().st_mode & 0o777
    except OSError:
        return None
    if mode & 0o077:
        return (
            f"the key file {key_path} is readable by other users (mode {mode:04o}); "
            f"make it owner-only: chmod 600 {key_path}"
        )
    return None
