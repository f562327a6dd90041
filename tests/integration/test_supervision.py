"""`uow.team` (issue 11) on SQLite and PostgreSQL: an alert's sent copies (exact keys: alert 1
is not alert 10), the team loads behind /team and the supervisor digest."""

from __future__ import annotations

from datetime import timedelta

from domain import grammar
from services import clients, records, supervision
from services.grading import default_rules
from storage import Database
from storage import outbox_keys as keys

RULES = default_rules()


def _setup(db_url, cipher, now):
    db = Database(db_url, cipher)
    db.migrate()
    with db.uow(write=True) as uow:
        admin = uow.counsellors.add(telegram_id=1, display_name="Li", is_admin=True, now=now)
        zhang = uow.counsellors.add(telegram_id=2, display_name="Zhang", is_admin=False, now=now)
        wang = uow.counsellors.add(telegram_id=3, display_name="Wang", is_admin=False, now=now)
        uow.counsellors.set_supervisor(zhang.id, wang.id)
    return db, admin, uow_get(db, zhang.id), wang


def uow_get(db, cid):
    with db.uow(write=False) as uow:
        return uow.counsellors.get(cid)


def _client(db, actor, name, now, risk=None):
    clients.add_client(db, actor, grammar.parse_new(name), now, None, rules=RULES)
    if risk:
        records.set_status(db, actor, f"{name} risk={risk}", now, None, rules=RULES)


def test_loads_copies_and_digest(db_url, cipher, now):
    db, admin, zhang, wang = _setup(db_url, cipher, now)
    _client(db, zhang, "学生C", now, risk="crisis")
    _client(db, zhang, "学生H", now, risk="high")
    _client(db, zhang, "学生L", now)
    _client(db, admin, "王芳", now)
    with db.uow(write=False) as uow:
        loads = {ld.counsellor.display_name: ld for ld in uow.team.loads(now)}
    assert set(loads) == {"Li", "Zhang", "Wang"}
    z = loads["Zhang"]
    assert (z.open_crisis, z.open_high) == (1, 1)
    assert z.supervisor is not None and z.supervisor.display_name == "Wang"
    assert [name for _, name in z.crisis_clients] == ["学生C"]  # crisis only: need to know
    assert loads["Li"].open_crisis == 0 and loads["Li"].supervisor is None

    # later: every client is past contact; only high/crisis count for the digest
    later = now + timedelta(days=200)
    with db.uow(write=False) as uow:
        z = next(ld for ld in uow.team.loads(later) if ld.counsellor.id == zhang.id)
        assert z.past_contact == 3 and z.high_past_contact == 2
        assert bool(supervision.digest_for(uow, wang, later))
        assert not supervision.digest_for(
            uow, admin, later
        )  # Li's only supervisee has nothing high
        lines = supervision.digest_for(uow, wang, later).lines
        assert [ld.counsellor.display_name for ld in lines] == ["Zhang"]

    # the copies of alert N are found by exact key (not alert N0 …)
    with db.uow(write=True) as uow:
        alert_id = (
            uow.clinical_of(zhang.id)
            .alerts(next(c.id for c in uow.clients_of(zhang.id).list() if c.name == "学生C"))[0]
            .id
        )
        other = alert_id * 10
        for key, kind, _mid in (
            (keys.alert(alert_id), "alert", 11),
            (keys.realert(alert_id, 1), "realert", 12),
            (keys.escalation(alert_id, wang.id), "escalation", 13),
            (keys.alert(other), "alert", 99),
            (keys.realert(other, 1), "realert", 98),
        ):
            row = uow.outbox.enqueue(
                counsellor_id=zhang.id,
                kind=kind,
                dedupe_key=key,
                due_at=now,
                priority=0,
                payload={"alert_id": alert_id},
                now=now,
            )
            # raising the alert already queued its first push (issue 10: sent at once)
            assert row is not None or key == keys.alert(alert_id)
        for item in uow.outbox.claim(now, limit=50, worker="t"):
            uow.outbox.mark_sent(
                item.id,
                message_id={
                    keys.alert(alert_id): 11,
                    keys.realert(alert_id, 1): 12,
                    keys.escalation(alert_id, wang.id): 13,
                }.get(item.dedupe_key, 99),
                now=now,
            )
    with db.uow(write=False) as uow:
        copies = uow.team.alert_copies(alert_id)
    assert [(c.kind, c.message_id) for c in copies] == [
        ("alert", 11),
        ("realert", 12),
        ("escalation", 13),
    ]
    db.dispose()


def test_unsupervised_and_team_are_for_admins(db_url, cipher, now):
    db, admin, zhang, wang = _setup(db_url, cipher, now)
    lines = supervision.unsupervised(db, admin, now)
    assert {
        ln.counsellor.display_name: [t.display_name for t in ln.escalates_to] for ln in lines
    } == {"Li": [], "Wang": ["Li"]}
    assert supervision.unsupervised(db, zhang, now) == []
    assert [ln.counsellor.display_name for ln in supervision.team(db, admin, now)] == [
        "Li",
        "Zhang",
        "Wang",
    ]
    db.dispose()
