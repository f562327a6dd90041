"""The passage of time re-grades clients: contact lapses raise the tier, with history and alerts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from domain import grammar
from domain.model import Risk
from services import clients, invites, logs, records
from services.grading import default_rules, regrade_everyone
from storage import Cipher, Database

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
RULES = default_rules()


def make_db(tmp_path) -> Database:
    db = Database(f"sqlite+pysqlite:///{tmp_path / 't.db'}", Cipher(Cipher.generate_key()))
    db.migrate()
    return db


def test_contact_gap_raises_tier_over_time_and_is_kept_in_history(tmp_path):
    db = make_db(tmp_path)
    admin = invites.ensure_admin(db, 1, "Li", NOW, "Asia/Shanghai")
    added = clients.add_client(db, admin, grammar.parse_new("王芳"), NOW, update_id=1, rules=RULES)
    logs.log_conversation(db, admin, "王芳 first talk", NOW, update_id=2, rules=RULES)
    with db.uow(write=False) as uow:
        assert uow.clinical_of(admin.id).grades(added.client.id).risk is Risk.LOW
    first = regrade_everyone(db, NOW + timedelta(days=1), rules=RULES)
    assert first == {"clients": 1, "changed": 0, "alerts": 0}
    # Low tier: contact every 60 days; the contact is long overdue after 2x that → at least medium.
    later = NOW + timedelta(days=125)
    counts = regrade_everyone(db, later, rules=RULES)
    assert counts["clients"] == 1 and counts["changed"] == 1
    with db.uow(write=False) as uow:
        repo = uow.clinical_of(admin.id)
        grades = repo.grades(added.client.id)
        history = repo.tier_history(added.client.id)
    assert grades.risk is Risk.MEDIUM
    assert any(r.code == "contact_gap" for r in grades.risk_reasons)
    assert history[0].dimension in {"risk", "frequency"}
    assert any(h.dimension == "risk" and h.old == "low" and h.new == "medium" for h in history)
    db.dispose()


def test_rising_to_high_stores_an_alert_in_the_same_transaction(tmp_path):
    db = make_db(tmp_path)
    admin = invites.ensure_admin(db, 1, "Li", NOW, "Asia/Shanghai")
    clients.add_client(db, admin, grammar.parse_new("学生B"), NOW, update_id=1, rules=RULES)
    result = records.set_status(db, admin, "学生B risk=high", NOW, update_id=2, rules=RULES)
    assert result.grading is not None and result.grading.alert is not None
    assert result.grading.alert.tier is Risk.HIGH
    con = sqlite3.connect(tmp_path / "t.db")
    rows = con.execute("select tier, status from alerts").fetchall()
    con.close()
    assert rows == [("high", "pending")]
    # The same update handled twice (a retry after a crash) changes nothing more.
    again = records.set_status(db, admin, "学生B risk=crisis", NOW, update_id=2, rules=RULES)
    assert isinstance(again, clients.AlreadyHandled)
    db.dispose()
