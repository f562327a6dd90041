"""Start-up steps shared by `python -m bot` and the tests: key, database, migrations."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bootstrap.settings import ConfigError, Settings
from storage.crypto import Cipher
from storage.db import ENCRYPT_IDENTITY_REVISION, Database
from storage.keycheck import KeyMismatch, check_key, ensure_key_check
from storage.keys import key_file_path, key_file_warning, resolve_secret_key, sqlite_database_path


def _pending_rotation(settings: Settings) -> Path | None:
    """`<db>.key.new`: written by `rotate-key` before its transaction, moved over the key
    file after it. Only meaningful with a key file (no CAREMAP_SECRET_KEY)."""
    if settings.secret_key:
        return None
    db_path = sqlite_database_path(settings.database_url)
    if db_path is None:
        return None
    return key_file_path(db_path).with_name(key_file_path(db_path).name + ".new")


def _mismatch_line(settings: Settings) -> str:
    if settings.secret_key:
        return (
            "CAREMAP_SECRET_KEY is not the key this database was encrypted with (the key "
            "check failed); start with the right key (`python -m bot rotate-key` changes keys)"
        )
    db_path = sqlite_database_path(settings.database_url)
    key_path = key_file_path(db_path) if db_path else "the key file"
    return (
        f"the key file {key_path} is not the key this database was encrypted with (the key "
        "check failed); restore the right key file from a backup or set CAREMAP_SECRET_KEY"
    )


def open_database(settings: Settings, log: logging.Logger | None = None) -> Database:
    """Resolve the encryption key, check it against the data, open the database and apply
    migrations; make the admins those of CAREMAP_ADMIN_IDS.

    Raises ConfigError (one line naming the problem) for a bad, missing or wrong key or an
    unreachable database.
    """
    log = log or logging.getLogger("caremap")
    try:
        key, created = resolve_secret_key(settings.secret_key, settings.database_url)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if created is not None:
        log.warning(
            "CAREMAP_SECRET_KEY was not set: generated a new encryption key in %s (owner-only). "
            "Back it up: without it the notes cannot be read.",
            created,
        )
    warning = key_file_warning(settings.secret_key, settings.database_url)
    if warning:
        log.warning("%s", warning)
    try:
        cipher = Cipher(key)
    except ValueError as exc:
        raise ConfigError(f"CAREMAP_SECRET_KEY is not usable: {exc}") from None
    try:
        db = Database(settings.database_url, cipher)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        raise ConfigError(_db_line(exc)) from None
    try:
        _check_key(db, settings, log)
        before = db.current_revision()
        db.migrate()
        ensure_key_check(db)
        if before is not None and before < ENCRYPT_IDENTITY_REVISION:
            # that migration replaced clear identifying columns by encrypted ones: rebuild the file
            # so no page of the clear values survives (secure_delete covers the rest)
            db.vacuum()
    except KeyMismatch:
        db.dispose()
        raise ConfigError(_mismatch_line(settings)) from None
    except ConfigError:
        db.dispose()
        raise
    except Exception as exc:  # noqa: BLE001
        db.dispose()
        raise ConfigError(_db_line(exc)) from None
    for path in db.tighten_files():
        log.warning("%s was readable by other users; made it owner-only (chmod 600)", path)
    from services.team import sync_admins

    sync_admins(db, settings.admin_ids, log)
    return db


def _check_key(db: Database, settings: Settings, log: logging.Logger) -> None:
    pending = _pending_rotation(settings)
    try:
        check_key(db)
    except KeyMismatch:
        # a rotation that committed but did not get to move its new key file into place
        if pending is None or not pending.is_file():
            raise
        new_key = pending.read_text(encoding="ascii").strip()
        db.cipher = Cipher(new_key)
        check_key(db)  # raises KeyMismatch again if this is not it either
        key_path = key_file_path(sqlite_database_path(settings.database_url))
        os.replace(pending, key_path)
        log.warning("finished an interrupted key rotation: the new key is now in %s", key_path)
        return
    if pending is not None and pending.exists():
        # a rotation that never committed: its key was never used
        pending.unlink()


def _db_line(exc: Exception) -> str:
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"DATABASE_URL could not be opened or migrated: {type(exc).__name__}: {first}"
