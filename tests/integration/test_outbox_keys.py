"""Dedupe keys: built in one place, matched exactly or by a prefix ending with ":".

Acknowledging alert 1 must not touch alerts 10–19 or 100–199 (a bare prefix "alert:1"
would), and completing plan item 4 must not touch plan item 42.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.model import PlanKind, Risk
from domain.rules import load_rules
from domain.tiering import Reason, alert_for
from reminders.planner import plan_due_work
from services import reminders as reminder_service
from storage import Database
from storage import outbox_keys as keys

REASONS = (
    Reason("risk_tag", {"tag": "self_harm_history", "en": "x", "zh": "自伤", "tier": "crisis"}),
)


def test_keys_are_built_in_one_place_and_never_prefix_each_other():
    assert keys.alert(1) == "alert:1"
    assert not keys.alert(10).startswith(keys.realerts_of(1))
    assert keys.is_prefix(keys.realerts_of(1)) and keys.is_prefix(keys.escalations_of(1))
    assert keys.is_prefix(keys.plan_family(4)) and not keys.is_prefix(keys.alert(4))
    assert not keys.plan(42, datetime(2026, 1, 1)).startswith(keys.plan_family(4))
    for bad in (-1, True, "1", 1.0):
        with pytest.raises(ValueError):
            keys.alert(bad)  # type: ignore[arg-type]


def test_acknowledging_alert_1_leaves_alerts_10_to_19_and_100_to_199_alone(db: Database, now):
    rules = load_rules(None)
    with db.uow() as uow:
        me = uow.counsellors.add(1001, "Ms A", True, now)
        boss = uow.counsellors.add(1002, "Mr B", True, now)
        repo = uow.clients_of(me.id)
        clinical = uow.clinical_of(me.id)
        client = repo.add("Li", [], None, None, None, now)
        ids = [
            clinical.add_alert(alert_for(client.id, Risk.CRISIS, Risk.LOW, REASONS, rules, now))
            for _ in range(200)
        ]
    assert ids == list(range(1, 201))  # the ids the bug confused: 1, 10–19, 100–199
    plan_due_work(db, now)  # enqueues "alert:<id>" for every pending alert
    with db.uow() as uow:
        for alert_id in ids:
            for n in (1, 2):
                uow.outbox.enqueue(
                    counsellor_id=me.id,
                    kind="realert",
                    dedupe_key=keys.realert(alert_id, n),
                    due_at=now + timedelta(hours=n),
                    priority=0,
                    now=now,
                    payload={"alert_id": alert_id, "client_id": client.id, "n": n},
                )
            uow.outbox.enqueue(
                counsellor_id=boss.id,
                kind="escalation",
                dedupe_key=keys.escalation(alert_id, boss.id),
                due_at=now + timedelta(hours=3),
                priority=0,
                now=now,
                payload={"alert_id": alert_id, "client_id": client.id},
            )
        assert uow.outbox.counts()["pending"] == 200 * 4

    outcome = reminder_service.acknowledge_alert(db, me, 1, now)
    assert outcome.changed

    with db.uow(write=False) as uow:
        rows = uow.outbox.list()
    cancelled = {r.dedupe_key for r in rows if r.status == "cancelled"}
    assert cancelled == {"alert:1", "realert:1:1", "realert:1:2", f"escalation:1:{boss.id}"}
    for row in rows:
        if int(row.payload["alert_id"]) != 1:
            assert row.status == "pending", row.dedupe_key
    assert sum(r.status == "pending" for r in rows) == 199 * 4


def test_completing_plan_item_4_leaves_plan_item_42_alone(db: Database, now):
    with db.uow() as uow:
        me = uow.counsellors.add(1001, "Ms A", True, now)
        repo = uow.clients_of(me.id)
        records = uow.records_of(me.id)
        client = repo.add("Li", [], None, None, None, now)
        items = [
            records.add_plan(
                client.id, PlanKind.SHORT, f"step {i}", now - timedelta(minutes=1), now
            )
            for i in range(1, 46)
        ]
    assert [i.id for i in items][:4] == [1, 2, 3, 4]
    plan_due_work(db, now)
    reminder_service.complete_plan(db, me, 4, now)
    with db.uow(write=False) as uow:
        rows = {r.payload["plan_id"]: r.status for r in uow.outbox.list(kind="plan")}
    assert rows[4] == "cancelled"
    assert all(status == "pending" for plan_id, status in rows.items() if plan_id != 4)
    assert len(rows) == 45


def test_cancel_matches_exactly_unless_the_key_ends_with_the_separator(db: Database, now):
    with db.uow() as uow:
        me = uow.counsellors.add(1001, "Ms A", True, now)
        for key in ("agenda:1:x", "agenda:10:x", "agenda:1"):
            uow.outbox.enqueue(
                counsellor_id=me.id,
                kind="agenda",
                dedupe_key=key,
                due_at=now,
                priority=6,
                payload={},
                now=now,
            )
        assert uow.outbox.cancel("agenda:1") == 1
        assert uow.outbox.cancel("agenda:1:") == 1
        assert uow.outbox.get_by_key("agenda:10:x").status == "pending"
        for bad in ((), ("",), (":",)):
            with pytest.raises(ValueError):
                uow.outbox.cancel(*bad)
