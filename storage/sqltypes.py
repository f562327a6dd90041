"""Column types shared by the ORM models."""

from __future__ import annotations

from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """An instant in time.

    Write: refuses naive datetimes (ValueError), converts aware ones to UTC.
    Storage: `timestamptz` on PostgreSQL, naive UTC text on SQLite.
    Read: always an aware datetime in UTC.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError("naive datetime refused: pass a timezone-aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# -- encrypted columns (issue 14) --------------------------------------------------------
#
# Identifying and sensitive facts (names, student numbers, majors, grades, tags, trust and
# satisfaction, screening results, status history) are Fernet tokens at rest. The cipher
# is the unit of work's: `Database.uow()` puts it in this context variable for its
# duration, so these types encrypt on the way in and decrypt on the way out without every
# repository method doing it by hand. Outside a unit of work they refuse to work rather
# than write clear text. Tokens are random: these columns can never be compared, sorted or
# indexed in SQL; matching happens in memory over the counsellor's own caseload.

_CIPHER: ContextVar[Any] = ContextVar("caremap_cipher", default=None)


def set_cipher(cipher: Any) -> Token[Any]:
    return _CIPHER.set(cipher)


def reset_cipher(token: Token[Any]) -> None:
    _CIPHER.reset(token)


def _cipher() -> Any:
    cipher = _CIPHER.get()
    if cipher is None:
        raise RuntimeError("an encrypted column was used outside a unit of work (no cipher)")
    return cipher


class EncryptedText(TypeDecorator[str]):
    """A string stored as a Fernet token (TEXT)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _cipher().encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _cipher().decrypt_cached(value)


class EncryptedInt(TypeDecorator[int]):
    """A whole number stored as a Fernet token (TEXT)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"EncryptedInt expects an int, got {type(value).__name__}")
        return _cipher().encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(_cipher().decrypt_cached(value))
