"""Reminders storage (migration 0003): the outbox, the scheduler's scans, the reminder
methods of the caseload repository, counsellor settings."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, text

from domain.model import Counsellor, PlanKind, Risk
from domain.rules import load_rules
from domain.tiering import Reason, alert_for, grade
from storage import Database, OutboxItem, outbox_keys
from tests.integration.test_storage_migrations import HEAD

M = timedelta(minutes=1)
H = timedelta(hours=1)
DAY = timedelta(days=1)
REASONS = (
    Reason("risk_tag", {"tag": "self_harm_history", "en": "x", "zh": "自伤", "tier": "crisis"}),
)


def _two_counsellors(db: Database, now) -> tuple[Counsellor, Counsellor]:
    with db.uow() as uow:
        a = uow.counsellors.add(1001, "Ms A", True, now)
        b = uow.counsellors.add(1002, "Mr B", False, now)
    return a, b


def _client(db: Database, counsellor_id: int, now, name: str = "Li") -> int:
    with db.uow() as uow:
        return uow.clients_of(counsellor_id).add(name, [], None, None, None, now).id


def _enqueue(uow, counsellor_id: int, key: str, now, **kw) -> int | None:
    args = {
        "counsellor_id": counsellor_id,
        "kind": "plan",
        "dedupe_key": key,
        "due_at": now,
        "priority": 5,
        "payload": {"plan_id": 1},
        "now": now,
    }
    args.update(kw)
    return uow.outbox.enqueue(**args)


# -- migration ---------------------------------------------------------------------------


def _ts(conn, value):
    return value if conn.dialect.name == "postgresql" else value.replace(tzinfo=None)


def test_0003_upgrades_and_downgrades_over_existing_data(bare_db: Database, now):
    bare_db.migrate("0002")
    with bare_db.engine.begin() as conn:
        cid = conn.execute(
            text(
                "INSERT INTO counsellors (telegram_id, display_name, is_admin, timezone, "
                "client_seq, created_at) VALUES (1, 'A', false, 'Asia/Shanghai', 1, :now) "
                "RETURNING id"
            ),
            {"now": _ts(conn, now)},
        ).scalar_one()
        client_id = conn.execute(
            text(
                "INSERT INTO clients (counsellor_id, number, name, risk, created_at) "
                "VALUES (:c, 1, 'Li', 'low', :now) RETURNING id"
            ),
            {"c": cid, "now": _ts(conn, now)},
        ).scalar_one()
    with bare_db.engine.connect() as conn:
        assert "outbox" not in inspect(conn).get_table_names()
    bare_db.migrate()
    assert bare_db.current_revision() == HEAD
    with bare_db.uow() as uow:
        c = uow.counsellors.get(cid)
        assert (c.agenda_at, c.quiet_hours) == ("08:00", None)  # server default on old rows
        repo = uow.records_of(cid)
        clinical = uow.clinical_of(cid)
        plan = repo.add_plan(client_id, PlanKind.SHORT, "call", now - H, now - DAY)
        clinical.add_alert(alert_for(client_id, Risk.CRISIS, None, REASONS, load_rules(), now))
        [alert] = clinical.alerts(client_id)
        assert (alert.realert_count, alert.escalated_at, alert.message_id) == (0, None, None)
        assert _enqueue(uow, cid, "plan:1", now, client_id=client_id) is not None
        assert [i for _, i in uow.scan.plan_items_due(now)] == [plan]
    bare_db.downgrade("0002")  # with rows in every touched table
    with bare_db.engine.connect() as conn:
        insp = inspect(conn)
        assert "outbox" not in insp.get_table_names()
        assert "agenda_at" not in {c["name"] for c in insp.get_columns("counsellors")}
        assert "reminded_due_at" not in {c["name"] for c in insp.get_columns("plan_items")}
        assert "escalated_at" not in {c["name"] for c in insp.get_columns("alerts")}
        assert conn.execute(text("SELECT count(*) FROM plan_items")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 1
        assert conn.execute(text("SELECT name FROM clients")).scalar() == "Li"
    bare_db.migrate()
    assert bare_db.current_revision() == HEAD


def test_reminder_indexes_exist(db: Database):
    with db.engine.connect() as conn:
        insp = inspect(conn)
        idx = {i["name"]: i["column_names"] for i in insp.get_indexes("outbox")}
        grades_idx = {i["name"]: i["column_names"] for i in insp.get_indexes("client_grades")}
        uniques = {u["name"]: u["column_names"] for u in insp.get_unique_constraints("outbox")}
        fks = {f["name"]: f for f in insp.get_foreign_keys("outbox")}
    assert idx["ix_outbox_status_not_before_priority"] == ["status", "not_before", "priority"]
    assert idx["ix_outbox_client_id"] == ["client_id"]
    assert idx["ix_outbox_counsellor_id"] == ["counsellor_id"]
    assert uniques["uq_outbox_dedupe_key"] == ["dedupe_key"]
    assert grades_idx["ix_client_grades_next_contact_due"] == ["next_contact_due"]
    assert grades_idx["ix_client_grades_review_due_at"] == ["review_due_at"]
    assert fks["fk_outbox_client_id_clients"]["options"].get("ondelete") == "CASCADE"
    assert fks["fk_outbox_counsellor_id_counsellors"]["options"].get("ondelete") == "CASCADE"


def test_claim_query_uses_the_index_on_sqlite(sqlite_db: Database, now):
    """With a realistic outbox (mostly sent history, a few pending), the claim's SELECT
    searches ix_outbox_status_not_before_priority for both branches of its OR."""
    a, _ = _two_counsellors(sqlite_db, now)
    with sqlite_db.uow() as uow:
        for i in range(300):
            _enqueue(uow, a.id, f"k{i}", now - i * M, priority=i % 4)
    with sqlite_db.uow() as uow:
        for item in uow.outbox.claim(now, limit=290, worker="w"):
            uow.outbox.mark_sent(item.id, message_id=1, now=now)
    with sqlite_db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    plan: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT OUTBOX.ID"):
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plan.extend(str(r[-1]) for r in rows.fetchall())

    event.listen(sqlite_db.engine, "before_cursor_execute", capture)
    try:
        with sqlite_db.uow() as uow:
            assert len(uow.outbox.claim(now, limit=5, worker="w")) == 5
    finally:
        event.remove(sqlite_db.engine, "before_cursor_execute", capture)
    assert plan, "the claim's SELECT was not seen"
    searches = [line for line in plan if "ix_outbox_status_not_before_priority" in line]
    assert len(searches) == 2 and all(line.startswith("SEARCH") for line in searches), plan
    assert not any(line.startswith("SCAN outbox") for line in plan), plan


# -- counsellor settings -----------------------------------------------------------------


def test_counsellor_reminder_settings(db: Database, now):
    a, b = _two_counsellors(db, now)
    assert (a.agenda_at, a.quiet_hours) == ("08:00", None)
    with db.uow() as uow:
        got = uow.counsellors.set_settings(a.id, quiet_hours="22:00-7:30")
        assert (got.agenda_at, got.quiet_hours) == ("08:00", "22:00-07:30")
        got = uow.counsellors.set_settings(a.id, agenda_at="7:05")
        assert (got.agenda_at, got.quiet_hours) == ("07:05", "22:00-07:30")  # kept
        assert uow.counsellors.set_settings(a.id) == got  # nothing given: nothing changes
        assert uow.counsellors.set_settings(12345, agenda_at=None) is None
        for bad in ("24:00", "8", "08:60", "x", ""):
            with pytest.raises(ValueError):
                uow.counsellors.set_settings(a.id, agenda_at=bad)
        for bad in ("22:00", "22:00-22:00", "22-07", "22:00-07:00-08:00"):
            with pytest.raises(ValueError):
                uow.counsellors.set_settings(a.id, quiet_hours=bad)
    with db.uow() as uow:
        got = uow.counsellors.set_settings(a.id, agenda_at=None, quiet_hours=None)
        assert (got.agenda_at, got.quiet_hours) == (None, None)
    with db.uow(write=False) as uow:
        assert uow.counsellors.get(a.id).agenda_at is None
        assert [c.id for c in uow.scan.counsellors_with_agenda()] == [b.id]


# -- the outbox ----------------------------------------------------------------------------


def test_enqueue_dedupes_and_validates(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        first = _enqueue(
            uow, a.id, "plan:1:2026-03-02T09:30", now, payload={"plan_id": 1, "client_id": 2}
        )
        assert isinstance(first, int)
        assert _enqueue(uow, a.id, "plan:1:2026-03-02T09:30", now + H, priority=0) is None
        with pytest.raises(ValueError):
            _enqueue(uow, a.id, "k", now, kind="sms")
        with pytest.raises(ValueError):
            _enqueue(
                uow, a.id, "k", now, payload={"text": "a long free-text note about the client"}
            )
        with pytest.raises(ValueError):
            _enqueue(uow, a.id, "k", now, priority=-1)
        with pytest.raises(ValueError):
            _enqueue(uow, a.id, "k", now.replace(tzinfo=None))
    with db.uow() as uow:  # a settled key is never enqueued again
        assert uow.outbox.claim(now, limit=5, worker="w")[0].id == first
        uow.outbox.mark_sent(first, message_id=77, now=now)
    with db.uow() as uow:
        assert _enqueue(uow, a.id, "plan:1:2026-03-02T09:30", now) is None
        item = uow.outbox.get(first)
    assert isinstance(item, OutboxItem)
    assert item.payload == {"client_id": 2, "plan_id": 1}
    assert (item.status, item.message_id, item.sent_at, item.attempts) == ("sent", 77, now, 1)
    assert (item.due_at, item.not_before, item.priority, item.kind) == (now, now, 5, "plan")
    assert item.due_at.utcoffset() == timedelta(0)
    with db.uow(write=False) as uow:
        assert uow.outbox.counts() == {
            "pending": 0,
            "sending": 0,
            "sent": 1,
            "failed": 0,
            "cancelled": 0,
        }


def test_claim_order_limit_and_not_before(db: Database, now):
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        late = _enqueue(uow, a.id, "late", now - 2 * H, priority=5)
        early = _enqueue(uow, a.id, "early", now - 3 * H, priority=5)
        urgent = _enqueue(uow, b.id, "urgent", now - M, priority=0, kind="alert")
        tie = _enqueue(uow, a.id, "tie", now - 3 * H, priority=5)  # same not_before: by id
        _enqueue(uow, a.id, "future", now - H, not_before=now + M)  # due, but not yet
        _enqueue(uow, a.id, "later", now + H)
    with db.uow() as uow:
        got = uow.outbox.claim(now, limit=3, worker="w1", lease=H)
    assert [i.id for i in got] == [urgent, early, tie]
    assert all(
        (i.status, i.claimed_at, i.claimed_by, i.attempts) == ("sending", now, "w1", 1) for i in got
    )
    with db.uow() as uow:
        assert [i.id for i in uow.outbox.claim(now, limit=10, worker="w2", lease=H)] == [late]
        assert uow.outbox.claim(now, limit=10, worker="w2") == []
        assert [i.dedupe_key for i in uow.outbox.claim(now + M, limit=10, worker="w2")] == [
            "future"
        ]
        with pytest.raises(ValueError):
            uow.outbox.claim(now, limit=0, worker="w")
    with db.uow(write=False) as uow:
        assert uow.outbox.counts()["sending"] == 5
        assert [i.dedupe_key for i in uow.outbox.list(status="pending")] == ["later"]
        assert [i.dedupe_key for i in uow.outbox.list(counsellor_id=b.id)] == ["urgent"]
        assert [i.dedupe_key for i in uow.outbox.list(kind="alert", status="sending")] == ["urgent"]


def test_stale_sending_row_is_reclaimed_exactly(db: Database, now):
    """A worker claims two rows, sends one, marks it, and dies before marking the other:
    once its lease has run out that one row, and only it, is claimed again."""
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        x = _enqueue(uow, a.id, "x", now)
        y = _enqueue(uow, a.id, "y", now)
        _enqueue(uow, a.id, "z", now + 10 * M)
    with db.uow() as uow:
        assert [i.id for i in uow.outbox.claim(now, limit=2, worker="dead", lease=5 * M)] == [x, y]
    with db.uow() as uow:
        assert uow.outbox.mark_sent(x, message_id=1, now=now)
    # ... crash. Not stale yet at +4 min:
    with db.uow() as uow:
        assert uow.outbox.claim(now + 4 * M, limit=10, worker="w2") == []
    with db.uow() as uow:
        [again] = uow.outbox.claim(now + 6 * M, limit=10, worker="w2", lease=5 * M)
    assert (again.id, again.claimed_by, again.attempts) == (y, "w2", 2)
    assert again.claimed_at == now + 6 * M and again.lease_until == now + 11 * M
    with db.uow() as uow:
        assert uow.outbox.claim(now + 6 * M, limit=10, worker="w3") == []  # fresh claim
        assert [
            i.dedupe_key for i in uow.outbox.claim(now + 10 * M, limit=10, worker="w3", lease=H)
        ] == ["z"]
        # w2 stalls: its lease runs out at +11 min, and w4 may take the row
        assert uow.outbox.claim(now + 10 * M, limit=10, worker="w4") == []
        assert [i.id for i in uow.outbox.claim(now + 12 * M, limit=10, worker="w4")] == [y]
        assert not uow.outbox.mark_sent(y, message_id=2, now=now + 12 * M, worker="w2")  # not w2's
    with db.uow(write=False) as uow:
        assert uow.outbox.get(x).status == "sent" and uow.outbox.get(x).attempts == 1


def test_retry_defer_fail_cancel(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        r = _enqueue(uow, a.id, "plan:7:a", now)
        d = _enqueue(uow, a.id, "plan:7:b", now)
        f = _enqueue(uow, a.id, "plan:8:a", now)
        c1 = _enqueue(uow, a.id, "plan:9:a", now + H)
        c2 = _enqueue(uow, a.id, "plan:9:b", now + 2 * H)
        lit = _enqueue(uow, a.id, "plan_9%x", now + H)  # LIKE wildcards are literal
    with db.uow() as uow:
        assert {i.id for i in uow.outbox.claim(now, limit=10, worker="w")} == {r, d, f}
    with db.uow() as uow:
        assert uow.outbox.retry(r, not_before=now + 5 * M, error="Network  error\n" + "x" * 500)
        assert uow.outbox.defer(d, not_before=now + 8 * H)
        assert uow.outbox.fail(f, error="Forbidden: bot was blocked by the user", now=now)
        # settling a row that is not being sent does nothing
        assert not uow.outbox.mark_sent(r, message_id=1, now=now)
        assert not uow.outbox.fail(c1, error="e", now=now)
        assert not uow.outbox.retry(12345, not_before=now, error="e")
        assert uow.outbox.cancel("plan:9:") == 2
        assert uow.outbox.cancel("plan:9:") == 0
        with pytest.raises(ValueError):
            uow.outbox.cancel("")
    with db.uow(write=False) as uow:
        ri, di, fi = uow.outbox.get(r), uow.outbox.get(d), uow.outbox.get(f)
        assert (ri.status, ri.not_before, ri.attempts) == ("pending", now + 5 * M, 1)
        assert ri.last_error.startswith("Network error x") and len(ri.last_error) == 200
        assert (di.status, di.not_before, di.attempts, di.last_error) == (
            "pending",
            now + 8 * H,
            0,
            None,
        )
        assert (fi.status, fi.failed_at) == ("failed", now)
        assert fi.last_error == "Forbidden: bot was blocked by the user"
        assert uow.outbox.get(c1).status == uow.outbox.get(c2).status == "cancelled"
        assert uow.outbox.get(lit).status == "pending"
        assert uow.outbox.counts() == {
            "pending": 3,
            "sending": 0,
            "sent": 0,
            "failed": 1,
            "cancelled": 2,
        }
    with db.uow() as uow:  # retried is due again at its not_before, the deferred later
        assert [i.id for i in uow.outbox.claim(now + 5 * M, limit=10, worker="w")] == [r]
        assert uow.outbox.get(r).attempts == 2
    with db.uow() as uow:
        assert uow.outbox.prune(now + DAY) == 3  # failed + cancelled (+ nothing sent)
        assert uow.outbox.counts()["failed"] == 0


def _drain(db: Database, now, workers: int, per_claim: int) -> tuple[dict, float]:
    """`workers` threads, each looping claim → mark_sent in separate units of work until
    nothing is left. Returns {worker: [ids claimed]} and the seconds it took."""
    claimed: dict[str, list[int]] = {f"w{n}": [] for n in range(workers)}
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(name: str) -> None:
        try:
            start.wait()
            while True:
                with db.uow() as uow:
                    batch = uow.outbox.claim(now, limit=per_claim, worker=name)
                if not batch:
                    return
                claimed[name].extend(i.id for i in batch)
                for item in batch:  # "send", then mark, one unit of work each
                    with db.uow() as uow:
                        assert uow.outbox.mark_sent(item.id, message_id=item.id, now=now)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.perf_counter() - t0
    assert errors == []
    assert not any(t.is_alive() for t in threads)
    return claimed, elapsed


def test_concurrent_workers_send_every_row_exactly_once(db: Database, now):
    """PostgreSQL: 1,000 rows, two workers (FOR UPDATE SKIP LOCKED). SQLite: 200 rows,
    two workers (BEGIN IMMEDIATE). Every row is claimed once and sent once."""
    rows = 1000 if db.dialect == "postgresql" else 200
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        for i in range(rows):
            _enqueue(uow, a.id if i % 2 else b.id, f"load:{i}", now - i * M, priority=i % 3)
    claimed, elapsed = _drain(db, now, workers=2, per_claim=20)
    print(f"\n{db.dialect}: {rows} rows drained by 2 workers in {elapsed:.2f}s")
    all_ids = [i for ids in claimed.values() for i in ids]
    assert len(all_ids) == rows  # no row claimed twice …
    assert len(set(all_ids)) == rows  # … and none missed
    with db.uow(write=False) as uow:
        assert uow.outbox.counts() == {
            "pending": 0,
            "sending": 0,
            "sent": rows,
            "failed": 0,
            "cancelled": 0,
        }
        items = uow.outbox.list()
    assert Counter(i.attempts for i in items) == {1: rows}
    owner = {i: name for name, ids in claimed.items() for i in ids}
    assert all(i.claimed_by == owner[i.id] and i.message_id == i.id for i in items)
    if db.dialect == "postgresql":
        assert all(claimed.values()), "both workers should have claimed rows"


# -- scans ---------------------------------------------------------------------------------


def test_plan_scan_snooze_and_done(db: Database, now):
    a, b = _two_counsellors(db, now)
    ca, cb = _client(db, a.id, now), _client(db, b.id, now)
    with db.uow() as uow:
        ra, rb = uow.records_of(a.id), uow.records_of(b.id)
        p1 = ra.add_plan(ca, PlanKind.SHORT, "call mum", now - H, now - DAY)
        p2 = rb.add_plan(cb, PlanKind.SHORT, "dorm visit", now - 2 * H, now - DAY)
        p3 = ra.add_plan(ca, PlanKind.SHORT, "tomorrow", now + DAY, now - DAY)
        ra.add_plan(ca, PlanKind.LONG, "finish the year", None, now - DAY)
        done = ra.add_plan(ca, PlanKind.SHORT, "done one", now - 3 * H, now - DAY)
        assert ra.complete_plan(done.id, now - 2 * H)
    with db.uow(write=False) as uow:
        due = uow.scan.plan_items_due(now)
    assert [(cid, i.id) for cid, i in due] == [(b.id, p2.id), (a.id, p1.id)]
    assert due[1][1].text == "call mum"  # decrypted
    with db.uow(write=False) as uow:
        assert [i.id for _, i in uow.scan.plan_items_due(now, limit=1)] == [p2.id]
    with db.uow() as uow:
        for _, item in due:
            assert uow.scan.mark_plan_reminded(item.id, item.due_at)
    with db.uow(write=False) as uow:
        assert uow.scan.plan_items_due(now) == []
    # snooze p1 by an hour: not due now, due again after the snooze
    with db.uow() as uow:
        assert uow.records_of(a.id).snooze_plan(p1.id, now + H)
        assert not uow.records_of(b.id).snooze_plan(p1.id, now + 9 * H)  # not b's
    with db.uow(write=False) as uow:
        assert uow.scan.plan_items_due(now) == []
        later = uow.scan.plan_items_due(now + H)
    assert [i.id for _, i in later] == [p1.id] and later[0][1].due_at == now + H
    # done: never again, not even after its due time; snoozing a done item is refused
    with db.uow() as uow:
        assert uow.records_of(a.id).complete_plan(p3.id, now)
        assert not uow.records_of(a.id).snooze_plan(p3.id, now + 2 * DAY)
        assert not uow.records_of(a.id).snooze_plan(done.id, now + 2 * DAY)
    with db.uow(write=False) as uow:
        assert [i.id for _, i in uow.scan.plan_items_due(now + 3 * DAY)] == [p1.id]


def test_alert_scans_and_updates(db: Database, now):
    rules = load_rules()
    a, b = _two_counsellors(db, now)
    ca, cb = _client(db, a.id, now), _client(db, b.id, now)
    with db.uow() as uow:
        e1 = alert_for(ca, Risk.CRISIS, Risk.LOW, REASONS, rules, now)
        e2 = alert_for(cb, Risk.CRISIS, None, REASONS, rules, now + M)
        assert e1.realert_at is not None and e1.escalate_at is not None
        id1 = uow.clinical_of(a.id).add_alert(e1)
        id2 = uow.clinical_of(b.id).add_alert(e2)
    with db.uow(write=False) as uow:
        assert [x.id for x in uow.scan.alerts_to_send()] == [id1, id2]
        assert [x.id for x in uow.scan.alerts_to_send(limit=1)] == [id1]
        assert uow.scan.alerts_to_send()[0].reasons == REASONS
        assert uow.scan.alerts_unpushed() == uow.scan.alerts_to_send()
    # the tick's scan leaves out an alert whose push is queued (matched by the exact key, not
    # a key that merely starts with it); `limit` counts only the alerts it returns, so queued
    # pushes ahead of it never hide an alert whose push is missing
    with db.uow() as uow:
        assert _enqueue(uow, a.id, outbox_keys.alert(id1), now) is not None
        assert _enqueue(uow, a.id, outbox_keys.alert(id1) + "0", now) is not None
    with db.uow(write=False) as uow:
        assert [x.id for x in uow.scan.alerts_unpushed()] == [id2]
        assert uow.scan.alerts_unpushed()[0].reasons == REASONS
        assert [x.id for x in uow.scan.alerts_unpushed(limit=1)] == [id2]
        assert [x.id for x in uow.scan.alerts_unpushed(limit=2)] == [id2]
    with db.uow() as uow:
        for aid in (id1, id2):
            assert uow.scan.update_alert(aid, status="sent", message_id=500 + aid, sent_at=now)
        assert not uow.scan.update_alert(99999, status="sent")
        with pytest.raises(TypeError):
            uow.scan.update_alert(id1, acknowledged_at=now)
        with pytest.raises(ValueError):
            uow.scan.update_alert(id1, status="escalated")
    with db.uow(write=False) as uow:
        assert uow.scan.alerts_to_send() == []
        assert uow.scan.alerts_unpushed() == []
        assert uow.scan.alerts_to_realert(e1.realert_at - M) == []
        assert [x.id for x in uow.scan.alerts_to_realert(e2.realert_at)] == [id1, id2]
        x = uow.clinical_of(a.id).alert(id1)
        assert (x.status, x.message_id, x.sent_at, x.realert_count) == ("sent", 500 + id1, now, 0)
    with db.uow() as uow:  # re-alerted: next time later
        nxt = e1.realert_at + timedelta(minutes=e1.realert_minutes)
        assert uow.scan.update_alert(id1, realert_at=nxt, realert_count=1)
        assert uow.clinical_of(a.id).acknowledge_alert(id2, e2.realert_at) is False  # b's
        assert uow.clinical_of(b.id).acknowledge_alert(id2, e2.realert_at)
        assert not uow.clinical_of(b.id).acknowledge_alert(id2, e2.realert_at + M)  # once
        # the tick marking it sent after the tap leaves it acknowledged
        assert uow.scan.update_alert(id2, status="sent", message_id=9)
    with db.uow(write=False) as uow:
        assert uow.scan.alerts_to_realert(e2.realert_at) == []
        assert [x.id for x in uow.scan.alerts_to_realert(nxt)] == [id1]
        y = uow.clinical_of(b.id).alert(id2)
        assert (y.status, y.acknowledged_at, y.message_id) == ("acknowledged", e2.realert_at, 9)
        assert uow.clinical_of(b.id).alert(id1) is None  # not b's
        late = max(e1.escalate_at, e2.escalate_at)
        assert [x.id for x in uow.scan.alerts_to_escalate(late)] == [id1]  # id2 acknowledged
        assert uow.scan.alerts_to_escalate(e1.escalate_at - M) == []
    with db.uow() as uow:
        assert uow.scan.update_alert(id1, escalated_at=late)
    with db.uow(write=False) as uow:
        assert uow.scan.alerts_to_escalate(late + DAY) == []
        x = uow.clinical_of(a.id).alert(id1)
        assert (x.escalated_at, x.status, x.realert_count) == (late, "sent", 1)


def test_cadence_and_review_scans_and_confirm_review(db: Database, now):
    rules = load_rules()
    a, b = _two_counsellors(db, now)
    ca, cb, cc = _client(db, a.id, now), _client(db, b.id, now), _client(db, a.id, now, "Wu")
    with db.uow() as uow:
        for cid, owner, contact, review in (
            (ca, a.id, now - DAY, now + 10 * DAY),
            (cb, b.id, now - 2 * DAY, now - H),
            (cc, a.id, now + DAY, None),
        ):
            repo = uow.clinical_of(owner)
            g = grade(repo.facts(cid), rules, now)._replace(
                next_contact_due=contact, review_due_at=review
            )
            repo.save_grades(g, tier_set_at=now - 30 * DAY)
    with db.uow(write=False) as uow:
        assert uow.scan.cadence_due(now) == [(b.id, cb, now - 2 * DAY), (a.id, ca, now - DAY)]
        assert uow.scan.reviews_due(now) == [(b.id, cb, now - H)]
        assert len(uow.scan.cadence_due(now + 2 * DAY)) == 3
    with db.uow() as uow:
        assert not uow.clinical_of(a.id).confirm_review(cb, now, now + 30 * DAY)  # not a's
        assert not uow.clinical_of(b.id).confirm_review(12345, now, now + 30 * DAY)
        assert uow.clinical_of(b.id).confirm_review(cb, now, now + 30 * DAY)
    with db.uow(write=False) as uow:
        assert uow.scan.reviews_due(now) == []
        assert uow.clinical_of(b.id).facts(cb).tier_set_at == now
        assert uow.clinical_of(b.id).grades(cb).review_due_at == now + 30 * DAY
        assert uow.scan.reviews_due(now + 30 * DAY) == [
            (a.id, ca, now + 10 * DAY),
            (b.id, cb, now + 30 * DAY),
        ]
    with db.uow() as uow:  # a client that was never graded
        new = uow.clients_of(a.id).add("New", [], None, None, None, now).id
        assert not uow.clinical_of(a.id).confirm_review(new, now, now + DAY)


def test_plan_between_and_scoping(db: Database, now):
    a, b = _two_counsellors(db, now)
    ca, cb = _client(db, a.id, now), _client(db, b.id, now)
    with db.uow() as uow:
        ra, rb = uow.records_of(a.id), uow.records_of(b.id)
        overdue = ra.add_plan(ca, PlanKind.SHORT, "overdue", now - 2 * DAY, now - 3 * DAY)
        today = ra.add_plan(ca, PlanKind.SHORT, "today", now + H, now)
        ra.add_plan(ca, PlanKind.SHORT, "tomorrow", now + DAY, now)
        ra.add_plan(ca, PlanKind.LONG, "goal", None, now)
        finished = ra.add_plan(ca, PlanKind.SHORT, "finished", now, now)
        assert ra.complete_plan(finished.id, now)
        assert not ra.complete_plan(finished.id, now + M)  # only once
        other = rb.add_plan(cb, PlanKind.SHORT, "b's", now, now)
    with db.uow(write=False) as uow:
        ra, rb = uow.records_of(a.id), uow.records_of(b.id)
        got = ra.plan_between(now - 9 * H, now + 12 * H)
        assert [(c.id, p.id) for c, p in got] == [(ca, overdue.id), (ca, today.id)]
        assert got[0][0].name == "Li" and got[1][1].text == "today"
        assert [p.id for _, p in rb.plan_between(now - H, now + H)] == [other.id]
        assert ra.plan_item(today.id) == today
        assert ra.plan_item(other.id) is None and rb.plan_item(today.id) is None
        assert ra.plan_item(finished.id).done_at == now
    with db.uow() as uow:
        ra, rb = uow.records_of(a.id), uow.records_of(b.id)
        assert not rb.complete_plan(today.id, now)
        assert not ra.complete_plan(other.id, now)
        assert not ra.complete_plan(99999, now)
    with db.uow(write=False) as uow:
        assert uow.records_of(a.id).plan_item(today.id).done_at is None


def test_client_delete_cascades_to_outbox(db: Database, now):
    a, b = _two_counsellors(db, now)
    gone, kept = _client(db, a.id, now), _client(db, a.id, now, "Wu")
    with db.uow() as uow:
        _enqueue(uow, a.id, "plan:gone", now, client_id=gone, payload={"client_id": gone})
        _enqueue(uow, a.id, "plan:kept", now, client_id=kept, payload={"client_id": kept})
        _enqueue(uow, a.id, "agenda:a", now, kind="agenda", payload={"date": "2026-03-02"})
        _enqueue(uow, b.id, "agenda:b", now, kind="agenda")
    with db.uow() as uow:
        assert uow.clients_of(a.id).delete(gone)
    with db.uow(write=False) as uow:
        assert [i.dedupe_key for i in uow.outbox.list()] == ["plan:kept", "agenda:a", "agenda:b"]
    with db.engine.begin() as conn:  # a counsellor's rows go with the counsellor
        conn.execute(text("DELETE FROM counsellors WHERE id = :i"), {"i": a.id})
    with db.uow(write=False) as uow:
        assert [i.dedupe_key for i in uow.outbox.list()] == ["agenda:b"]
