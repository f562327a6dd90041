"""Caseload handover and deactivation in storage (issue 14), on SQLite and PostgreSQL: one
transaction moves the clients (renumbered after the colleague's own), their alerts and
queued reminders; the leaver's other queued messages are cancelled; the audit trail keeps
who/what/when only."""

from __future__ import annotations

from datetime import timedelta

from domain.model import PlanKind, Risk
from domain.rules import load_rules
from domain.tiering import Reason, alert_for
from storage import Database

H = timedelta(hours=1)


def test_hand_over_moves_everything_in_one_transaction(db: Database, now):
    with db.uow() as uow:
        leaver = uow.counsellors.add(1, "Leaver", False, now)
        colleague = uow.counsellors.add(2, "Colleague", False, now)
        other = uow.counsellors.add(3, "Other", False, now)
        uow.counsellors.set_supervisor(other.id, leaver.id)
        mine = uow.clients_of(colleague.id).add("自己的", [], None, None, None, now)
        repo = uow.clients_of(leaver.id)
        a = repo.add("王芳", ["贫困生"], "2025001", None, None, now)
        b = repo.add("李雷", [], None, None, None, now)
        plan = repo.add_plan(a.id, PlanKind.SHORT, "看看进展", now + H, now)
        alert_id = repo.add_alert(alert_for(a.id, Risk.CRISIS, None, (Reason("counsellor_risk", {"risk": "crisis"}),), load_rules(), now))
        uow.scan.update_alert(alert_id, status="sent", message_id=77)
        kept = uow.outbox.enqueue(counsellor_id=leaver.id, kind="plan", dedupe_key="plan:t:1", due_at=now,
                                  priority=5, payload={"plan_id": plan.id}, now=now, client_id=a.id)
        dropped = uow.outbox.enqueue(counsellor_id=leaver.id, kind="agenda", dedupe_key="agenda:t:1", due_at=now,
                                     priority=9, payload={"date": "2026-03-02"}, now=now)
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
        assert {n: c.number for n, c in moved.items()} == {"自己的": mine.number, "王芳": 2, "李雷": 3}
        assert moved["王芳"].sid == "2025001" and moved["王芳"].tags == ("贫困生",)
        repo = uow.clients_of(colleague.id)
        assert repo.relationship_map(a.id).plan[0].text == "看看进展"
        [alert] = repo.alerts(a.id)
        assert alert.counsellor_id == colleague.id and alert.message_id is None
        assert uow.outbox.get(kept).counsellor_id == colleague.id and uow.outbox.get(kept).status == "pending"
        assert uow.outbox.get(dropped).status == "cancelled"
        assert uow.pending.latest(leaver.id, "note", now) is None
        assert uow.counsellors.get(other.id).supervisor_id is None  # escalations go to the admins
        assert not uow.counsellors.get(leaver.id).active
        [entry] = uow.staff.audit(None)
        assert (entry.actor_id, entry.action, entry.target_id) == (colleague.id, "handover", leaver.id)
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
        assert uow.invites.get_valid("h2", now) is None and uow.invites.get_valid("h1", now) is not None
