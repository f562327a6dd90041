from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from storage import Database, normalize_database_url, validate_database_url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqlite:///caremap.db", "sqlite+pysqlite:///caremap.db"),
        ("sqlite+pysqlite:////srv/c.db", "sqlite+pysqlite:////srv/c.db"),
        ("sqlite://", "sqlite+pysqlite://"),
        ("postgresql+psycopg://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_urls_accepted(url, expected):
    validate_database_url(url)
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "mysql://u:secretpw@h/db",
        "postgresql+psycopg2://u:secretpw@h/db",
        "postgresql+psycopg://u:secretpw@h",
        "sqlite://host/file.db",
    ],
)
def test_database_urls_refused_with_one_line(url):
    with pytest.raises(ValueError) as err:
        validate_database_url(url)
    message = str(err.value)
    assert "\n" not in message and message
    assert "secretpw" not in message


def test_sqlite_pragmas(sqlite_db: Database):
    with sqlite_db.engine.connect() as conn:
        get = lambda p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()  # noqa: E731
        assert get("journal_mode") == "wal"
        assert get("foreign_keys") == 1
        assert get("busy_timeout") == 30000
        assert get("synchronous") == 1  # NORMAL


def test_utc_round_trip(db: Database):
    shanghai = timezone(timedelta(hours=8))
    local = datetime(2026, 5, 1, 20, 15, 30, 123456, tzinfo=shanghai)
    with db.uow() as uow:
        c = uow.counsellors.add(7, "A", False, local)
        client = uow.clients_of(c.id).add("Wang", [], None, None, None, local)
    with db.uow(write=False) as uow:
        back = uow.clients_of(c.id).get(client.id)
        assert uow.counsellors.get(c.id).created_at == local
    assert back.created_at == local
    assert back.created_at.tzinfo is UTC
    assert back.created_at.hour == 12  # 20:15 in Shanghai is 12:15 UTC


def test_naive_datetime_refused(db: Database):
    with pytest.raises(ValueError, match="naive|timezone-aware"):
        with db.uow() as uow:
            uow.counsellors.add(8, "A", False, datetime(2026, 1, 1, 9, 0))
    with db.uow(write=False) as uow:
        assert uow.counsellors.list_all() == []


def test_utcdatetime_type_refuses_naive_even_below_the_repositories(db: Database):
    from storage.orm import ProcessedUpdateRow

    with pytest.raises(Exception, match="naive"):
        with db.uow() as uow:
            uow.session.add(ProcessedUpdateRow(update_id=1, processed_at=datetime(2026, 1, 1)))
            uow.session.flush()


def test_rollback_on_exception_leaves_nothing(db: Database, now):
    with db.uow() as uow:
        c = uow.counsellors.add(1, "A", False, now)
    with pytest.raises(RuntimeError):
        with db.uow() as uow:
            repo = uow.clients_of(c.id)
            records = uow.records_of(c.id)
            client = repo.add("Zhao", ["tag"], None, None, None, now)
            records.add_interaction(client.id, now, "face", "talked", now)
            repo.set_status(client.id, by_counsellor_id=c.id, now=now, trust=3)
            uow.updates.claim(99, now)
            raise RuntimeError("boom")
    with db.uow(write=False) as uow:
        assert uow.clients_of(c.id).list() == []
    with db.uow() as uow:
        assert uow.updates.claim(99, now) is True  # the claim was rolled back too
        # the number handed out in the failed unit was rolled back as well
        assert uow.clients_of(c.id).add("Qian", [], None, None, None, now).number == 1
    with db.engine.connect() as conn:
        for table in ("interactions", "status_changes", "client_tags"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_read_unit_never_commits(db: Database, now):
    try:
        with db.uow(write=False) as uow:
            uow.counsellors.add(1, "A", False, now)
    except Exception:
        pass  # PostgreSQL refuses writes in a READ ONLY transaction outright
    with db.uow(write=False) as uow:
        assert uow.counsellors.list_all() == []


def test_repository_unusable_after_the_unit_ends(db: Database):
    with db.uow() as uow:
        repo = uow.counsellors
    with pytest.raises(RuntimeError, match="ended"):
        repo.list_all()


def test_in_memory_sqlite_works(cipher, now):
    db = Database("sqlite://", cipher)
    db.migrate()
    with db.uow() as uow:
        uow.counsellors.add(1, "A", True, now)
    with db.uow(write=False) as uow:
        assert [c.telegram_id for c in uow.counsellors.list_admins()] == [1]
    db.dispose()


def test_refresh_statistics_vacuums_and_analyzes_what_changed(db: Database, now):
    """PostgreSQL: a table changed by more than a tenth since its last analyze is vacuumed
    and analyzed (autovacuum's rule: the re-grade's reads are planned from statistics even
    where autovacuum is off), and then is not stale any more. SQLite: nothing to do."""
    if db.dialect != "postgresql":
        assert db.refresh_statistics() == []
        return
    with db.uow() as uow:
        for update_id in range(1, 301):
            assert uow.updates.claim(update_id, now)
    refreshed: list[str] = []
    deadline = time.monotonic() + 10  # the server's activity statistics arrive within ~1 s
    while "processed_updates" not in refreshed and time.monotonic() < deadline:
        refreshed = db.refresh_statistics()
        time.sleep(0.2)
    assert "processed_updates" in refreshed
    assert "processed_updates" not in db.refresh_statistics()
    with db.engine.connect() as conn:
        analyzed = conn.exec_driver_sql(
            "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema() AND relname = 'processed_updates'"
        ).scalar()
    assert analyzed is True
