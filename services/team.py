"""Team administration (issue 14): who is an admin; deactivation, caseload handover and invites (admins only)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import CommandError
from domain.escalation import escalation_targets
from domain.model import Counsellor
from domain.schedule import PRIORITY
from storage import outbox_keys as keys
from storage.db import Database
from storage.dto import Invite
from storage.staff import AuditEntry, Handover
from storage.uow import UnitOfWork


def sync_admins(
    db: Database, admin_telegram_ids: Iterable[int], log: logging.Logger | None = None
) -> tuple[list[int], list[int]]:
    """At every start: admins are exactly the counsellors listed in CAREMAP_ADMIN_IDS.
    A removed id loses /invite, supervisor settings and the admins' escalations at once."""
    with db.uow(write=True) as uow:
        granted, revoked = uow.counsellors.sync_admins(admin_telegram_ids)
    if log is not None and (granted or revoked):
        log.info(
            "CAREMAP_ADMIN_IDS: admin rights given to %d and taken from %d counsellor(s) "
            "(counsellor ids given %s, taken %s)",
            len(granted),
            len(revoked),
            granted,
            revoked,
        )
    return granted, revoked


# --- deactivation, handover, invites (admins) ----------------------------------------------

TEAM_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class TeamAsk:
    """A deactivation or handover waiting for the admin's confirmation button."""

    pending_id: int
    action: str  # "deactivate" | "handover"
    who: Counsellor
    to: Counsellor | None
    clients: int
    plans: int
    alerts: int


@dataclass(frozen=True)
class TeamDone:
    action: str
    who: Counsellor
    to: Counsellor | None
    handover: Handover | None


def _admin(actor: Counsellor) -> None:
    if not actor.is_admin:
        raise CommandError("admin_only_team")


def _by_tid(uow: UnitOfWork, tid: int) -> Counsellor:
    who = uow.counsellors.get_by_telegram_id(tid)
    if who is None:
        raise CommandError("team_unknown", id=tid)
    return who


def ask_deactivate(db: Database, actor: Counsellor, tid: int, now: datetime) -> TeamAsk:
    """`/team deactivate <id>`: checks, then parks the confirmation. A counsellor with
    clients must be handed over instead (their students are never left without anyone)."""
    _admin(actor)
    with db.uow(write=True) as uow:
        who = _by_tid(uow, tid)
        _check_leaver(actor, who)
        clients, plans, alerts = uow.staff.caseload_counts(who.id)
        if clients:
            raise CommandError("team_handover_first", id=tid, clients=clients)
        pending_id = uow.pending.add(
            actor.id, "team", {"action": "deactivate", "who": who.id}, now, now + TEAM_TTL
        )
        return TeamAsk(pending_id, "deactivate", who, None, clients, plans, alerts)


def ask_handover(
    db: Database, actor: Counsellor, from_tid: int, to_tid: int, now: datetime
) -> TeamAsk:
    """`/team handover <from> <to>`: the leaver's whole caseload to a colleague, and the
    leaver deactivated, in one transaction once confirmed."""
    _admin(actor)
    with db.uow(write=True) as uow:
        who = _by_tid(uow, from_tid)
        to = _by_tid(uow, to_tid)
        _check_leaver(actor, who)
        if to.id == who.id:
            raise CommandError("team_same")
        if to.deactivated_at is not None:
            raise CommandError("team_to_inactive", id=to_tid)
        clients, plans, alerts = uow.staff.caseload_counts(who.id)
        pending_id = uow.pending.add(
            actor.id,
            "team",
            {"action": "handover", "who": who.id, "to": to.id},
            now,
            now + TEAM_TTL,
        )
        return TeamAsk(pending_id, "handover", who, to, clients, plans, alerts)


def _check_leaver(actor: Counsellor, who: Counsellor) -> None:
    if who.id == actor.id:
        raise CommandError("team_not_self")
    if who.is_admin:
        raise CommandError("team_admin_listed", id=who.telegram_id)
    if who.deactivated_at is not None:
        raise CommandError("team_already_inactive", id=who.telegram_id)


def confirm_team(
    db: Database, actor: Counsellor, pending_id: int, now: datetime
) -> TeamDone | None:
    """Do the parked deactivation or handover, checking everything again (the team may
    have changed since the question). None when the button is not this admin's, used or
    expired."""
    _admin(actor)
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "team":
            return None
        if uow.pending.consume(pending_id, actor.id, now=now) is None:
            return None
        payload = pending.payload
        who = uow.counsellors.get(int(payload["who"]))
        if who is None:
            return None
        _check_leaver(actor, who)
        to = None
        handover = None
        # escalations of other counsellors' alerts still on their way to the leaver (their
        # supervisor): they find the alert's new recipients once the leaver is gone
        queued_to_leaver = uow.staff.escalations_to(who.id)
        if payload["action"] == "handover":
            to = uow.counsellors.get(int(payload["to"]))
            if to is None or to.deactivated_at is not None:
                raise CommandError("team_to_inactive", id=to.telegram_id if to else 0)
            handover = uow.staff.hand_over(who.id, to.id)
            _tell_new_owner(uow, to, handover, now)
            uow.staff.record(actor.id, "handover", now, target_id=who.id)
        elif uow.staff.caseload_counts(who.id)[0]:
            raise CommandError(
                "team_handover_first",
                id=who.telegram_id,
                clients=uow.staff.caseload_counts(who.id)[0],
            )
        uow.staff.set_active(who.id, False, now)
        uow.staff.record(actor.id, "deactivate", now, target_id=who.id)
        if handover is not None:
            _escalate_moved(uow, who, handover, now)
        _reroute_escalations(uow, who, queued_to_leaver, now)
        return TeamDone(payload["action"], uow.counsellors.get(who.id) or who, to, handover)


def _escalate(uow: UnitOfWork, alert: Any, from_id: int, reason: str, now: datetime) -> None:
    """Queue the escalation of `alert` to whoever receives its (current) owner's escalations
    now; a recipient who already has it (same dedupe key) is skipped."""
    owner = uow.counsellors.get(alert.counsellor_id)
    if owner is None:
        return
    supervisor = (
        uow.counsellors.get(owner.supervisor_id) if owner.supervisor_id is not None else None
    )
    for target in escalation_targets(owner, supervisor, uow.counsellors.list_admins()):
        if not target.active:
            continue
        uow.outbox.enqueue_escalation(alert, target.id, from_id=from_id, reason=reason, now=now)


def _escalate_moved(uow: UnitOfWork, leaver: Counsellor, handover: Handover, now: datetime) -> None:
    """An alert the leaver's line had already been told about (escalated) is told to the new
    counsellor's line too: escalations still queued to the old line are sent only to those
    who also receive the new counsellor's (reminders.compose)."""
    for alert_id in handover.open_alert_ids:
        alert = uow.scan.alert(alert_id)
        if alert is not None and alert.acknowledged_at is None and alert.escalated_at is not None:
            _escalate(uow, alert, leaver.id, "unacknowledged", now)


def _reroute_escalations(
    uow: UnitOfWork, leaver: Counsellor, payloads: list[dict[str, Any]], now: datetime
) -> None:
    for payload in payloads:
        if "alert_id" not in payload:
            continue
        alert = uow.scan.alert(int(payload["alert_id"]))
        if alert is None or alert.acknowledged_at is not None or alert.counsellor_id == leaver.id:
            continue
        _escalate(
            uow,
            alert,
            int(payload.get("from", alert.counsellor_id)),
            str(payload.get("reason", "unacknowledged")),
            now,
        )


def _tell_new_owner(uow: UnitOfWork, to: Counsellor, handover: Handover, now: datetime) -> None:
    """The open alerts the leaver had already been sent are pushed to the new counsellor
    now, as a repeat of each (the same path as an unacknowledged alert's re-alert)."""
    repo = uow.clinical_of(to.id)
    for alert_id in handover.sent_alert_ids:
        alert = repo.alert(alert_id)
        if alert is None or alert.acknowledged_at is not None:
            continue
        n = alert.realert_count + 1
        uow.outbox.enqueue(
            counsellor_id=to.id,
            kind="realert",
            dedupe_key=keys.realert(alert.id, n),
            due_at=now,
            priority=PRIORITY["realert"],
            payload={"alert_id": alert.id, "client_id": alert.client_id, "n": n},
            now=now,
            client_id=alert.client_id,
        )
        uow.scan.update_alert(alert.id, realert_count=n)


def cancel_team(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> bool:
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "team":
            return False
        return uow.pending.consume(pending_id, actor.id, now=now) is not None


def reactivate(db: Database, actor: Counsellor, tid: int, now: datetime) -> Counsellor:
    _admin(actor)
    with db.uow(write=True) as uow:
        who = _by_tid(uow, tid)
        if not uow.staff.set_active(who.id, True, now):
            raise CommandError("team_already_active", id=tid)
        uow.staff.record(actor.id, "reactivate", now, target_id=who.id)
        return uow.counsellors.get(who.id) or who


def list_invites(
    db: Database, actor: Counsellor, now: datetime
) -> list[tuple[Invite, Counsellor | None]]:
    _admin(actor)
    with db.uow(write=False) as uow:
        return [(i, uow.counsellors.get(i.created_by)) for i in uow.staff.open_invites(now)]


def revoke_invite(db: Database, actor: Counsellor, invite_id: int, now: datetime) -> bool:
    _admin(actor)
    with db.uow(write=True) as uow:
        done = uow.staff.revoke_invite(invite_id, now)
        if done:
            uow.staff.record(actor.id, "revoke_invite", now, target_id=None)
        return done


def team_list(
    db: Database, actor: Counsellor
) -> list[tuple[Counsellor, int, Counsellor | None, datetime | None]]:
    """Every counsellor with their caseload size, supervisor and last activity (a logged
    conversation or an audited action; admins only)."""
    _admin(actor)
    with db.uow(write=False) as uow:
        everyone = uow.counsellors.list_all()
        by_id = {c.id: c for c in everyone}
        active = uow.staff.last_activity()
        return [
            (
                c,
                uow.staff.caseload_counts(c.id)[0],
                by_id.get(c.supervisor_id) if c.supervisor_id is not None else None,
                active.get(c.id),
            )
            for c in everyone
        ]


# --- the audit trail ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditLine:
    entry: AuditEntry
    actor: Counsellor | None
    target: Counsellor | None


def audit(db: Database, actor: Counsellor) -> tuple[bool, list[AuditLine]]:
    """`/audit`: a counsellor's own last 20 actions; an admin's view is the team's last 20.
    Who, what, when and a client's number — never a name or a note."""
    team = actor.is_admin
    with db.uow(write=False) as uow:
        entries = uow.staff.audit(None if team else actor.id, limit=20)
        people: dict[int, Counsellor | None] = {}

        def person(cid: int | None) -> Counsellor | None:
            if cid is None:
                return None
            if cid not in people:
                people[cid] = uow.counsellors.get(cid)
            return people[cid]

        return team, [AuditLine(e, person(e.actor_id), person(e.target_id)) for e in entries]
