"""Exceptions raised by the storage layer (no SQLAlchemy types leak out of here)."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for storage-layer errors."""


class DecryptionError(StorageError):
    """A stored field could not be decrypted (wrong or rotated-out CAREMAP_SECRET_KEY?).

    The message never contains the ciphertext or any plaintext.
    """


class ClientNotFound(StorageError, LookupError):
    """The client does not exist *for this counsellor* (another counsellor's client is
    indistinguishable from a missing one)."""


class AlreadyExists(StorageError, ValueError):
    """A unique value (e.g. a counsellor's telegram_id) is already taken."""


class AlreadyProcessed(StorageError):
    """The Telegram update this unit of work belongs to was handled before (a redelivery
    or a replay after a crash): nothing was written. See `Database.once`."""
