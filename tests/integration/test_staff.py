"""Caseload handover and deactivation in storage (issue 14), on SQLite and PostgreSQL: one
transaction moves the clients (renumbered after the colleague's own), their alerts and
queued reminders; the leaver's other queued messages are cancelled; the audit trail keeps
who/what/when only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram import Bot

from domain.model import PlanKind, Risk
from domain.rules import load_rules
from domain.schedule import PRIORITY
from domain.tiering import Reason, alert_for
from reminders.delivery import Deliverer, DeliveryStats
from reminders.ratelimit import SendLimiter
from rendering.render import default_renderer
from services.team import ask_deactivate, ask_handover, confirm_team
from storage import Database
from storage import outbox_keys as keys

H = timedelta(hours=1)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_hand_over_moves_everything_in_one_transaction(db: Database, now):
    with db.uow() as uow:
        leaver = uow.counsellors.add(1, "Leaver", False, now)
        colleague = uow.counsellors.add(2, "Colleague", False, now)
        other = uow.counsellors.add(3, "Other", False, now)
        uow.counsellors.set_supervisor(other.id, leaver.id)
        mine = uow.clients_of(colleague.id).add("自己的", [], None, None, None, now)
        repo = uow.clients_of(leaver.id)
        records = uow.records_of(leaver.id)
        clinical = uow.clinical_of(leaver.id)
        a = repo.add("王芳", ["贫困生"], "2025001", None, None, now)
        b = repo.add("李雷", [], None, None, None, now)
        plan = records.add_plan(a.id, PlanKind.SHORT, "看看进展", now + H, now)
        alert_id = clinical.add_alert(
            alert_for(
                a.id,
                Risk.CRISIS,
                None,
                (Reason("counsellor_risk", {"risk": "crisis"}),),
                load_rules(),
                now,
            )
        )
        uow.scan.update_alert(alert_id, status="sent", message_id=77)
        kept = uow.outbox.enqueue(
            counsellor_id=leaver.id,
            kind="plan",
            dedupe_key="plan:t:1",
            due_at=now,
            priority=5,
            payload={"plan_id": plan.id},
            now=now,
            client_id=a.id,
        )
        dropped = uow.outbox.enqueue(
            counsellor_id=leaver.id,
            kind="agenda",
            dedupe_key="agenda:t:1",
            due_at=now,
            priority=9,
            payload={"date": "2026-03-02"},
            now=now,
        )
        uow.pending.add(leaver.id, "note", {"text": "x"}, now, now + H)

    with db.uow() as uow:
        assert uow.staff.caseload_counts(leaver.id) == (2, 1, 1)
        done = uow.staff.hand_over(leaver.id, colleague.id)
        assert (done.clients, done.open_plans, done.open_alerts, done.first_number) == (2, 1, 1, 2)
        assert done.sent_alert_ids == (alert_id,) and done.reminders == 1
        assert uow.staff.set_active(leaver.id, False, now)
        assert not uow.staff.set_active(leaver.id, False, now)  # once
        uow.staff.record(colleague.id, "handover", now, target_id=leaver.id)

    with db.uow(write=False) as uow:
        assert uow.clients_of(leaver.id).list() == []
        moved = {c.name: c for c in uow.clients_of(colleague.id).list()}
        assert {n: c.number for n, c in moved.items()} == {
            "自己的": mine.number,
            "王芳": 2,
            "李雷": 3,
        }
        assert moved["王芳"].sid == "2025001" and moved["王芳"].tags == ("贫困生",)
        repo = uow.records_of(colleague.id)
        clinical = uow.clinical_of(colleague.id)
        assert repo.relationship_map(a.id).plan[0].text == "看看进展"
        [alert] = clinical.alerts(a.id)
        assert alert.counsellor_id == colleague.id and alert.message_id is None
        assert (
            uow.outbox.get(kept).counsellor_id == colleague.id
            and uow.outbox.get(kept).status == "pending"
        )
        assert uow.outbox.get(dropped).status == "cancelled"
        assert uow.pending.latest(leaver.id, "note", now) is None
        assert uow.counsellors.get(other.id).supervisor_id is None  # escalations go to the admins
        assert not uow.counsellors.get(leaver.id).active
        [entry] = uow.staff.audit(None)
        assert (entry.actor_id, entry.action, entry.target_id) == (
            colleague.id,
            "handover",
            leaver.id,
        )
        assert uow.staff.audit(leaver.id) == []
    assert b.id in {c.id for c in moved.values()}


def test_invites_listed_and_revoked(db: Database, now):
    with db.uow() as uow:
        admin = uow.counsellors.add(1, "Admin", True, now)
        first = uow.invites.create("h1", admin.id, now + 24 * H, now)
        second = uow.invites.create("h2", admin.id, now + 24 * H, now)
    with db.uow() as uow:
        assert [i.id for i in uow.staff.open_invites(now)] == [first, second]
        assert uow.staff.revoke_invite(second, now)
        assert not uow.staff.revoke_invite(second, now)
    with db.uow(write=False) as uow:
        assert [i.id for i in uow.staff.open_invites(now)] == [first]
        assert (
            uow.invites.get_valid("h2", now) is None
            and uow.invites.get_valid("h1", now) is not None
        )


# --- handover and deactivation against the leased delivery (issue 10's Deliverer) ----------


def _escalation(uow, alert_id: int, client_id: int, to_id: int, from_id: int, now) -> int:
    return uow.outbox.enqueue(
        counsellor_id=to_id,
        kind="escalation",
        dedupe_key=keys.escalation(alert_id, to_id),
        due_at=now,
        priority=PRIORITY["escalation"],
        payload={
            "alert_id": alert_id,
            "client_id": client_id,
            "from": from_id,
            "reason": "unacknowledged",
        },
        now=now,
    )


async def test_after_a_handover_every_queued_push_reaches_the_new_line_and_nothing_the_leaver(
    db: Database, now, fake_api
):
    """Claimed rows too: a worker that claimed the leaver's reminder before the handover
    composes it after, for the new counsellor. Escalations: those queued to the leaver (a
    supervisor) go to the admins; those about the moved clients go only to who receives the
    new counsellor's escalations."""
    chats = {
        tid: fake_api.user(tid, name, started=True)
        for tid, name in ((1, "Admin"), (2, "Leaver"), (3, "Colleague"), (4, "Sup"), (5, "Other"))
    }
    rules = load_rules()
    crisis = (Reason("counsellor_risk", {"risk": "crisis"}),)
    with db.uow() as uow:
        admin = uow.counsellors.add(1, "Admin", True, now)
        leaver = uow.counsellors.add(2, "Leaver", False, now)
        colleague = uow.counsellors.add(3, "Colleague", False, now)
        sup = uow.counsellors.add(4, "Sup", False, now)
        other = uow.counsellors.add(5, "Other", False, now)
        for c in (admin, leaver, colleague, sup, other):
            uow.counsellors.set_settings(c.id, agenda_at=None)
        uow.counsellors.set_supervisor(leaver.id, sup.id)
        uow.counsellors.set_supervisor(other.id, leaver.id)
        repo = uow.clients_of(leaver.id)
        records = uow.records_of(leaver.id)
        clinical = uow.clinical_of(leaver.id)
        wang = repo.add("王芳", [], None, None, None, now)
        plan = records.add_plan(wang.id, PlanKind.SHORT, "看看进展", now, now)
        alert_id = clinical.add_alert(alert_for(wang.id, Risk.CRISIS, None, crisis, rules, now))
        uow.scan.update_alert(alert_id, status="sent", message_id=77, escalated_at=now)
        _escalation(uow, alert_id, wang.id, sup.id, leaver.id, now)  # to the leaver's supervisor
        plan_row = uow.outbox.enqueue(
            counsellor_id=leaver.id,
            kind="plan",
            dedupe_key=keys.plan(plan.id, now),
            due_at=now,
            priority=PRIORITY["plan"],
            payload={"client_id": wang.id, "plan_id": plan.id},
            now=now,
            client_id=wang.id,
        )
        theirs = uow.clients_of(other.id).add("李雷", [], None, None, None, now)
        other_alert = uow.clinical_of(other.id).add_alert(
            alert_for(theirs.id, Risk.CRISIS, None, crisis, rules, now)
        )
        uow.scan.update_alert(other_alert, status="sent", message_id=78, escalated_at=now)
        _escalation(
            uow, other_alert, theirs.id, leaver.id, other.id, now
        )  # the leaver supervises Other
    with db.uow() as uow:  # a worker claims the leaver's reminder just before the handover
        [claimed] = uow.outbox.claim_ids([plan_row], now, worker="w1")
    assert claimed.kind == "plan" and claimed.counsellor_id == leaver.id

    ask = ask_handover(db, admin, 2, 3, now)
    assert confirm_team(db, admin, ask.pending_id, now) is not None

    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        fast = SendLimiter(overall_per_second=1000, per_chat_rate=500, per_chat_burst=50)
        worker = Deliverer(db, bot, default_renderer(), lambda: now, fast, worker="w1")
        worker._hold([claimed])  # noqa: SLF001 - the row it claimed before the handover
        stats = DeliveryStats()
        await worker._deliver(claimed, stats)  # noqa: SLF001
        await worker.run()
        worker.close()
    texts = {tid: [m.text for m in user.messages] for tid, user in chats.items()}
    assert texts[2] == []  # the leaver: nothing
    assert texts[4] == []  # the leaver's supervisor does not receive the colleague's escalations
    assert any("看看进展" in t for t in texts[3]) and any(
        "#1 王芳" in t for t in texts[3]
    )  # reminder, repeat
    admin_got = texts[1]
    assert any(
        "王芳" in t for t in admin_got
    )  # the colleague's line (the admins) hears of the moved alert
    assert any(
        "李雷" in t for t in admin_got
    )  # Other's escalation, once the leaver's, now the admins'
    assert texts[5] == []


async def test_a_deactivated_counsellor_gets_nothing_already_queued_or_claimed(
    db: Database, now, fake_api
):
    chats = {
        tid: fake_api.user(tid, name, started=True) for tid, name in ((1, "Admin"), (2, "Leaver"))
    }
    with db.uow() as uow:
        admin = uow.counsellors.add(1, "Admin", True, now)
        leaver = uow.counsellors.add(2, "Leaver", False, now)
        uow.counsellors.set_settings(admin.id, agenda_at=None)
        row = uow.outbox.enqueue(
            counsellor_id=leaver.id,
            kind="agenda",
            dedupe_key=keys.agenda(leaver.id, now.date()),
            due_at=now,
            priority=PRIORITY["agenda"],
            payload={"date": now.date().isoformat()},
            now=now,
        )
    with db.uow() as uow:
        [claimed] = uow.outbox.claim_ids([row], now, worker="w1")
    ask = ask_deactivate(db, admin, 2, now)
    assert confirm_team(db, admin, ask.pending_id, now) is not None
    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        worker = Deliverer(db, bot, default_renderer(), lambda: now, worker="w1")
        worker._hold([claimed])  # noqa: SLF001
        stats = DeliveryStats()
        await worker._deliver(claimed, stats)  # noqa: SLF001
        worker.close()
    assert stats.cancelled == 1 and not chats[2].messages
    with db.uow(write=False) as uow:
        assert uow.outbox.get(claimed.id).status in ("failed", "cancelled")
