"""/export reads the caseload in batches (storage/export.py, issue 12): a handful of
statements per batch of clients, and for each client exactly what the per-client reads
give (the map with every interaction, grades, screenings, tier history, details, series)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from domain import grammar
from services import export_data
from services.clients import add_client
from services.grading import default_rules
from services.logs import log_conversation
from services.records import add_goal, add_plan, set_status
from services.screenings import screening
from storage import Database
from storage import export as export_store

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
RULES = default_rules()


def _actor(db: Database, telegram_id: int):
    with db.uow() as uow:
        return uow.counsellors.add(telegram_id, f"C{telegram_id}", False, NOW)


def _one_by_one(db: Database, actor) -> list[tuple]:
    """What `caseload_records` read before: every client through the per-client reads."""
    with db.uow(write=False) as uow:
        records, clinical = uow.records_of(actor.id), uow.clinical_of(actor.id)
        details, series = uow.details_of(actor.id), uow.series_of(actor.id)
        return [
            (
                records.relationship_map(c.id, interactions_limit=100_000),
                clinical.grades(c.id),
                clinical.screenings(c.id, limit=1000),
                clinical.tier_history(c.id, limit=1000),
                details.get(c.id),
                series.of_client(c.id),
            )
            for c in uow.clients_of(actor.id).list()
        ]


def test_batches_give_what_the_per_client_reads_give(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(export_store, "EXPORT_BATCH", 2)  # five clients: three batches
    me, other = _actor(db, 1), _actor(db, 2)
    for k, name in enumerate(("王芳", "李雷", "Anna", "周晓雯", "陈晨")):
        add_client(db, me, grammar.parse_new(f"{name} #挂科 sid=20250{k}"), NOW, None, RULES)
    add_client(db, other, grammar.parse_new("王芳"), NOW, None, RULES)
    log_conversation(db, other, "王芳 not mine", NOW, None, rules=RULES)
    for day in range(3):
        at = NOW + timedelta(days=day)
        log_conversation(
            db, me, f"王芳 第{day}次 想要奖学金 trust={day + 2} next=明天", at, None, rules=RULES
        )
        log_conversation(db, me, f"李雷 电话 {day} via=电话 risk=high", at, None, rules=RULES)
    screening(db, me, "phq9", "王芳 1 2 3 1 2 3 1 2 1", NOW, None, RULES)
    screening(db, me, "gad7", "王芳 1 1 1 1 1 1 1", NOW + timedelta(hours=1), None, RULES)
    set_status(db, me, "Anna trust=4 #新 -#挂科", NOW, None, RULES)
    add_goal(db, me, "周晓雯 按时毕业", NOW, None, RULES)
    add_plan(db, me, "周晓雯 every 1w 每周回访", NOW, None, RULES)
    with db.uow() as uow:
        ids = {c.name: c.id for c in uow.clients_of(me.id).list()}
        uow.records_of(me.id).add_referral(ids["李雷"], "心理中心", "suggested", NOW)
        uow.details_of(me.id).set(ids["李雷"], dorm="3-201", payer="self")

    statements: list[str] = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        batched = export_data.caseload_records(db, me)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    expected = _one_by_one(db, me)
    got = [(r.map, r.grades, r.screenings, r.tier_history, r.details, r.series) for r in batched]
    assert [m.client.name for m, *_ in got] == ["王芳", "李雷", "Anna", "周晓雯", "陈晨"]
    assert got == expected
    assert got[0][0].interaction_count == 3 and len(got[0][2]) == 2 and got[1][0].referrals
    assert got[3][5] and got[1][4].dorm == "3-201"
    # BEGIN, the ids, then per batch the clients (and their tags) and one statement per
    # table, whatever the batch's size (one by one it was about fourteen per client)
    assert len(statements) <= 2 + 3 * 12, len(statements)
