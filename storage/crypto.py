"""Field encryption for free text at rest (Fernet: AES-128-CBC + HMAC-SHA256).

`Cipher(key)` accepts one Fernet key, or several separated by commas for key rotation
(the first encrypts, all decrypt).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from storage.errors import DecryptionError

__all__ = [
    "Cipher",
    "key_file_path",
    "key_file_warning",
    "resolve_secret_key",
    "sqlite_database_path",
]

_KEY_HELP = (
    "CAREMAP_SECRET_KEY must be a Fernet key: 32 url-safe base64-encoded bytes "
    '(44 characters), e.g. from `python -c "from storage.crypto import Cipher; '
    'print(Cipher.generate_key())"`'
)


_INDEX_LABEL = b"caremap blind index v1"


class Cipher:
    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"empty encryption key: {_KEY_HELP}")
        fernets = []
        for part in key.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError, TypeError):
                # never echo the key itself
                raise ValueError(f"invalid encryption key: {_KEY_HELP}") from None
        self._fernet = MultiFernet(fernets)
        self._memo: dict[str, str] = {}
        # blind-index keys, one per Fernet key (the first writes, all are looked up), each
        # derived from the key's own bytes: never the encryption or signing key itself
        self._index_keys = [
            hmac.new(base64.urlsafe_b64decode(part.strip().encode("ascii")), _INDEX_LABEL, hashlib.sha256).digest()
            for part in key.split(",") if part.strip()
        ]

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        if not isinstance(plaintext, str):
            raise TypeError("Cipher.encrypt expects str")
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError, TypeError):
            raise DecryptionError(
                "could not decrypt a stored field: the data was written with a different "
                "CAREMAP_SECRET_KEY (or the key file beside the database was replaced)"
            ) from None

    _MEMO_LIMIT = 200_000

    def blind_index(self, text: str) -> str:
        """A keyed hash of `text` (HMAC-SHA256 under a key derived from the first key, 32
        hex characters) stored beside an encrypted field so an equality lookup can use an
        SQL index: it shows which rows hold equal values, never the values; without the
        key it cannot be computed for a guessed value."""
        return self._index(self._index_keys[0], text)

    def blind_indexes(self, text: str) -> list[str]:
        """`blind_index` under every key (during a rotation rows may hold either)."""
        return [self._index(k, text) for k in self._index_keys]

    @staticmethod
    def _index(key: bytes, text: str) -> str:
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def decrypt_cached(self, token: str) -> str:
        """`decrypt`, remembered by token, for the short identifying fields read on every
        lookup (names, tags…). A token is never rewritten in place (a new value is a new
        random token), so the memo cannot go stale; it only saves the HMAC and AES work
        for a caseload read again and again. Bounded: cleared when full."""
        plain = self._memo.get(token)
        if plain is None:
            plain = self.decrypt(token)
            if len(self._memo) >= self._MEMO_LIMIT:
                self._memo.clear()
            self._memo[token] = plain
        return plain

    def __repr__(self) -> str:  # never show key material
        return "Cipher(<hidden>)"


def sqlite_database_path(database_url: str) -> Path | None:
    """The file path of a SQLite URL, or None for in-memory / non-SQLite URLs."""
    from sqlalchemy.engine import make_url

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

    from storage.db import normalize_database_url

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
        from storage.keycheck import sqlite_file_has_data

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
