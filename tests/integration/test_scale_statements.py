"""Issue 12, set-based scale: the number of SQL statements of a re-grade and of a tick does
not grow with the caseload (beyond one handful per batch of clients), and the batch read of
grading facts says exactly what the single read says. SQLite, and PostgreSQL when
CAREMAP_TEST_POSTGRES_URL is set (the `db` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from domain.model import Risk
from domain.safety import ITEMS, SafetyCheck
from domain.screening import score
from reminders.planner import plan_due_work
from services.grading import REGRADE_BATCH, default_rules, regrade_client, regrade_everyone
from storage import Database
from storage.seeding import SeedClient, seed_clients

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = default_rules()


@contextmanager
def counting(db: Database) -> Iterator[list[int]]:
    box = [0]
    me = threading.get_ident()

    def hit(*_args: object) -> None:
        if threading.get_ident() == me:
            box[0] += 1

    event.listen(db.engine, "before_cursor_execute", hit)
    try:
        yield box
    finally:
        event.remove(db.engine, "before_cursor_execute", hit)


def caseload(db: Database, n: int, telegram_id: int = 1) -> int:
    """A counsellor with `n` quiet clients (recent contacts, no tags): grading raises no
    alert, so what is counted is the reading and writing alone."""
    with db.uow(write=True) as uow:
        counsellor = uow.counsellors.add(telegram_id, "C", True, NOW - 400 * DAY).id
    for start in range(0, n, 500):
        clients = [
            SeedClient(
                name=f"s{i}",
                interactions=[(NOW - (k * 3 + 1) * DAY, "面谈", "ok", None) for k in range(3)],
            )
            for i in range(start, min(n, start + 500))
        ]
        with db.uow(write=True) as uow:
            seed_clients(uow, counsellor, clients, NOW - 30 * DAY)
    return counsellor


def regrade_statements(db: Database, when: datetime) -> tuple[int, dict[str, int]]:
    with counting(db) as n:
        counts = regrade_everyone(db, when, rules=RULES)
    return n[0], counts


def test_regrade_statements_grow_with_batches_not_clients(db: Database) -> None:
    caseload(db, 50, telegram_id=1)
    first_small, counts = regrade_statements(db, NOW)
    assert counts == {"clients": 50, "changed": 50, "alerts": 0}
    again_small, _ = regrade_statements(db, NOW + DAY)
    # a second counsellor with 600 clients: re-grading now reads 650 clients in 3 batches
    caseload(db, 600, telegram_id=2)
    first_large, counts = regrade_statements(db, NOW + DAY)
    assert counts["clients"] == 650 and counts["alerts"] == 0
    again_large, _ = regrade_statements(db, NOW + 2 * DAY)

    extra_batches = -(-600 // REGRADE_BATCH)
    assert extra_batches >= 2
    # a handful of statements per batch of clients (and one per counsellor), never per client
    assert again_large - again_small <= 12 * extra_batches + 1, (again_small, again_large)
    assert first_large - first_small <= 16 * extra_batches + 1, (first_small, first_large)
    assert first_large < 60 and again_large < 60


def test_regrade_raising_many_alerts_costs_a_handful_of_statements(db: Database) -> None:
    """Clients with PHQ-9 item 9 > 0 are graded for the first time: each raises an alert, and the
    alerts and their pushes are written in one statement per batch, not one per client."""
    with db.uow(write=True) as uow:
        counsellor = uow.counsellors.add(1, "C", True, NOW - 400 * DAY).id

    def risky(n: int) -> None:
        clients = [
            SeedClient(name=f"r{i}", screenings=[("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 1], NOW - DAY)])
            for i in range(n)
        ]
        with db.uow(write=True) as uow:
            seed_clients(uow, counsellor, clients, NOW - 30 * DAY)

    risky(5)
    few, counts_few = regrade_statements(db, NOW)
    risky(300)
    many, counts_many = regrade_statements(db, NOW)
    assert counts_few["alerts"] == 5 and counts_many["alerts"] == 300, (counts_few, counts_many)
    assert many - few <= 6, (few, many)
    with db.uow(write=False) as uow:
        pushes = uow.outbox.existing_keys(f"alert:{i}" for i in range(1, 400))
    assert len(pushes) == 305


def test_facts_many_says_what_facts_says(db: Database) -> None:
    with db.uow(write=True) as uow:
        me = uow.counsellors.add(1, "Li", True, NOW - 400 * DAY)
        other = uow.counsellors.add(2, "Wang", False, NOW - 400 * DAY)
        repo = uow.clients_of(me.id)
        records = uow.records_of(me.id)
        clinical = uow.clinical_of(me.id)
        ids = []
        for i in range(12):
            tags = [("失联", "挂科", "+编程强", "孤立")[k] for k in range(i % 4)]
            ids.append(repo.add(f"c{i}", tags, None, None, None, NOW - (100 + i) * DAY).id)
        for i, cid in enumerate(ids):
            for k in range(i % 5):
                outcome = "unreached" if (i + k) % 3 == 0 else None
                records.add_interaction(
                    cid, NOW - (k * 11 + i) * DAY, "电话", f"n{k}", NOW, outcome=outcome
                )
            if i % 3 == 0:
                records.add_need(cid, "想申请助学金", i % 2 == 0, "log", NOW)
                records.add_need(cid, "最近失眠", False, "log", NOW)
            if i % 2 == 1:
                for j in range(1 + i % 3):  # the latest and the previous total count
                    answers = [min(3, (i + j + q) % 4) for q in range(9)]
                    clinical.add_screening(
                        cid, score("phq9", answers, at=NOW - (j * 20 + 1) * DAY), NOW
                    )
            if i % 4 == 2:
                clinical.add_screening(cid, score("gad7", [1] * 7, at=NOW - 3 * DAY), NOW)
            if i % 5 == 1:
                answers = {item: item in ("wish", "thoughts", "method") for item in ITEMS}
                uow.crisis_of(me.id).add_check(
                    cid,
                    SafetyCheck(
                        answers=answers, result=Risk.HIGH, deciding=("method",), at=NOW - DAY
                    ),
                    "command",
                    NOW,
                )
            if i == 7:
                uow.details_of(me.id).set(cid, payer="self", pay_capacity=3)
        stranger = uow.clients_of(other.id).add("x", [], None, None, None, NOW).id
    # grades stored (held tiers from the safety checks and a crisis), some not yet graded
    with db.uow(write=True) as uow:
        uow.clients_of(me.id).set_status(ids[3], by_counsellor_id=me.id, now=NOW, risk="crisis")
    regrade_everyone(db, NOW, rules=RULES)
    with db.uow(write=True) as uow:
        regrade_client(uow, me, ids[3], NOW + DAY, rules=RULES)
        ids.append(uow.clients_of(me.id).add("new", ["家庭变故"], None, None, None, NOW).id)

    with db.uow(write=False) as uow:
        repo = uow.clinical_of(me.id)
        many = repo.facts_many([*ids, stranger, 999_999])
        single = {cid: repo.facts(cid) for cid in ids}
        assert repo.facts(stranger) is None
    assert set(many) == set(ids)  # another counsellor's client and an unknown id are absent
    for cid in ids:
        assert many[cid] == single[cid], cid
    facts = list(many.values())
    # the caseload really is varied
    assert any(f.held is not None for f in facts)
    assert any(f.safety_check is not None for f in facts)
    assert any(f.unreached_streak > 0 for f in facts)
    assert any(f.previous_phq9_total is not None for f in facts)
    assert any(f.gad7 is not None for f in facts)
    assert any(len(f.needs) == 2 for f in facts)
    assert any(f.value is not None for f in facts)
    assert any(f.risk_tags and "+编程强" not in f.risk_tags for f in facts)
    assert any(f.tier_set_at is None for f in facts) and any(
        f.tier_set_at is not None for f in facts
    )


def idle_tick_statements(db: Database, n: int, telegram_id: int, when: datetime) -> int:
    counsellor = caseload(db, n, telegram_id)
    with db.uow(write=True) as uow:  # high risk: their contact reminders are pushed one by one
        repo = uow.clients_of(counsellor)
        for client in repo.list():
            repo.set_status(client.id, by_counsellor_id=counsellor, now=NOW, risk="high")
    regrade_everyone(db, NOW, rules=RULES)
    planned = plan_due_work(db, when)  # every client is overdue by then: a cadence reminder each
    assert planned["cadence"] >= n
    with counting(db) as count:
        again = plan_due_work(db, when + timedelta(minutes=1))
    assert sum(again.values()) == 0
    return count[0]


def test_a_tick_with_nothing_due_costs_the_same_at_any_caseload(db: Database) -> None:
    small = idle_tick_statements(db, 50, 1, NOW + 90 * DAY)
    # a second counsellor with 600 clients, all overdue and planned: 650 in the scans' way
    large = idle_tick_statements(db, 600, 2, NOW + 91 * DAY)
    assert large == small, (small, large)
    assert small < 20


def test_requests_cost_the_same_statements_at_any_caseload(db: Database) -> None:
    """/log, /clients, /today, /map and /new (server side) issue as many statements for a
    counsellor with 1,100 clients as for one with 10 (the old /clients read selected the
    tags in batches of 500 clients; /log read the whole map to count the interactions)."""
    from domain import grammar
    from services import reminders as rem
    from services.clients import add_client, relationship_map
    from services.clients import caseload as caseload_of
    from services.grading import default_rules
    from services.invites import find_counsellor
    from services.logs import log_conversation

    rules = default_rules()
    costs = {}
    for telegram_id, n in ((1, 10), (2, 1100)):
        caseload(db, n, telegram_id=telegram_id)
        regrade_everyone(db, NOW, rules)
        actor = find_counsellor(db, telegram_id)
        update_ids = iter(range(telegram_id * 1000, telegram_id * 1000 + 100))
        seen = {}
        for name, call in (
            (
                "log",
                lambda a=actor, ids=update_ids: log_conversation(
                    db, a, "s7 ok via=微信", NOW, next(ids), rules=rules
                ),
            ),
            ("clients", lambda a=actor: caseload_of(db, a, NOW)),
            ("today", lambda a=actor: rem.today(db, a, NOW)),
            ("map", lambda a=actor: relationship_map(db, a, "s7", NOW)),
            (
                "new",
                lambda a=actor, ids=update_ids: add_client(
                    db, a, grammar.parse_new("s7 #新"), NOW, next(ids), rules
                ),
            ),
        ):
            call()  # warm
            with counting(db) as box:
                result = call()
            seen[name] = box[0]
            if name == "log":
                assert result.client.name == "s7" and result.interaction_count == 5
            if name == "clients":
                assert len(result) == n and all(row.grades is not None for row in result)
        costs[n] = seen
    assert costs[10] == costs[1100], costs
    assert costs[1100]["clients"] <= 4 and costs[1100]["log"] <= 24, costs
