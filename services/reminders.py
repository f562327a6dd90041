"""Use cases behind the reminder buttons and the agenda: each one unit of work.

Every id from a button is looked up through the counsellor-scoped repository, so a
replayed or forged button of someone else's simply finds nothing (NotYours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain import schedule
from domain.model import Client, Counsellor, PlanItem, Risk
from domain.rules import RuleBase
from domain.tiering import REVIEW_REASONS, Reason
from services.clients import get_owned
from services.errors import AlertWithdrawn, NotYours
from services.grading import regrade_client
from services.records import SeriesStopped
from services.undo import record_undo
from storage import outbox_keys as keys
from storage.db import Database


@dataclass(frozen=True)
class PlanOutcome:
    client: Client
    plan: PlanItem
    changed: bool  # False: it was already done (a double tap)
    until: datetime | None = None


def complete_plan(db: Database, actor: Counsellor, plan_id: int, now: datetime) -> PlanOutcome:
    with db.uow(write=True) as uow:
        repo = uow.records_of(actor.id)
        plan = repo.plan_item(plan_id)
        if plan is None:
            raise NotYours()
        client = get_owned(uow, actor, plan.client_id)
        changed = repo.complete_plan(plan_id, now)
        uow.outbox.cancel(keys.plan_family(plan_id))
        if changed:
            record_undo(
                uow,
                actor,
                "done",
                {"client_id": client.id, "plan_id": plan_id, "text": plan.text},
                now,
            )
        return PlanOutcome(client=client, plan=repo.plan_item(plan_id) or plan, changed=changed)


def snooze_plan(
    db: Database, actor: Counsellor, plan_id: int, code: str, now: datetime
) -> PlanOutcome:
    if code not in schedule.SNOOZE_CODES:
        raise NotYours()
    until = schedule.snooze_until(now, code, actor.timezone)
    with db.uow(write=True) as uow:
        repo = uow.records_of(actor.id)
        plan = repo.plan_item(plan_id)
        if plan is None:
            raise NotYours()
        client = get_owned(uow, actor, plan.client_id)
        if plan.done_at is not None:
            return PlanOutcome(client=client, plan=plan, changed=False)
        if plan.due_at is not None and plan.due_at >= until:
            # A double tap of the same snooze: already moved at least that far.
            return PlanOutcome(client=client, plan=plan, changed=False, until=plan.due_at)
        repo.snooze_plan(plan_id, until)
        if plan.due_at is not None:
            record_undo(
                uow,
                actor,
                "snooze",
                {
                    "client_id": client.id,
                    "plan_id": plan_id,
                    "text": plan.text,
                    "due_at": plan.due_at.isoformat(),
                    "until": until.isoformat(),
                },
                now,
            )
        return PlanOutcome(
            client=client, plan=repo.plan_item(plan_id) or plan, changed=True, until=until
        )


def stop_series(db: Database, actor: Counsellor, plan_id: int, now: datetime) -> SeriesStopped:
    """The "Stop series" button of an occurrence: the recurring follow-up ends (no further
    occurrences; ones not yet due are removed with their reminders). A double tap finds it
    ended already and changes nothing."""
    with db.uow(write=True) as uow:
        repo = uow.records_of(actor.id)
        plan = repo.plan_item(plan_id)
        if plan is None or plan.series_id is None:
            raise NotYours()
        store = uow.series_of(actor.id)
        series = store.get(plan.series_id)
        if series is None:
            raise NotYours()
        for removed in store.end(series.id, now, "stopped"):
            uow.outbox.cancel(keys.plan_family(removed))
        return SeriesStopped(
            client=get_owned(uow, actor, plan.client_id), series=[store.get(series.id) or series]
        )


@dataclass(frozen=True)
class AlertOutcome:
    client: Client
    alert: Any
    changed: bool
    # every sent copy of the alert (first push, repeats, escalations) and who received it:
    # the handler edits each to keep its text, add "acknowledged at …" and drop the buttons
    copies: tuple[Any, ...] = ()
    recipients: dict[int, Counsellor] = field(default_factory=dict)
    owner: Counsellor | None = None


def acknowledge_alert(
    db: Database, actor: Counsellor, alert_id: int, now: datetime
) -> AlertOutcome:
    with db.uow(write=True) as uow:
        repo = uow.clinical_of(actor.id)
        alert = repo.alert(alert_id)
        if alert is None:
            raise NotYours() if uow.team.alert_exists(alert_id) else AlertWithdrawn()
        changed = repo.acknowledge_alert(alert_id, now)
        uow.outbox.cancel(*keys.alert_family(alert_id))
        copies = tuple(uow.team.alert_copies(alert_id))
        recipients = {c.recipient_id: uow.counsellors.get(c.recipient_id) for c in copies}
        for c in copies:  # an escalation sent instead of someone unreachable names them
            other = c.payload.get("unreachable") if c.kind == "escalation" else None
            if other is not None and int(other) not in recipients:
                recipients[int(other)] = uow.counsellors.get(int(other))
        return AlertOutcome(
            client=get_owned(uow, actor, alert.client_id),
            alert=repo.alert(alert_id) or alert,
            changed=changed,
            # a deactivated counsellor's chat is never written to again (a
            # leaver's copy of an alert handed over stays as it was)
            copies=copies,
            recipients={k: v for k, v in recipients.items() if v is not None and v.active},
            owner=actor,
        )


@dataclass(frozen=True)
class ReviewOutcome:
    client: Client
    grades: Any
    lowered: bool
    floor_kept: bool  # the facts still support the tier: it could not be lowered


def confirm_review(
    db: Database, actor: Counsellor, client_id: int, now: datetime, rules: RuleBase
) -> ReviewOutcome:
    with db.uow(write=True) as uow:
        repo = uow.clients_of(actor.id)
        clinical = uow.clinical_of(actor.id)
        client = repo.get(client_id)
        grades = clinical.grades(client_id) if client is not None else None
        if client is None or grades is None:
            raise NotYours()
        due = now + timedelta(days=rules.standard(grades.risk).review_after_days)
        clinical.confirm_review(client_id, now, due)
        return ReviewOutcome(
            client=client,
            grades=clinical.grades(client_id) or grades,
            lowered=False,
            floor_kept=False,
        )


@dataclass(frozen=True)
class ReviewSubject:
    client: Client
    grades: Any


def review_subject(db: Database, actor: Counsellor, client_id: int) -> ReviewSubject:
    with db.uow(write=False) as uow:
        repo = uow.clients_of(actor.id)
        clinical = uow.clinical_of(actor.id)
        client = repo.get(client_id)
        grades = clinical.grades(client_id) if client is not None else None
        if client is None or grades is None:
            raise NotYours()
        return ReviewSubject(client=client, grades=grades)


def lower_tier(
    db: Database,
    actor: Counsellor,
    client_id: int,
    now: datetime,
    rules: RuleBase,
    reason: str = "improved",
) -> ReviewOutcome:
    """At a review, the counsellor lowers the tier one step, with a reason (REVIEW_REASONS)
    kept first in the tier history. This is the only way a held tier (crisis, or high from a
    safety check) comes down: the hold is let go and the counsellor's own setting becomes the
    lower tier (so it steps down, crisis → high → …, one review at a time). When the facts
    (a current screening, a tag, a safety check) still support the tier, it is kept and the
    review clock restarts instead."""
    if reason not in REVIEW_REASONS:
        raise NotYours()
    with db.uow(write=True) as uow:
        repo = uow.clients_of(actor.id)
        clinical = uow.clinical_of(actor.id)
        client = repo.get(client_id)
        grades = clinical.grades(client_id) if client is not None else None
        if client is None or grades is None:
            raise NotYours()
        order = [Risk.LOW, Risk.MEDIUM, Risk.HIGH, Risk.CRISIS]
        target = order[max(0, order.index(grades.risk) - 1)]
        if grades.risk is Risk.LOW or grades.risk_floor.rank >= grades.risk.rank:
            due = now + timedelta(days=rules.standard(grades.risk).review_after_days)
            clinical.confirm_review(client_id, now, due)
            after = clinical.grades(client_id) or grades
            return ReviewOutcome(client=client, grades=after, lowered=False, floor_kept=True)
        if client.risk is not target:
            repo.set_status(client_id, by_counsellor_id=actor.id, now=now, risk=target)
        note = Reason(
            "counsellor_review", {"reason": reason, "old": grades.risk.value, "new": target.value}
        )
        regrade_client(uow, actor, client_id, now, rules, release_hold=True, note=note)
        after = clinical.grades(client_id) or grades
        lowered = after.risk.rank < grades.risk.rank
        if not lowered:
            due = now + timedelta(days=rules.standard(after.risk).review_after_days)
            clinical.confirm_review(client_id, now, due)
            after = (
                clinical.grades(client_id) or after
            )  # with the new review date, never a past one
        return ReviewOutcome(
            client=repo.get(client_id) or client,
            grades=after,
            lowered=lowered,
            floor_kept=not lowered,
        )


CADENCE_SNOOZE = timedelta(days=1)


def snooze_cadence(
    db: Database, actor: Counsellor, client_id: int, now: datetime
) -> tuple[Client, datetime]:
    """ "该联系" 推迟: remind again in a day (skipped if contact is logged meanwhile)."""
    until = now + CADENCE_SNOOZE
    with db.uow(write=True) as uow:
        client = uow.clients_of(actor.id).get(client_id)
        if client is None:
            raise NotYours()
        uow.outbox.enqueue(
            counsellor_id=actor.id,
            kind="cadence",
            dedupe_key=keys.cadence_snooze(client_id, until),
            due_at=until,
            priority=schedule.PRIORITY["cadence"],
            payload={"client_id": client_id},
            now=now,
            client_id=client_id,
        )
        return client, until


def confirm_quiet_reviews(
    db: Database, actor: Counsellor, now: datetime, rules: RuleBase
) -> list[Client]:
    """ "Confirm all": the low-risk reviews with no risk factor that are due today, confirmed
    together (each gets its next review date). Returns the clients confirmed."""
    from services.agenda import agenda_lists

    with db.uow(write=True) as uow:
        quiet = agenda_lists(uow, actor, now)["quiet"]
        repo = uow.clinical_of(actor.id)
        for client, grades in quiet:
            due = now + timedelta(days=rules.standard(grades.risk).review_after_days)
            repo.confirm_review(client.id, now, due)
        return [c for c, _ in quiet]


def agenda_lists(db: Database, actor: Counsellor, now: datetime) -> dict[str, Any]:
    """Today's agenda lists in full (for "see all")."""
    from services.agenda import agenda_lists as lists

    with db.uow(write=False) as uow:
        return lists(uow, actor, now)


def today(db: Database, actor: Counsellor, now: datetime) -> dict[str, Any]:
    from services.agenda import agenda_data

    with db.uow(write=False) as uow:
        return agenda_data(uow, actor, now)


def update_settings(db: Database, actor: Counsellor, change: schedule.SettingsChange) -> Counsellor:
    with db.uow(write=True) as uow:
        kwargs: dict[str, Any] = {}
        if change.agenda_at is not schedule.UNSET:
            kwargs["agenda_at"] = change.agenda_at
        if change.quiet_hours is not schedule.UNSET:
            kwargs["quiet_hours"] = change.quiet_hours
        if kwargs:
            uow.counsellors.set_settings(actor.id, **kwargs)
        if change.timezone is not schedule.UNSET:
            uow.counsellors.set_timezone(actor.id, change.timezone)
        return uow.counsellors.get(actor.id) or actor


def set_supervisor(
    db: Database, actor: Counsellor, counsellor_tid: int, supervisor_tid: int | None, now: datetime
) -> tuple[Counsellor, Counsellor | None] | None:
    """Admins only: who receives a counsellor's unacknowledged crisis alerts."""
    from domain.errors import CommandError

    if not actor.is_admin:
        raise CommandError("admin_only")
    with db.uow(write=True) as uow:
        counsellor = uow.counsellors.get_by_telegram_id(counsellor_tid)
        supervisor = (
            uow.counsellors.get_by_telegram_id(supervisor_tid)
            if supervisor_tid is not None
            else None
        )
        if counsellor is None or (supervisor_tid is not None and supervisor is None):
            return None
        uow.counsellors.set_supervisor(counsellor.id, supervisor.id if supervisor else None)
        uow.staff.record(actor.id, "supervisor", now, target_id=counsellor.id)
        return uow.counsellors.get(counsellor.id) or counsellor, supervisor
