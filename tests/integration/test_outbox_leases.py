"""Leased claims (migration 0007): a claim is a lease the worker renews while it sends; a
dead worker's rows are taken back; small claims that never let one recipient's queue hold
back another's; the announcement of new urgent rows after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import Database

S = timedelta(seconds=1)
M = timedelta(minutes=1)


def _counsellors(db: Database, now, n: int = 3) -> list[int]:
    with db.uow() as uow:
        return [uow.counsellors.add(1000 + i, f"C{i}", False, now).id for i in range(n)]


def _enqueue(uow, counsellor_id: int, key: str, now, priority: int = 3, **kw):
    return uow.outbox.enqueue(
        counsellor_id=counsellor_id,
        kind="plan",
        dedupe_key=key,
        due_at=now,
        priority=priority,
        payload={},
        now=now,
        **kw,
    )


def test_lease_is_renewed_while_sending_and_taken_back_when_it_runs_out(db: Database, now):
    [a, *_] = _counsellors(db, now, 1)
    with db.uow() as uow:
        ids = [_enqueue(uow, a, f"k{i}", now) for i in range(3)]
    with db.uow() as uow:
        got = uow.outbox.claim(now, limit=2, worker="w1", lease=10 * S)
    assert [i.lease_until for i in got] == [now + 10 * S] * 2
    with db.uow() as uow:  # w1 renews while it sends: nobody may take its rows
        assert uow.outbox.renew("w1", now + 8 * S, lease=10 * S) == set(ids[:2])
        assert [
            i.id for i in uow.outbox.claim(now + 15 * S, limit=10, worker="w2", lease=10 * S)
        ] == [ids[2]]
    with db.uow() as uow:  # w1 stops renewing (it died): after its lease, w3 takes them
        assert uow.outbox.claim(now + 17 * S, limit=10, worker="w3") == []
        assert [i.id for i in uow.outbox.claim(now + 19 * S, limit=10, worker="w3")] == ids[:2]
        assert uow.outbox.renew("w1", now + 19 * S) == set()  # no longer w1's
        assert uow.outbox.renew("w3", now + 19 * S, ids=[ids[0]]) == {ids[0]}
        assert not uow.outbox.mark_sent(ids[0], message_id=1, now=now, worker="w1")
        assert uow.outbox.mark_sent(ids[0], message_id=1, now=now, worker="w3")
        assert uow.outbox.get(ids[0]).lease_until is None


def test_a_dead_workers_rows_are_released_at_once(db: Database, now):
    [a, *_] = _counsellors(db, now, 1)
    with db.uow() as uow:
        ids = [_enqueue(uow, a, f"k{i}", now) for i in range(4)]
    with db.uow() as uow:
        uow.outbox.claim(now, limit=3, worker="host:1:old", lease=M)
        uow.outbox.claim(now, limit=1, worker="host:2:alive", lease=M)
        assert uow.outbox.sending_workers() == ["host:1:old", "host:2:alive"]
        assert uow.outbox.release("host:1:old") == 3
        assert uow.outbox.release("host:1:old") == 0
        assert uow.outbox.sending_workers() == ["host:2:alive"]
    with db.uow() as uow:  # due again at once, attempts kept
        again = uow.outbox.claim(now, limit=10, worker="host:1:new")
    assert [i.id for i in again] == ids[:3]
    assert [i.attempts for i in again] == [2, 2, 2]


def test_claim_ids_takes_only_pending_due_rows_once(db: Database, now):
    [a, *_] = _counsellors(db, now, 1)
    with db.uow() as uow:
        x = _enqueue(uow, a, "x", now, priority=0)
        later = _enqueue(uow, a, "later", now + M, priority=0)
    with db.uow() as uow:
        assert [i.id for i in uow.outbox.claim_ids([x, later], now, worker="bot")] == [x]
        assert uow.outbox.claim_ids([x], now, worker="other") == []  # never twice
        assert uow.outbox.claim_ids([], now, worker="bot") == []
    with db.uow() as uow:
        assert uow.outbox.claim(now, limit=10, worker="tick") == []


def test_small_claims_share_the_rate_between_recipients_and_never_hold_back_an_alert(
    db: Database, now
):
    a, b, c = _counsellors(db, now, 3)
    with db.uow() as uow:
        for i in range(20):
            _enqueue(uow, a, f"a{i}", now - M)  # a's long backlog, oldest
        for i in range(2):
            _enqueue(uow, b, f"b{i}", now)
        alert = _enqueue(uow, a, "alert", now, priority=0)
        _enqueue(uow, c, "c0", now)
    with db.uow() as uow:
        first = uow.outbox.claim(now, limit=10, worker="w", per_counsellor=3)
    assert first[0].id == alert  # most urgent first
    per = {cid: sum(i.counsellor_id == cid for i in first) for cid in (a, b, c)}
    assert per == {a: 3, b: 2, c: 1}  # the alert counts within a's three
    with db.uow() as uow:  # a is still busy: its follow-ups wait, a new alert does not
        _enqueue(uow, a, "alert2", now, priority=1)
        _enqueue(uow, b, "b2", now)
    with db.uow() as uow:
        second = uow.outbox.claim(
            now, limit=10, worker="w", per_counsellor=3, busy_counsellors=[a, b]
        )
    assert [i.dedupe_key for i in second] == ["alert2"]
    with db.uow() as uow:
        third = uow.outbox.claim(now, limit=4, worker="w", per_counsellor=3)
    assert [i.counsellor_id for i in third] == [a, a, a, b]


def test_new_urgent_rows_are_announced_after_commit_only(db: Database, now):
    [a, *_] = _counsellors(db, now, 1)
    heard: list[list[int]] = []
    unsubscribe = db.on_urgent(heard.append)
    with db.uow() as uow:
        crisis = _enqueue(uow, a, "crisis", now, priority=0)
        _enqueue(uow, a, "follow-up", now, priority=3)
        assert heard == []  # not before the commit
    assert heard == [[crisis]]
    with pytest.raises(RuntimeError), db.uow() as uow:
        _enqueue(uow, a, "rolled-back", now, priority=0)
        raise RuntimeError("the handler failed")
    with db.uow() as uow:
        assert _enqueue(uow, a, "crisis", now, priority=0) is None  # a duplicate is not news
    assert heard == [[crisis]]
    unsubscribe()
    with db.uow() as uow:
        _enqueue(uow, a, "high", now, priority=1)
    assert heard == [[crisis]]
