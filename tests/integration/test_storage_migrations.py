from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from storage import Database
from storage.db import ENCRYPT_IDENTITY_REVISION
from storage.orm import Base

APP_TABLES = {t.name for t in Base.metadata.sorted_tables}
HEAD = "0015"  # the one place tests name the newest revision
TIERING_TABLES = {"screenings", "client_grades", "tier_changes", "alerts"}


def _ts(conn: Connection, value):
    """A datetime as the raw column wants it: aware on PostgreSQL, naive UTC on SQLite."""
    return value if conn.dialect.name == "postgresql" else value.replace(tzinfo=None)


def _seed_counsellor(conn: Connection, now, telegram_id: int = 1) -> int:
    return conn.execute(
        text(
            "INSERT INTO counsellors (telegram_id, display_name, is_admin, timezone, "
            "client_seq, created_at) VALUES (:t, 'A', false, 'Asia/Shanghai', 1, :now) "
            "RETURNING id"
        ),
        {"t": telegram_id, "now": _ts(conn, now)},
    ).scalar_one()


def _seed_client(conn: Connection, counsellor_id: int, now) -> int:
    return conn.execute(
        text(
            "INSERT INTO clients (counsellor_id, number, name, risk, created_at) "
            "VALUES (:c, 1, 'Li', 'low', :now) RETURNING id"
        ),
        {"c": counsellor_id, "now": _ts(conn, now)},
    ).scalar_one()


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_migrate_up_down_up(bare_db: Database, now, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no alembic.ini anywhere near: config is built in code
    assert not (_tables(bare_db) & APP_TABLES)
    bare_db.migrate()
    assert APP_TABLES <= _tables(bare_db)
    assert bare_db.current_revision() == HEAD

    bare_db.downgrade("base")
    assert not (_tables(bare_db) & APP_TABLES)
    assert bare_db.current_revision() is None

    bare_db.migrate()
    bare_db.migrate()  # idempotent: a second start changes nothing
    assert bare_db.current_revision() == HEAD
    with bare_db.uow() as uow:
        c = uow.counsellors.add(1, "A", False, now)
        assert uow.clients_of(c.id).add("Li", [], None, None, None, now).number == 1


def test_orm_models_match_the_migrations(db: Database):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_expected_indexes_exist(db: Database):
    with db.engine.connect() as conn:
        insp = inspect(conn)
        idx = {i["name"]: i for t in APP_TABLES for i in insp.get_indexes(t)}
        uniques = {u["name"] for u in insp.get_unique_constraints("clients")}
    assert "uq_clients_counsellor_id_number" in uniques
    assert "ix_clients_counsellor_id_name" not in idx  # names are encrypted: no index
    assert idx["ix_client_tags_client_id"]["column_names"] == ["client_id"]
    assert idx["ix_interactions_client_id_at"]["column_names"] == ["client_id", "at"]
    assert idx["ix_plan_items_client_id_due_at"]["column_names"] == ["client_id", "due_at"]
    assert idx["ix_plan_items_due_at_open"]["column_names"] == ["due_at"]
    assert idx["ix_screenings_client_id_instrument_at"]["column_names"] == [
        "client_id",
        "instrument",
        "at",
    ]
    assert idx["ix_tier_changes_client_id_at"]["column_names"] == ["client_id", "at"]
    assert idx["ix_alerts_status_realert_at"]["column_names"] == ["status", "realert_at"]
    assert idx["ix_alerts_counsellor_id_raised_at"]["column_names"] == [
        "counsellor_id",
        "raised_at",
    ]
    # the idle tick's scans (0012)
    assert idx["ix_client_grades_risk_next_contact_due"]["column_names"] == [
        "risk",
        "next_contact_due",
    ]
    assert idx["ix_client_grades_risk_review_due_at"]["column_names"] == ["risk", "review_due_at"]
    assert idx["ix_alerts_escalate_at_open"]["column_names"] == ["escalate_at"]
    # the tick's alerts not yet pushed (0013)
    assert idx["ix_alerts_raised_at_id_pending"]["column_names"] == ["raised_at", "id"]


def test_0002_upgrades_and_downgrades_over_existing_data(bare_db: Database, now):
    bare_db.migrate("0001")
    assert bare_db.current_revision() == "0001"
    assert not (_tables(bare_db) & TIERING_TABLES)
    # the ORM is at head (0003 added counsellor columns): seed the 0001 schema in SQL
    with bare_db.engine.begin() as conn:
        cid = _seed_counsellor(conn, now)
        client_id = _seed_client(conn, cid, now)
        conn.execute(
            text("INSERT INTO client_tags (client_id, tag) VALUES (:c, :t)"),
            {"c": client_id, "t": "贫困生"},
        )
    bare_db.migrate()
    assert bare_db.current_revision() == HEAD
    assert TIERING_TABLES <= _tables(bare_db)
    with bare_db.uow() as uow:
        assert uow.clients_of(cid).get(client_id).tags == ("贫困生",)
        assert uow.clinical_of(cid).grades(client_id) is None
    bare_db.downgrade("0001")
    assert bare_db.current_revision() == "0001"
    assert not (_tables(bare_db) & TIERING_TABLES)
    with bare_db.engine.connect() as conn:  # back in clear (encryption undone), the 0001 schema
        assert (
            conn.execute(text("SELECT name FROM clients WHERE id = :i"), {"i": client_id}).scalar()
            == "Li"
        )
        assert conn.execute(text("SELECT tag FROM client_tags")).scalar() == "贫困生"


def test_the_encryption_revision_constant_names_the_encrypting_migration():
    """bot/runtime.py vacuums a database upgraded from before ENCRYPT_IDENTITY_REVISION and the
    encryption tests migrate to the revision before it: it must follow a renumbering."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from storage.db import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg).get_revision(ENCRYPT_IDENTITY_REVISION)
    assert script.path.endswith(f"{ENCRYPT_IDENTITY_REVISION}_encrypt_identity.py")
    assert Database.revision_before(ENCRYPT_IDENTITY_REVISION) == script.down_revision


def test_0015_keeps_every_row_and_never_reuses_an_id(bare_db: Database, now):
    """Ids written into buttons and outbox keys are never handed to a newer row: on SQLite
    the tables are rebuilt with AUTOINCREMENT, rows and ids kept; PostgreSQL never reused."""
    from datetime import timedelta

    bare_db.migrate("0014")
    later = now + timedelta(days=1)
    with bare_db.uow() as uow:
        c = uow.counsellors.add(1, "A", False, now)
        client = uow.clients_of(c.id).add("Li", [], None, None, None, now)
        ids = [uow.pending.add(c.id, "next", {"n": n}, now, later) for n in range(3)]
        plan = uow.records_of(c.id).add_plan(
            client.id, kind="short", text="call", due_at=later, now=now
        )
    with bare_db.uow() as uow:  # the newest question is answered: its row goes
        assert uow.pending.consume(ids[-1], c.id, now) is not None
    with bare_db.engine.begin() as conn:  # the repeat of an alert deleted since (/undo)
        conn.execute(
            text(
                "INSERT INTO outbox (counsellor_id, kind, priority, dedupe_key, due_at, "
                "not_before, payload, status, attempts, created_at) VALUES (:c, 'realert', 0, "
                "'realert:5000:2', :now, :now, '{}', 'sent', 1, :now)"
            ),
            {"c": c.id, "now": _ts(conn, now)},
        )
    with bare_db.uow() as uow:
        # the newest client was forgotten before this revision: the audit trail names it
        gone = uow.clients_of(c.id).add("Wang", [], None, None, None, now)
        uow.staff.record(c.id, "forget", now, client_id=gone.id, client_number=gone.number)
        assert uow.clients_of(c.id).delete(gone.id)
    if bare_db.dialect == "sqlite":  # as a database before this revision has it
        with bare_db.engine.begin() as conn:
            conn.execute(text("DELETE FROM meta WHERE name = 'clients_forgotten_id'"))
    bare_db.migrate()
    assert bare_db.current_revision() == HEAD
    with bare_db.uow() as uow:
        assert uow.clients_of(c.id).add("Zhao", [], None, None, None, now).id > gone.id
        assert uow.pending.consume(ids[0], c.id, now).payload == {"n": 0}  # kept, same id
        assert uow.records_of(c.id).plan_item(plan.id).text == "call"
        fresh = uow.pending.add(c.id, "next", {"n": 9}, now, later)
    assert fresh > ids[-1], "a new row took the id of a deleted one"
    if bare_db.dialect == "sqlite":
        with bare_db.engine.connect() as conn:
            for table in ("alerts", "plan_items", "pending_inputs", "referrals", "risk_signals"):
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"),
                    {"t": table},
                ).scalar_one()
                assert "AUTOINCREMENT" in sql, table
            seq = conn.execute(
                text("SELECT seq FROM sqlite_sequence WHERE name = 'alerts'")
            ).scalar_one()
            assert seq > 5000  # past the alert the outbox still names
