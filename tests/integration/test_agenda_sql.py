"""/today and /clients ordered and cut in SQL (issue 12): the agenda's lists, their counts
and the caseload's pages are exactly what the former in-memory code made of the whole
caseload (kept here as the reference), ties included, and neither costs more statements
for 200 clients than for 20. SQLite, and PostgreSQL when CAREMAP_TEST_POSTGRES_URL is set
(the `db` fixture)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.model import Counsellor, PlanKind, Risk
from domain.schedule import local_day, quiet_review
from domain.tiering import Reason, alert_for
from services import clients as client_svc
from services.agenda import AGENDA_SHOWN, agenda_data, agenda_lists
from services.grading import default_rules, regrade_everyone
from storage import Database
from storage.seeding import SeedClient, seed_clients
from storage.uow import UnitOfWork
from tests.integration.test_scale_statements import counting

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = default_rules()
TAGS = ("失联", "挂科", "经济困难", "家庭变故", "孤立")
WHEN = (NOW, NOW + 8 * DAY, NOW + 31 * DAY, NOW + 91 * DAY)


def _caseload(db: Database, n: int, telegram_id: int, seed: int = 7) -> Counsellor:
    """`n` varied clients: contacts (some at the very same instants, so that orders tie),
    tags, screenings, needs and follow-ups (some due at one instant), most graded, a few
    added after the grading (never graded; some with a risk set by hand), and
    unacknowledged alerts of every tier (some raised at one instant)."""
    rnd = random.Random(seed)
    same = NOW - 40 * DAY
    with db.uow(write=True) as uow:
        me = uow.counsellors.add(telegram_id, f"c{telegram_id}", False, NOW - 400 * DAY)
    batch = []
    for i in range(n):
        contacts = []
        for _ in range(rnd.choice((0, 1, 3))):
            at = same if rnd.random() < 0.3 else NOW - timedelta(days=rnd.uniform(1, 150))
            contacts.append((at, "面谈", "谈了近况", "unreached" if rnd.random() < 0.1 else None))
        screenings = []
        if rnd.random() < 0.3:
            answers = [min(3, max(0, int(rnd.gauss(1.0, 1.0)))) for _ in range(9)]
            screenings.append(("phq9", answers, NOW - timedelta(days=rnd.uniform(1, 60))))
        plans = []
        if rnd.random() < 0.4:
            due = NOW + DAY if rnd.random() < 0.5 else NOW - timedelta(hours=rnd.uniform(1, 72))
            plans.append(("回访", due))
        batch.append(
            SeedClient(
                name=f"学生{i}",
                tags=rnd.sample(TAGS, rnd.choice((0, 0, 1, 2))),
                interactions=contacts,
                needs=[("想申请助学金", True)] if rnd.random() < 0.2 else [],
                screenings=screenings,
                plans=plans,
            )
        )
    with db.uow(write=True) as uow:
        ids = seed_clients(uow, me.id, batch, NOW - 300 * DAY)
    regrade_everyone(db, NOW, RULES)
    crisis = (Reason("counsellor_risk", {"risk": "crisis"}),)
    with db.uow(write=True) as uow:
        repo = uow.clients_of(me.id)
        records = uow.records_of(me.id)
        clinical = uow.clinical_of(me.id)
        for k in range(max(3, n // 10)):  # never graded
            late = repo.add(f"新生{k}", [], None, None, None, NOW - k * DAY)
            if k % 2:
                repo.set_status(late.id, by_counsellor_id=me.id, now=NOW, risk=Risk.HIGH)
            records.add_plan(late.id, PlanKind.SHORT, "见面", NOW - DAY, NOW - 2 * DAY)
        for cid in rnd.sample(ids, max(4, n // 4)):
            tier = rnd.choice(list(Risk))
            raised = (
                NOW - 2 * DAY if rnd.random() < 0.4 else NOW - timedelta(hours=rnd.randint(1, 90))
            )
            clinical.add_alert(alert_for(cid, tier, None, crisis, RULES, raised))
        # some done, some long-term: neither is on the agenda
        done = records.add_plan(ids[0], PlanKind.SHORT, "做完了", NOW - DAY, NOW - 3 * DAY)
        records.complete_plan(done.id, NOW)
        records.add_plan(ids[1], PlanKind.LONG, "长期目标", NOW - DAY, NOW - 3 * DAY)
    return me


# --- the former in-memory code, verbatim but for names: the reference --------------------


def _reference_lists(uow: UnitOfWork, counsellor: Counsellor, now: datetime) -> dict[str, Any]:
    start, end = local_day(now, counsellor.timezone)
    repo = uow.records_of(counsellor.id)
    clinical = uow.clinical_of(counsellor.id)
    graded = clinical.list_graded()
    rank: dict[int, int] = {c.id: (g.risk if g is not None else c.risk).rank for c, g in graded}

    def urgent(c: Any) -> int:
        return -rank.get(c.id, 0)

    plan = sorted(repo.plan_between(start, end), key=lambda cp: (urgent(cp[0]), cp[1].due_at))
    contact = [
        (c, g)
        for c, g in graded
        if g is not None and g.next_contact_due and g.next_contact_due <= end
    ]
    contact.sort(key=lambda cg: (urgent(cg[0]), cg[1].next_contact_due))
    reviews = [
        (c, g) for c, g in graded if g is not None and g.review_due_at and g.review_due_at <= end
    ]
    reviews.sort(key=lambda cg: (urgent(cg[0]), cg[1].review_due_at, cg[0].number))
    quiet = [(c, g) for c, g in reviews if quiet_review(g.risk, [r.code for r in g.risk_reasons])]
    reviews = [cg for cg in reviews if cg not in quiet]
    by_id = {c.id: c for c, _ in graded}
    alerts = [
        (by_id[a.client_id], a) for a in clinical.unacknowledged_alerts() if a.client_id in by_id
    ]
    alerts.sort(key=lambda ca: (-getattr(ca[1].tier, "rank", 0), ca[1].raised_at))
    return {
        "day": start.astimezone(ZoneInfo(counsellor.timezone)).date(),
        "plan": plan,
        "contact": contact,
        "reviews": reviews,
        "quiet": quiet,
        "alerts": alerts,
        "now": now,
    }


def _reference_data(uow: UnitOfWork, counsellor: Counsellor, now: datetime) -> dict[str, Any]:
    full = _reference_lists(uow, counsellor, now)
    data = dict(full)
    for key, shown in AGENDA_SHOWN.items():
        data[f"{key}_total"] = len(full[key])
        data[key] = full[key][:shown]
    data["quiet_total"] = len(full["quiet"])
    data["quiet"] = full["quiet"][:5]
    data["no_clients"] = not uow.clients_of(counsellor.id).list()
    return data


def _reference_caseload(db: Database, me: Counsellor, now: datetime) -> list[Any]:
    with db.uow(write=False) as uow:
        rows = [client_svc.CaseloadRow(c, g) for c, g in uow.clinical_of(me.id).list_graded()]
    epoch = datetime.min.replace(tzinfo=now.tzinfo)

    def key(row: client_svc.CaseloadRow) -> tuple[int, datetime, int]:
        last = row.client.last_contact_at or epoch
        return (-row.risk.rank, last, row.client.number)

    return sorted(rows, key=key)


# --- the tests ------------------------------------------------------------------------------


def test_the_agenda_is_what_the_whole_caseload_made_of_it(db: Database) -> None:
    me = _caseload(db, 120, 8001)
    _caseload(db, 30, 8002, seed=8)  # another counsellor's: never on mine
    seen = {"plan": 0, "contact": 0, "reviews": 0, "quiet": 0, "alerts": 0}
    for when in WHEN:
        with db.uow(write=False) as uow:
            assert agenda_lists(uow, me, when) == _reference_lists(uow, me, when)
            data, expected = agenda_data(uow, me, when), _reference_data(uow, me, when)
        assert data == expected
        for key in seen:
            seen[key] = max(seen[key], data[f"{key}_total"])
    # every list was exercised, and cut: more than one message shows of the main ones
    assert seen["plan"] > AGENDA_SHOWN["plan"] and seen["contact"] > AGENDA_SHOWN["contact"]
    assert seen["alerts"] > AGENDA_SHOWN["alerts"]
    assert seen["reviews"] > 0 and seen["quiet"] > 0, seen


def test_the_caseload_pages_are_the_whole_caseload_cut(db: Database) -> None:
    me = _caseload(db, 95, 8101)
    _caseload(db, 20, 8102, seed=9)
    expected = _reference_caseload(db, me, NOW)
    assert len(expected) == 95 + 9
    # ties on risk and on the last contact, broken by number
    keys = [(r.risk, r.client.last_contact_at) for r in expected]
    assert len(set(keys)) < len(keys)
    assert client_svc.caseload(db, me, NOW) == expected
    got = []
    for page in range(11):
        shown = client_svc.caseload_page(db, me, NOW, page, 10)
        assert (shown.total, shown.pages, shown.page) == (104, 11, page)
        got += shown.rows
    assert got == expected
    # past the end: the last page; before the start: the first
    assert client_svc.caseload_page(db, me, NOW, 40, 10).rows == expected[100:]
    assert client_svc.caseload_page(db, me, NOW, 40, 10).page == 10
    assert client_svc.caseload_page(db, me, NOW, -1, 10).rows == expected[:10]


def test_an_empty_caseload(db: Database) -> None:
    with db.uow(write=True) as uow:
        me = uow.counsellors.add(8201, "c", False, NOW)
    shown = client_svc.caseload_page(db, me, NOW, 3, 10)
    assert (shown.rows, shown.total, shown.page, shown.pages) == ([], 0, 0, 1)
    with db.uow(write=False) as uow:
        data = agenda_data(uow, me, NOW)
        assert data == _reference_data(uow, me, NOW)
    assert all(data[f"{k}_total"] == 0 for k in ("plan", "contact", "reviews", "quiet", "alerts"))
    assert data["no_clients"] is True


def test_today_and_clients_cost_the_same_for_20_and_200_clients(db: Database) -> None:
    costs: dict[int, tuple[int, int]] = {}
    for n, tid in ((20, 8301), (200, 8302)):
        me = _caseload(db, n, tid)
        with db.uow(write=False) as uow, counting(db) as today:
            data = agenda_data(uow, me, NOW)
        assert data["contact_total"] > 0 and data["alerts_total"] > 0
        with counting(db) as clients:
            shown = client_svc.caseload_page(db, me, NOW, 1, 10)
        assert len(shown.rows) == 10
        costs[n] = (today[0], clients[0])
    assert costs[20] == costs[200], costs
