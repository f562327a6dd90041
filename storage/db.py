"""The database: engine setup, migrations, units of work."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from storage.crypto import Cipher
from storage.errors import AlreadyProcessed
from storage.once import INBOX_TURN, ONCE, Once
from storage.orm import Base
from storage.sqltypes import reset_cipher, set_cipher
from storage.uow import UnitOfWork

log = logging.getLogger("caremap.storage")

__all__ = ["Database", "validate_database_url", "normalize_database_url"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: The migration that replaced the clear identifying columns by encrypted ones (issue 14,
#: versions/*_encrypt_identity.py). The only place outside that file naming its number: a
#: database upgraded from before it is vacuumed (bot/runtime.py); tests migrate to the
#: revision just before it (`revision_before`). Renumbering: change the file and this line
#: (tests/integration/test_storage_migrations.py checks they agree).
ENCRYPT_IDENTITY_REVISION = "0009"

_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_PG_REWRITE = {"postgresql", "postgres", "postgresql+psycopg"}
_SUPPORTED = "use sqlite:///path/to/file.db or postgresql+psycopg://user:password@host/dbname"

# execution option read by the SQLite "begin" hook: which BEGIN to emit
_BEGIN_OPTION = "caremap_sqlite_begin"
# how long a SQLite writer waits for this process's other writers before it goes on to
# SQLite's own busy timeout (the same 30 s)
_WRITER_WAIT = 30.0


def _parse(url: str) -> URL:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"DATABASE_URL is empty: {_SUPPORTED}")
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError):
        # do not echo the URL: it may carry a password
        raise ValueError(f"DATABASE_URL is not a valid database URL: {_SUPPORTED}") from None
    driver = parsed.drivername.lower()
    if driver in _SQLITE_DRIVERS:
        if parsed.host or parsed.username or parsed.password or parsed.port:
            raise ValueError(
                "DATABASE_URL: a SQLite URL takes no host; use three slashes for a relative "
                "path (sqlite:///caremap.db) or four for an absolute one (sqlite:////srv/caremap.db)"
            )
        return parsed.set(drivername="sqlite+pysqlite")
    if driver in _PG_REWRITE:
        if not parsed.database:
            raise ValueError(
                "DATABASE_URL: the PostgreSQL URL names no database "
                "(postgresql+psycopg://user:password@host/dbname)"
            )
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"DATABASE_URL: unsupported database {parsed.drivername!r}: {_SUPPORTED}")


def normalize_database_url(url: str) -> str:
    """The URL as the engine will use it (postgresql:// and postgres:// → psycopg 3).

    Raises ValueError with a one-line message for a malformed or unsupported URL.
    """
    return _parse(url).render_as_string(hide_password=False)


def validate_database_url(url: str) -> None:
    """Raise ValueError (one line, no password in it) unless `url` is usable."""
    _parse(url)


def _install_sqlite_hooks(engine: Engine) -> None:
    """SQLAlchemy's documented pysqlite recipe: pysqlite's own transaction handling is
    disabled and we emit BEGIN ourselves, IMMEDIATE for write units of work so that a
    read-then-write transaction takes the write lock up front (and waits for it under
    busy_timeout) instead of failing with "database is locked" on upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from pysqlite
        cur = dbapi_connection.cursor()
        try:
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")  # persistent; "memory" for :memory:
            cur.execute("PRAGMA synchronous = NORMAL")
            # deleted rows (a forgotten client) are overwritten with zeros, not left in free pages
            cur.execute("PRAGMA secure_delete = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


class Database:
    """`Database(url, cipher)`; `with db.uow(write=True) as uow: …`."""

    def __init__(self, url: str, cipher: Cipher, *, echo: bool = False) -> None:
        parsed = _parse(url)
        self._url = parsed
        self.display_url = parsed.render_as_string(hide_password=True)  # safe to log
        self.cipher = cipher
        self.dialect = parsed.get_backend_name()
        self.sqlite_path: Path | None = None
        if self.dialect == "sqlite":
            memory = not parsed.database or parsed.database == ":memory:"
            kwargs: dict[str, Any] = {
                "connect_args": {"check_same_thread": False, "timeout": 30},
            }
            if memory:
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
            else:
                path = Path(str(parsed.database)).expanduser().resolve()
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    # owner-only from the first byte; SQLite gives the -wal and -shm
                    # files the database file's permissions
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
                self.sqlite_path = path
            engine = create_engine(parsed, echo=echo, hide_parameters=True, **kwargs)
            _install_sqlite_hooks(engine)
            self._write_engine: Engine = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            self._read_engine = engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        else:
            engine = create_engine(parsed, echo=echo, pool_pre_ping=True, hide_parameters=True)
            self._write_engine = engine
            self._read_engine = engine.execution_options(postgresql_readonly=True)
        # a long read that must see one state of the database across its statements
        # (`uow(write=False, snapshot=True)`: /export). SQLite's deferred BEGIN already
        # reads one snapshot (WAL) without taking the write lock; PostgreSQL's default READ
        # COMMITTED takes a new one per statement, REPEATABLE READ keeps the first.
        self._snapshot_engine = (
            self._read_engine
            if self.dialect == "sqlite"
            else self._read_engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self.engine = engine
        # SQLite lets one writer in at a time; a writer that finds the lock taken waits in
        # SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between tries, so two threads
        # of this process writing at once (the inbox storing a batch while a handler
        # commits a /log) lose tens of milliseconds. They queue here instead and go in the
        # moment the other commits. (Other processes still meet SQLite's own lock.)
        self._sqlite_writers: threading.RLock | None = (
            threading.RLock() if self.dialect == "sqlite" else None
        )
        self._urgent_listeners: list[Callable[[list[int]], None]] = []

    # -- migrations -------------------------------------------------------------------

    def _alembic_config(self, connection: Connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = connection
        cfg.attributes["cipher"] = self.cipher  # data migrations that encrypt rows
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """`alembic upgrade head`, in code; safe to call on every start. On PostgreSQL a run
        that applied a revision ends with `analyze()` (a new index or a migrated table is
        planned from fresh statistics at once, not after autovacuum's next visit)."""
        before = self.current_revision()
        with self._write_engine.begin() as conn:
            command.upgrade(self._alembic_config(conn), revision)
        if before is not None and self.current_revision() != before:
            self.analyze()

    def analyze(self) -> None:
        """Refresh the query planner's statistics after a bulk change (PostgreSQL: ANALYZE,
        a few seconds at 100,000 clients; it takes no lock that blocks reads or writes).
        Without them PostgreSQL plans a freshly loaded table as if it were empty, and the
        re-grade's and the tick's reads cost several times more. Autovacuum does the same
        in the background where it is on. SQLite: nothing (its plans here come from the
        indexes alone, and its figures are measured without statistics)."""
        if self.dialect != "postgresql":
            return
        # this schema's tables only (as search_path finds them), not the whole database's
        tables = ", ".join(f'"{name}"' for name in sorted(Base.metadata.tables))
        with self._write_engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {tables}")
            conn.commit()

    def refresh_statistics(self) -> list[str]:
        """PostgreSQL: VACUUM (ANALYZE) the tables of this schema changed by more than a
        tenth (and 50 rows) since their last analyze, autovacuum's own rule, for a server
        where autovacuum is off or has not come round yet (a bulk import, a re-grade that
        rewrote many grades): fresh statistics for the planner, and a visibility map for
        the tick's index-only scans. Neither blocks reads or writes. One query when nothing
        is stale. Returns the tables refreshed (SQLite: none)."""
        if self.dialect != "postgresql":
            return []
        with self._write_engine.connect() as conn:
            stale = [
                name
                for (name,) in conn.exec_driver_sql(
                    "SELECT relname FROM pg_stat_user_tables "
                    "WHERE schemaname = current_schema() "
                    "AND n_mod_since_analyze > 50 + 0.1 * GREATEST(n_live_tup, 0) "
                    "ORDER BY relname"
                )
                if name in Base.metadata.tables
            ]
            conn.rollback()
            if stale:  # VACUUM runs outside a transaction
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(f'"{name}"' for name in stale))
        return stale

    def downgrade(self, revision: str) -> None:
        with self._write_engine.begin() as conn:
            command.downgrade(self._alembic_config(conn), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self._read_engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def revision_before(revision: str) -> str | None:
        """The revision `revision` follows in the migration chain (its down_revision)."""
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        script = ScriptDirectory.from_config(cfg).get_revision(revision)
        if script is None:
            raise ValueError(f"no migration {revision!r}")
        down = script.down_revision
        return down if isinstance(down, str) or down is None else down[0]

    # -- units of work ----------------------------------------------------------------

    @contextmanager
    def once(
        self,
        update_id: int,
        now: datetime,
        *,
        state: Once | None = None,
        fingerprint: str | None = None,
    ) -> Iterator[Once]:
        """Make the work inside idempotent for one Telegram update: the first write unit
        of work opened inside records `update_id` as processed in its own transaction, or,
        if it already was, rolls back and raises `AlreadyProcessed`. A use case that claims
        the update itself (`uow.updates.claim`) inside is fine: the claim is this handling's.
        Pass the same `state` to several blocks of one handling (a contextvar: same thread
        or task)."""
        if state is None:
            state = Once(update_id, now, fingerprint)
        elif state.update_id != update_id:
            raise ValueError("a Once state belongs to one update")
        token = ONCE.set(state)
        try:
            yield state
        finally:
            ONCE.reset(token)

    @contextmanager
    def uow(self, write: bool = True, *, snapshot: bool = False) -> Iterator[UnitOfWork]:
        """One Session, one transaction. A write unit commits on normal exit; any
        exception rolls the whole unit back. A read unit (`write=False`) never commits
        (on PostgreSQL it runs READ ONLY); with `snapshot=True` every statement of it sees
        the same state of the database (PostgreSQL: REPEATABLE READ; SQLite's read
        transaction does already), for reads spread over many statements (/export)."""
        if snapshot and write:
            raise ValueError("snapshot is for read units of work")
        engine = (
            self._snapshot_engine
            if snapshot
            else (self._write_engine if write else self._read_engine)
        )
        # SQLite: this process's writers queue on a lock of ours rather than on SQLite's
        # busy handler, which polls with sleeps of up to 100 ms (see `_sqlite_writers`)
        lock = self._sqlite_writers if write else None
        held = lock is not None and lock.acquire(timeout=_WRITER_WAIT)
        try:
            with self._unit(engine, write) as unit:
                yield unit
        finally:
            if held and lock is not None:
                lock.release()
        # committed: a new crisis/high alert goes out at once (no lock held meanwhile)
        if write and unit.urgent_outbox_ids and self._urgent_listeners:
            self._announce_urgent(list(unit.urgent_outbox_ids))

    @contextmanager
    def _unit(self, engine: Engine, write: bool) -> Iterator[UnitOfWork]:
        with Session(engine, expire_on_commit=False, autoflush=True) as session:
            unit = UnitOfWork(session, self.cipher, dialect=self.dialect)
            scope = set_cipher(self.cipher)  # the encrypted column types use it
            try:
                once = ONCE.get() if write else None
                inbox_turn = None
                if once is not None and not once.committed and once.pending is None:
                    if not unit.updates.claim(once.update_id, once.now, once.fingerprint):
                        raise AlreadyProcessed(once.update_id)
                    once.pending = unit
                    inbox_turn = INBOX_TURN.get()
                    if inbox_turn is not None and inbox_turn.update_id == once.update_id:
                        # the inbox row is done with the claim, in the same transaction
                        unit.inbox.mark_handled([once.update_id], once.now)
                    else:
                        inbox_turn = None
                yield unit
                if write:
                    session.commit()
                    if once is not None and once.pending is unit:
                        once.committed, once.pending = True, None
                    if inbox_turn is not None:
                        inbox_turn.marked = True
                else:
                    session.rollback()
            except BaseException:
                session.rollback()
                if once is not None and once.pending is unit:
                    once.pending = None  # the claim went with the rollback
                raise
            finally:
                reset_cipher(scope)
                unit._close()

    def on_urgent(self, listener: Callable[[list[int]], None]) -> Callable[[], None]:
        """Call `listener(outbox_ids)` after every commit that enqueued urgent outbox rows
        (a crisis or high alert), from the committing thread; returns an unsubscribe
        function. The bot uses it to send a new alert at once, ahead of the queue."""
        self._urgent_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._urgent_listeners:
                self._urgent_listeners.remove(listener)

        return unsubscribe

    def _announce_urgent(self, ids: list[int]) -> None:
        for listener in list(self._urgent_listeners):
            try:
                listener(ids)
            except Exception:  # noqa: BLE001 - the committed rows go out on the next tick anyway
                log.exception("an urgent-delivery listener failed; the tick will send the rows")

    def scrub(self) -> None:
        """SQLite: copy the write-ahead log into the database and truncate it, so frames
        holding deleted rows do not linger in the -wal file. No-op on PostgreSQL (and
        harmless when a reader keeps the log busy: the next checkpoint finishes the job)."""
        if self.dialect != "sqlite":
            return
        raw = self.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()

    def tighten_files(self) -> list[Path]:
        """SQLite: make the database, -wal and -shm files owner-only where they are not;
        returns the files changed (a database created before this check, or copied in)."""
        if self.sqlite_path is None:
            return []
        changed = []
        for path in (
            self.sqlite_path,
            self.sqlite_path.with_name(self.sqlite_path.name + "-wal"),
            self.sqlite_path.with_name(self.sqlite_path.name + "-shm"),
        ):
            try:
                mode = path.stat().st_mode & 0o777
                if mode & 0o077:
                    os.chmod(path, mode & 0o700)
                    changed.append(path)
            except FileNotFoundError:
                continue
        return changed

    def vacuum(self) -> None:
        """SQLite: rebuild the file (after a migration that replaced clear columns by
        encrypted ones, so no clear page survives) and truncate the log."""
        if self.dialect != "sqlite":
            return
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("VACUUM")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"
