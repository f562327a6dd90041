"""Start-up steps shared by `python -m bot` and the tests: key, database, migrations."""

from __future__ import annotations

import logging

from bot.settings import ConfigError, Settings
from storage.crypto import Cipher, resolve_secret_key
from storage.db import Database


def open_database(settings: Settings, log: logging.Logger | None = None) -> Database:
    """Resolve the encryption key, open the database and apply migrations.

    Raises ConfigError (naming the variable) for a bad key or an unreachable database.
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
    try:
        cipher = Cipher(key)
    except ValueError as exc:
        raise ConfigError(f"CAREMAP_SECRET_KEY is not usable: {exc}") from None
    try:
        db = Database(settings.database_url, cipher)
        db.migrate()
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        raise ConfigError(
            f"DATABASE_URL could not be opened or migrated: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ) from None
    return db
