"""/forget cascades and /undo, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from domain import grammar
from services import caseload, clients, logs, records, screenings
from services import undo as undo_service
from services.grading import default_rules
from storage import Database

RULES = default_rules()
CHILD_TABLES = (
    "client_tags",
    "interactions",
    "needs",
    "plan_items",
    "status_changes",
    "referrals",
    "screenings",
    "client_grades",
    "tier_changes",
    "alerts",
    "outbox",
    "safety_checks",
    "risk_signals",
)


def _counsellor(db: Database, telegram_id: int, now):
    with db.uow() as uow:
        return uow.counsellors.add(
            telegram_id=telegram_id, display_name=f"c{telegram_id}", is_admin=False, now=now
        )


def _full_client(db: Database, actor, name: str, now) -> int:
    added = clients.add_client(
        db, actor, grammar.parse_new(f"{name} #贫困生 sid=1"), now, None, rules=RULES
    )
    cid = added.client.id
    logs.log_conversation(
        db,
        actor,
        f"{name} notes about family, 不想活 #tutoring trust=2 risk=crisis next=1d",
        now,
        None,
        rules=RULES,
    )
    screenings.screening(db, actor, "phq9", f"{name} 3 3 3 3 3 3 3 3 3", now, None, rules=RULES)
    from services import crisis

    prompt = crisis.start_check(db, actor, cid, "cr", now)
    assert isinstance(
        crisis.check_step(db, actor, prompt.pending_id, "yyyyyyy", now, rules=RULES),
        crisis.SafetyDone,
    )
    records.add_goal(db, actor, f"{name} graduate", now, None, rules=RULES)
    with db.uow() as uow:
        uow.records_of(actor.id).add_referral(cid, "counselling centre", "suggested", now)
        uow.outbox.enqueue(
            counsellor_id=actor.id,
            kind="cadence",
            dedupe_key=f"cadence:{cid}:x",
            due_at=now,
            priority=5,
            payload={"client_id": cid},
            now=now,
            client_id=cid,
        )
    return cid


def _rows(db: Database, client_id: int) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            t: conn.execute(
                text(f"SELECT count(*) FROM {t} WHERE client_id = :c"), {"c": client_id}
            ).scalar()
            for t in CHILD_TABLES
        }


def test_forget_removes_every_row_of_the_client_only(db: Database, now):
    alice, bob = _counsellor(db, 1, now), _counsellor(db, 2, now)
    mine = _full_client(db, alice, "王芳", now)
    other = _full_client(db, bob, "王芳", now)
    before, other_before = _rows(db, mine), _rows(db, other)
    assert all(before[t] >= 1 for t in CHILD_TABLES), before
    # Bob cannot even ask; his own pending id does not work for Alice's client
    ask = caseload.ask_forget(db, alice, "1", now)
    assert ask.client.id == mine and ask.counts["interactions"] == 1 and ask.counts["alerts"] >= 1
    assert caseload.confirm_forget(db, bob, ask.pending_id, now) is None
    assert _rows(db, mine) == before
    done = caseload.confirm_forget(db, alice, ask.pending_id, now)
    assert done is not None and done.client.name == "王芳"
    assert set(_rows(db, mine).values()) == {0}
    assert caseload.confirm_forget(db, alice, ask.pending_id, now) is None  # double tap
    assert _rows(db, other) == other_before and all(v >= 1 for v in other_before.values())
    with db.uow(write=False) as uow:
        assert uow.clients_of(alice.id).get(mine) is None
        assert uow.clients_of(bob.id).get(other) is not None


def test_undo_log_then_new(db: Database, now):
    alice = _counsellor(db, 1, now)
    clients.add_client(db, alice, grammar.parse_new("王芳"), now, None, rules=RULES)
    logs.log_conversation(
        db, alice, "王芳 talk #need trust=4 risk=high next=1d", now, None, rules=RULES
    )
    undone = undo_service.undo(db, alice, now + timedelta(minutes=14), rules=RULES)
    assert undone is not None and undone.kind == "log" and undone.needs == 1 and undone.plan == 1
    with db.uow(write=False) as uow:
        client = uow.clients_of(alice.id).list()[0]
        assert (client.trust, client.risk.value, client.last_contact_at) == (None, "low", None)
        assert uow.clients_of(alice.id).history(client.id) == []
    assert (
        undo_service.undo(db, alice, now + timedelta(minutes=16), rules=RULES) is None
    )  # /new is too old now
    with db.uow(write=False) as uow:
        assert len(uow.clients_of(alice.id).list()) == 1


def test_sqlite_connections_use_secure_delete(sqlite_db: Database):
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
