"""Operator commands beside the bot: `python -m bot backup PATH`, `python -m bot rotate-key`.

Both read the same configuration as the bot (a Telegram token is not needed) and check
the key against the database first: a backup nobody can read, or a rotation from the
wrong key, is refused in one line.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from pathlib import Path

from bootstrap.settings import ConfigError, load_settings
from storage.crypto import Cipher
from storage.keys import key_file_path, sqlite_database_path


def _settings_and_db(log: logging.Logger):  # noqa: ANN202
    from bootstrap.database import open_database

    settings = load_settings(require_token=False)
    return settings, open_database(settings, log)


def _write_private(path: Path, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def rotate_key_main(log: logging.Logger) -> int:
    """Re-encrypt everything under a new key, in one transaction.

    With a key file (no CAREMAP_SECRET_KEY): the new key is CAREMAP_NEW_SECRET_KEY or a
    fresh one; it is written to `<db>.key.new` first and moved over the key file once the
    transaction has committed (a start after a crash in between finishes the move).
    With CAREMAP_SECRET_KEY: CAREMAP_NEW_SECRET_KEY is required (keep it safe first), and
    CAREMAP_SECRET_KEY must be set to it before the next start.
    """
    from storage.keycheck import rotate_key

    try:
        settings, db = _settings_and_db(log)
        new_key = (os.environ.get("CAREMAP_NEW_SECRET_KEY") or "").strip()
        key_path = None
        if not settings.secret_key:
            db_path = sqlite_database_path(settings.database_url)
            if db_path is None:
                raise ConfigError("rotate-key: an in-memory database has nothing to rotate")
            key_path = key_file_path(db_path)
            new_key = new_key or Cipher.generate_key()
        elif not new_key:
            raise ConfigError(
                "rotate-key: CAREMAP_SECRET_KEY is set, so put the new key in "
                "CAREMAP_NEW_SECRET_KEY (keep a copy safe first); make one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
            )
        try:
            new = Cipher(new_key)
        except ValueError as exc:
            raise ConfigError(f"CAREMAP_NEW_SECRET_KEY is not usable: {exc}") from None
        if new_key in {k.strip() for k in (settings.secret_key or "").split(",")} or (
            key_path is not None and key_path.read_text(encoding="ascii").strip() == new_key
        ):
            raise ConfigError("CAREMAP_NEW_SECRET_KEY is the key in use already; nothing to rotate")
    except ConfigError as exc:
        print(f"caremap: rotate-key refused: {exc}", file=sys.stderr)
        return 2
    try:
        pending = None
        if key_path is not None:
            pending = key_path.with_name(key_path.name + ".new")
            _write_private(pending, new_key + "\n")
        try:
            result = rotate_key(db, new)
        except BaseException:
            if pending is not None:
                pending.unlink(missing_ok=True)
            raise
        if pending is not None:
            os.replace(pending, key_path)
    finally:
        db.dispose()
    where = (
        f"the new key is in {key_path} (back it up)"
        if key_path is not None
        else "set CAREMAP_SECRET_KEY to the new key (CAREMAP_NEW_SECRET_KEY) before the next start"
    )
    print(
        f"caremap: re-encrypted {result.fields} fields in {result.tables} tables under the new key; {where}"
    )
    return 0


def backup_main(target: str, log: logging.Logger) -> int:
    """A consistent copy of the SQLite database through SQLite's online backup API (safe
    while the bot runs), owner-only, with the key check inside; verified before it is
    put in place."""
    from storage.keycheck import KEY_CHECK

    try:
        settings, db = _settings_and_db(log)
    except ConfigError as exc:
        print(f"caremap: backup refused: {exc}", file=sys.stderr)
        return 2
    try:
        source = db.sqlite_path
        if source is None:
            print(
                "caremap: backup refused: DATABASE_URL is not a SQLite file; back PostgreSQL "
                "up with pg_dump (and keep CAREMAP_SECRET_KEY apart from it)",
                file=sys.stderr,
            )
            return 2
        dest = Path(target).expanduser().resolve()
        if dest.is_dir():
            dest = dest / "caremap-backup.db"
        if dest in (source, source.with_name(source.name + "-wal")):
            print("caremap: backup refused: PATH is the live database", file=sys.stderr)
            return 2
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # one consistent snapshot, WAL content included
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
                token = dst.execute(
                    "SELECT value FROM meta WHERE name = ?", (KEY_CHECK,)
                ).fetchone()
                clients = dst.execute("SELECT count(*) FROM clients").fetchone()[0]
            finally:
                dst.close()
                src.close()
            if ok != "ok" or token is None:
                raise RuntimeError(
                    f"the copy did not verify ({ok}; key check {'present' if token else 'missing'})"
                )
            db.cipher.decrypt(token[0])  # the key in use reads the copy
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        print(f"caremap: backup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(
        f"caremap: backup written to {dest} ({clients} clients, key check included); it is "
        "encrypted with the current key, keep the key (file or CAREMAP_SECRET_KEY) apart from it"
    )
    return 0


def main(args: list[str]) -> int:
    log = logging.getLogger("caremap")
    if args[0] == "rotate-key":
        if len(args) != 1:
            print("caremap: usage: python -m bot rotate-key", file=sys.stderr)
            return 2
        return rotate_key_main(log)
    if len(args) != 2:
        print("caremap: usage: python -m bot backup PATH", file=sys.stderr)
        return 2
    return backup_main(args[1], log)
