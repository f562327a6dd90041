"""Integration fixtures: every storage test runs on a real SQLite file and, when
CAREMAP_TEST_POSTGRES_URL is set, on PostgreSQL in a fresh schema of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from storage import Cipher, Database, normalize_database_url
from tests.seeding import scratch_schema

PG_ENV = "CAREMAP_TEST_POSTGRES_URL"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def postgres_base_url() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    return normalize_database_url(url) if url else None


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def cipher() -> Cipher:
    return Cipher(Cipher.generate_key())


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a brand-new schema, dropped afterwards."""
    base = postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://user@host/db)")
    with scratch_schema(base) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'caremap.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def bare_db(db_url: str, cipher: Cipher) -> Iterator[Database]:
    """A Database with no schema yet."""
    db = Database(db_url, cipher)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def db(bare_db: Database) -> Database:
    bare_db.migrate()
    return bare_db


@pytest.fixture
def sqlite_db(tmp_path, cipher: Cipher) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'caremap.db'}", cipher)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()
