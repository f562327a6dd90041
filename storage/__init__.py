"""CareMap persistence: SQLAlchemy models, Alembic migrations, repositories, the unit of
work and field encryption. Nothing outside this package imports SQLAlchemy."""

from storage.crypto import Cipher
from storage.db import Database, normalize_database_url, validate_database_url
from storage.dto import Alert, Invite, OutboxItem, Pending
from storage.errors import AlreadyExists, ClientNotFound, DecryptionError, StorageError
from storage.keys import resolve_secret_key
from storage.uow import UnitOfWork

__all__ = [
    "Alert",
    "AlreadyExists",
    "Cipher",
    "ClientNotFound",
    "Database",
    "DecryptionError",
    "Invite",
    "OutboxItem",
    "Pending",
    "StorageError",
    "UnitOfWork",
    "normalize_database_url",
    "resolve_secret_key",
    "validate_database_url",
]
