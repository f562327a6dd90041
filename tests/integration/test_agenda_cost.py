"""/today and the pushed agenda cost the same number of statements for 5 clients as for 60
(issue 12: the alerts were read one query per client)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlalchemy import event

from domain.model import PlanKind, Risk
from domain.rules import load_rules
from domain.tiering import Reason, alert_for
from services.agenda import agenda_data
from storage import Database

CRISIS = (Reason("counsellor_risk", {"risk": "crisis"}),)


@contextlib.contextmanager
def counting(db: Database):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _caseload(db: Database, now, telegram_id: int, n: int) -> int:
    rules = load_rules()
    with db.uow() as uow:
        me = uow.counsellors.add(telegram_id, f"c{telegram_id}", False, now)
        repo = uow.clients_of(me.id)
        records = uow.records_of(me.id)
        clinical = uow.clinical_of(me.id)
        for i in range(n):
            client = repo.add(f"学生{i}", [], None, None, None, now)
            clinical.add_alert(alert_for(client.id, Risk.CRISIS, None, CRISIS, rules, now))
            records.add_plan(
                client.id,
                kind=PlanKind.SHORT,
                text=f"跟进 {i}",
                due_at=now + timedelta(hours=1),
                now=now,
            )
        return me.id


def test_the_agenda_costs_the_same_for_5_and_60_clients(db: Database, now):
    small, large = _caseload(db, now, 7001, 5), _caseload(db, now, 7002, 60)
    costs = {}
    for counsellor_id, n in ((small, 5), (large, 60)):
        with db.uow(write=False) as uow:
            me = uow.counsellors.get(counsellor_id)
            with counting(db) as seen:
                data = agenda_data(uow, me, now)
            costs[n] = len(seen)
        assert data["alerts_total"] == n and data["plan_total"] == n
    assert costs[5] == costs[60], costs
