"""Everything that describes a person is encrypted at rest (issue 14).

After a client is seeded with a name, student number, major, tags, a status change and a
PHQ-9 (item 9 > 0), neither the SQLite file with its -wal nor pg_dump holds any of them,
and every column outside the documented clear list holds only Fernet tokens."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from domain.matching import folded_name
from domain.screening import score
from storage import Cipher, Database
from storage.db import ENCRYPT_IDENTITY_REVISION
from tests.integration.test_storage_migrations import HEAD

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
NAME, SID, MAJOR, GRADE = "欧阳慧敏", "2025099173", "临床心理学", "2025级"
TAGS = ("自伤史", "贫困生", "精神科诊断")
LATER_TAG = "家庭变故"
SECRETS = (NAME, SID, MAJOR, GRADE, *TAGS, LATER_TAG, "moderately_severe")

# Exactly what stays in clear (README, Privacy): ids and links, the owner, tiers and risk
# levels, instrument names, category codes, dates and delivery state: what scheduling,
# ordering and scoping need. Everything else is a Fernet token.
CLEAR = {
    "alembic_version": {"version_num"},
    "meta": {"name"},  # value is the key check token
    "counsellors": {
        "id",
        "telegram_id",
        "display_name",
        "is_admin",
        "language",
        "timezone",
        "supervisor_id",
        "client_seq",
        "created_at",
        "agenda_at",
        "quiet_hours",
        "telegram_language",
        "deactivated_at",
    },
    "audit_log": {"id", "at", "actor_id", "action", "client_id", "client_number", "target_id"},
    "invites": {"id", "code_hash", "created_by", "created_at", "expires_at", "used_at", "used_by"},
    "clients": {"id", "counsellor_id", "number", "risk", "created_at", "last_contact_at"},
    "client_tags": {"id", "client_id"},
    "needs": {"id", "client_id", "explicit", "source", "created_at"},
    "interactions": {"id", "client_id", "at", "channel", "created_at", "outcome"},
    "plan_items": {
        "id",
        "client_id",
        "kind",
        "due_at",
        "done_at",
        "created_at",
        "reminded_due_at",
        "series_id",
        "seq",
    },
    "plan_series": {
        "id",
        "client_id",
        "every",
        "first_due",
        "until_at",
        "stop_below",
        "created_at",
        "ended_at",
        "end_reason",
    },
    "client_details": {"client_id", "payer", "pay_capacity"},  # issue 15: value tier inputs
    "status_changes": {"id", "client_id", "counsellor_id", "at", "field"},
    "referrals": {"id", "client_id", "status", "created_at", "updated_at"},
    "pending_inputs": {"id", "counsellor_id", "kind", "created_at", "expires_at"},
    "processed_updates": {"update_id", "processed_at"},
    "screenings": {"id", "client_id", "instrument", "at"},
    "client_grades": {
        "client_id",
        "risk",
        "risk_rank",
        "graded_at",
        "tier_set_at",
        "review_due_at",
        "next_contact_due",
        "contact_latest_at",
    },
    # issue 11: safety checks and risk-phrase signals (answers and phrases encrypted)
    "safety_checks": {"id", "client_id", "counsellor_id", "at", "result", "trigger"},
    "risk_signals": {
        "id",
        "client_id",
        "counsellor_id",
        "at",
        "source",
        "outcome",
        "reason",
        "resolved_at",
    },
    "tier_changes": {"id", "client_id", "at", "dimension", "old", "new", "by_counsellor_id"},
    "alerts": {
        "id",
        "client_id",
        "counsellor_id",
        "tier",
        "previous",
        "raised_at",
        "respond_by",
        "realert_minutes",
        "escalate_minutes",
        "realert_at",
        "escalate_at",
        "acknowledged_at",
        "status",
        "escalated_at",
        "realert_count",
        "message_id",
        "sent_at",
    },
    "outbox": {
        "id",
        "counsellor_id",
        "client_id",
        "kind",
        "priority",
        "dedupe_key",
        "due_at",
        "not_before",
        "payload",
        "status",
        "attempts",
        "claimed_at",
        "claimed_by",
        "sent_at",
        "failed_at",
        "message_id",
        "last_error",
        "created_at",
        "lease_until",
    },
    # issue 10: the send budget shared by every process (rate-limit key "all" / "chat:<telegram id>")
    "send_slots": {"key", "tat"},
    # issue 10: the update inbox (the update itself is encrypted in payload_enc)
    "inbox": {"update_id", "received_at", "handled_at"},
}
# Neither clear nor a token (README, Privacy): the name's blind index, a keyed HMAC of the
# folded name (storage/crypto.py `Cipher.blind_index`): equal names show, a name never does.
BLIND = {("clients", "name_key")}


def _seed(db: Database) -> tuple[int, int]:
    with db.uow() as uow:
        c = uow.counsellors.add(1001, "Li", True, NOW)
        repo = uow.clients_of(c.id)
        records = uow.records_of(c.id)
        clinical = uow.clinical_of(c.id)
        client = repo.add(NAME, list(TAGS), SID, MAJOR, GRADE, NOW)
        repo.set_status(
            client.id, by_counsellor_id=c.id, now=NOW, trust=2, satisfaction=3, risk="high"
        )
        repo.change_tags(
            client.id, add=[LATER_TAG], remove=["贫困生"], by_counsellor_id=c.id, now=NOW
        )
        clinical.add_screening(
            client.id, score("phq9", [2, 2, 2, 2, 2, 2, 2, 1, 1]), NOW
        )  # 16, item 9 = 1
        records.add_interaction(client.id, NOW, "face", "谈了很久", NOW)
    return c.id, client.id


def _assert_every_other_column_is_a_token(db: Database) -> int:
    checked = 0
    with db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            assert table in CLEAR, f"new table {table}: list its clear columns here and in README"
            for col in (c["name"] for c in inspect(conn).get_columns(table)):
                if col in CLEAR[table] or (table == "meta" and col == "value"):
                    continue
                for (value,) in conn.execute(text(f"SELECT {col} FROM {table}")):
                    if value is not None and (table, col) in BLIND:
                        # keyed: the HMAC of a seeded name under this database's key, no other
                        assert re.fullmatch("[0-9a-f]{32}", value), (table, col, value)
                        assert value in {db.cipher.blind_index(folded_name(s)) for s in SECRETS}, (
                            table,
                            col,
                        )
                        assert value not in {
                            Cipher(Cipher.generate_key()).blind_index(folded_name(NAME))
                        }
                    elif value is not None:
                        assert isinstance(value, str) and value.startswith("gAAAAA"), (
                            table,
                            col,
                            value,
                        )
                        checked += 1
    return checked


def _assert_reads_back(db: Database, counsellor_id: int, client_id: int) -> None:
    with db.uow(write=False) as uow:
        repo = uow.clients_of(counsellor_id)
        clinical = uow.clinical_of(counsellor_id)
        client = repo.get(client_id)
        assert (client.name, client.sid, client.major, client.grade) == (NAME, SID, MAJOR, GRADE)
        assert set(client.tags) == {"自伤史", "精神科诊断", LATER_TAG}
        assert (client.trust, client.satisfaction) == (2, 3)
        [phq] = clinical.screenings(client_id)
        assert (phq.total, phq.band, phq.item9) == (16, "moderately_severe", 1)
        history = {(h.field, h.old, h.new) for h in repo.history(client_id)}
        assert ("tag", "贫困生", None) in history and ("trust", None, "2") in history
        assert [c.name for c in repo.list()] == [NAME]


def test_sqlite_file_and_wal_hold_no_identifying_fact(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'caremap.db'}", Cipher(Cipher.generate_key()))
    db.migrate()
    try:
        counsellor_id, client_id = _seed(db)
        wal = tmp_path / "caremap.db-wal"
        assert wal.stat().st_size > 0  # the seed is (at least partly) still in the log
        blob = (tmp_path / "caremap.db").read_bytes() + wal.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in blob, secret
        assert _assert_every_other_column_is_a_token(db) >= 12
        _assert_reads_back(db, counsellor_id, client_id)
    finally:
        db.dispose()


def test_pg_dump_holds_no_identifying_fact(pg_schema_url):
    db = Database(pg_schema_url, Cipher(Cipher.generate_key()))
    db.migrate()
    try:
        counsellor_id, client_id = _seed(db)
        url = make_url(pg_schema_url)
        schema = url.query["options"].split("search_path=")[1]
        pg_dump = shutil.which("pg_dump")
        if pg_dump is not None:
            env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
            dump = subprocess.run(
                [
                    pg_dump,
                    "-h",
                    url.host or "127.0.0.1",
                    "-p",
                    str(url.port or 5432),
                    "-U",
                    url.username or "postgres",
                    "-d",
                    url.database,
                    "-n",
                    schema,
                    "--data-only",
                ],
                capture_output=True,
                check=True,
                timeout=60,
                env=env,
            ).stdout.decode("utf-8")
            assert "gAAAAA" in dump  # the dump did include the rows
        else:  # the tables read raw
            with db.engine.connect() as conn:
                dump = "\n".join(
                    str(tuple(row))
                    for t in inspect(conn).get_table_names()
                    for row in conn.execute(text(f"SELECT * FROM {t}"))
                )
        for secret in SECRETS:
            assert secret not in dump, secret
        assert _assert_every_other_column_is_a_token(db) >= 12
        _assert_reads_back(db, counsellor_id, client_id)
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_encrypting_migration_encrypts_existing_rows_and_its_downgrade_restores_them(
    dialect, tmp_path, request
):
    url = (
        f"sqlite:///{tmp_path / 'caremap.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("pg_schema_url")
    )
    cipher = Cipher(Cipher.generate_key())
    db = Database(url, cipher)
    before = Database.revision_before(ENCRYPT_IDENTITY_REVISION)
    try:
        db.migrate(before)
        ts = NOW if dialect == "postgresql" else NOW.replace(tzinfo=None)
        with (
            db.engine.begin() as conn
        ):  # rows as a database from before the migration holds them: in clear
            cid = conn.execute(
                text(
                    "INSERT INTO counsellors (telegram_id, display_name, is_admin, timezone, client_seq, created_at) "
                    "VALUES (1001, 'Li', true, 'Asia/Shanghai', 1, :t) RETURNING id"
                ),
                {"t": ts},
            ).scalar_one()
            client_id = conn.execute(
                text(
                    "INSERT INTO clients (counsellor_id, number, name, sid, major, grade, trust, satisfaction, risk, created_at) "
                    "VALUES (:c, 1, :n, :s, :m, :g, 2, 3, 'high', :t) RETURNING id"
                ),
                {"c": cid, "n": NAME, "s": SID, "m": MAJOR, "g": GRADE, "t": ts},
            ).scalar_one()
            for tag in TAGS:
                conn.execute(
                    text("INSERT INTO client_tags (client_id, tag) VALUES (:c, :t)"),
                    {"c": client_id, "t": tag},
                )
            conn.execute(
                text(
                    "INSERT INTO screenings (client_id, instrument, answers_enc, total, band, item9, at) "
                    "VALUES (:c, 'phq9', :a, 16, 'moderately_severe', 1, :t)"
                ),
                {"c": client_id, "a": cipher.encrypt("[2,2,2,2,2,2,2,1,1]"), "t": ts},
            )
            conn.execute(
                text(
                    "INSERT INTO status_changes (client_id, counsellor_id, at, field, old, new) "
                    "VALUES (:c, :k, :t, 'tag', '贫困生', NULL)"
                ),
                {"c": client_id, "k": cid, "t": ts},
            )
        db.migrate()
        assert db.current_revision() == HEAD
        _assert_every_other_column_is_a_token(db)
        with db.uow() as uow:
            repo = uow.clients_of(cid)
            clinical = uow.clinical_of(cid)
            client = repo.get(client_id)
            assert (client.name, client.sid, client.trust, client.tags) == (NAME, SID, 2, TAGS)
            assert [c.id for c in repo.named(folded_name(NAME))] == [
                client_id
            ]  # 0011 indexed the row
            assert clinical.screenings(client_id)[0].item9 == 1
            repo.add_tags(client_id, ["新标签"])  # ids continue after the copied rows (PG sequence)
        db.downgrade(before)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT name, sid, trust FROM clients")).one() == (
                NAME,
                SID,
                2,
            )
            assert [
                r[0] for r in conn.execute(text("SELECT tag FROM client_tags ORDER BY id"))
            ] == [*TAGS, "新标签"]
            assert conn.execute(text("SELECT total, band, item9 FROM screenings")).one() == (
                16,
                "moderately_severe",
                1,
            )
    finally:
        db.dispose()
