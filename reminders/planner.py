"""Planning: turn what is due in the database into outbox rows (idempotently).

Every kind of due work has a dedupe key, so running the planner twice — or in two
processes — enqueues each reminder once. Nothing here sends anything.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.escalation import fallback_targets as domain_fallback_targets
from domain.model import Counsellor
from domain.schedule import PRIORITY, URGENT_RISKS, agenda_due, urgent_priority
from services.escalation import escalation_targets
from services.grading import enqueue_alert_push
from storage import Database, UnitOfWork
from storage import outbox_keys as keys

# How far back a cadence or review reminder may still be worth sending after downtime is
# not limited: a reminder that was due while the bot was down is sent at start.


log = logging.getLogger("caremap.reminders")

PLAN_BATCH = 500


def _alert_priority(tier: Any) -> int:
    value = getattr(tier, "value", tier)
    return PRIORITY["alert_crisis"] if value == "crisis" else PRIORITY["alert_high"]


def enqueue_escalation(
    uow: UnitOfWork, alert: Any, now: datetime, reason: str, unreachable: Counsellor | None = None
) -> int:
    """Queue the escalation copies of an alert. `unreachable`: a target whose copy Telegram
    refused (they blocked the bot); the copy then goes to the other admins instead, and
    when there is nobody left the counsellor is told so: there is always someone."""
    counsellor = uow.counsellors.get(alert.counsellor_id)
    if counsellor is None:
        return 0
    count = 0
    payload_extra: dict[str, Any] = {}
    if unreachable is None:
        targets = escalation_targets(uow, counsellor)
    else:
        targets = domain_fallback_targets(counsellor, unreachable, uow.counsellors.list_admins())
        payload_extra["unreachable"] = unreachable.id
    if (
        not targets
        and reason != "blocked"
        and (unreachable is None or unreachable.id != counsellor.id)
    ):
        # Nobody to escalate to (a lone admin without a supervisor, or every admin has blocked
        # the bot): the counsellor is told so in their own chat, never silently nowhere.
        targets, reason = [counsellor], "nobody"
    if not targets:
        log.warning(
            "alert %s: the counsellor has blocked the bot and there is nobody to escalate to "
            "(no supervisor, no other admin who can be reached)",
            alert.id,
        )
    for target in targets:
        if (
            uow.outbox.enqueue_escalation(
                alert, target.id, from_id=counsellor.id, reason=reason, now=now, extra=payload_extra
            )
            is not None
        ):
            count += 1
    uow.scan.update_alert(alert.id, escalated_at=now)
    return count


def _joined_after_agenda(counsellor: Counsellor, day: Any) -> bool:
    """A counsellor who joined after that day's agenda time gets their first one tomorrow."""
    if counsellor.created_at is None or counsellor.agenda_at is None:
        return False
    joined = counsellor.created_at.astimezone(ZoneInfo(counsellor.timezone))
    return joined.date() == day and joined.strftime("%H:%M") > counsellor.agenda_at


def plan_due_work(db: Database, now: datetime) -> dict[str, int]:
    """One unit of work: enqueue everything that has come due. Returns counts per kind.

    Set-based (issue 12): each kind is found with one scan that leaves out what is already
    in the outbox, and enqueued with one multi-row insert per PLAN_BATCH rows; a tick with
    nothing due costs the same few statements whatever the caseload."""
    counts = {
        "plan": 0,
        "alert": 0,
        "realert": 0,
        "escalation": 0,
        "cadence": 0,
        "review": 0,
        "agenda": 0,
        "digest": 0,
    }
    with db.uow(write=True) as uow:
        outbox = uow.outbox
        while True:
            due = uow.scan.plan_items_due(now, limit=PLAN_BATCH)
            if not due:
                break
            # (every one is dated: the scan selects due_at <= now)
            dated = [(cid, item, item.due_at) for cid, item in due if item.due_at is not None]
            counts["plan"] += outbox.enqueue_many(
                dict(
                    counsellor_id=counsellor_id,
                    kind="plan",
                    dedupe_key=keys.plan(item.id, due_at),
                    due_at=due_at,
                    priority=PRIORITY["plan"],
                    payload={"plan_id": item.id, "client_id": item.client_id},
                    now=now,
                    client_id=item.client_id,
                )
                for counsellor_id, item, due_at in dated
            )
            uow.scan.mark_plans_reminded((item.id, due_at) for _, item, due_at in dated)
            for _, item in due:
                if item.series_id is not None:  # a recurring follow-up: make the next one
                    uow.series_scan.advance(item, now)
            if len(due) < PLAN_BATCH:
                break

        # the 500 oldest alerts not yet pushed whose push is not queued (a safety net: a push
        # is queued with its alert, in the same transaction)
        for alert in uow.scan.alerts_unpushed(limit=500):
            if (
                enqueue_alert_push(
                    uow,
                    alert_id=alert.id,
                    counsellor_id=alert.counsellor_id,
                    client_id=alert.client_id,
                    tier=alert.tier,
                    raised_at=alert.raised_at,
                    now=now,
                )
                is not None
            ):
                counts["alert"] += 1

        for alert in uow.scan.alerts_to_realert(now):
            n = alert.realert_count + 1
            if (
                outbox.enqueue(
                    counsellor_id=alert.counsellor_id,
                    kind="realert",
                    dedupe_key=keys.realert(alert.id, n),
                    due_at=now,
                    priority=PRIORITY["realert"],
                    payload={"alert_id": alert.id, "client_id": alert.client_id, "n": n},
                    now=now,
                    client_id=alert.client_id,
                )
                is not None
            ):
                counts["realert"] += 1
            minutes = alert.realert_minutes or 0
            uow.scan.update_alert(
                alert.id,
                realert_count=n,
                realert_at=now + timedelta(minutes=minutes) if minutes else None,
            )

        for alert in uow.scan.alerts_to_escalate(now):
            counts["escalation"] += enqueue_escalation(uow, alert, now, "unacknowledged")

        # Cadence reminders and tier reviews are pushed one by one only for crisis and high
        # risk students (a crisis student's first); the rest wait in the daily agenda.
        counts["cadence"] = _enqueue_new(
            outbox,
            [
                dict(
                    counsellor_id=counsellor_id,
                    kind="cadence",
                    dedupe_key=keys.cadence(client_id, due.date()),
                    due_at=due,
                    priority=urgent_priority("cadence", risk),
                    payload={"client_id": client_id},
                    now=now,
                    client_id=client_id,
                )
                for counsellor_id, client_id, due, risk in uow.scan.cadence_to_plan(
                    now, URGENT_RISKS
                )
            ],
        )
        counts["review"] = _enqueue_new(
            outbox,
            [
                dict(
                    counsellor_id=counsellor_id,
                    kind="review",
                    dedupe_key=keys.review(client_id, due),
                    due_at=due,
                    priority=urgent_priority("review", risk),
                    payload={"client_id": client_id},
                    now=now,
                    client_id=client_id,
                )
                for counsellor_id, client_id, due, risk in uow.scan.reviews_to_plan(
                    now, URGENT_RISKS
                )
            ],
        )

        agendas = []
        with_agenda = uow.scan.counsellors_with_agenda()  # the digests' recipients too
        for counsellor in with_agenda:
            day = agenda_due(now, counsellor.timezone, counsellor.agenda_at, None)
            if day is None or _joined_after_agenda(counsellor, day):
                continue
            agendas.append(
                dict(
                    counsellor_id=counsellor.id,
                    kind="agenda",
                    dedupe_key=keys.agenda(counsellor.id, day),
                    due_at=now,
                    priority=PRIORITY["agenda"],
                    payload={"date": day.isoformat()},
                    now=now,
                )
            )
        counts["agenda"] = _enqueue_new(outbox, agendas)
        from reminders.digest import plan_digests

        counts["digest"] = plan_digests(uow, now, with_agenda)
    return counts


def _enqueue_new(outbox: Any, rows: list[dict[str, Any]]) -> int:
    """Enqueue the rows whose dedupe key is not taken yet: one check and one insert per
    batch, nothing at all when every key is already there."""
    if not rows:
        return 0
    taken = outbox.existing_keys(row["dedupe_key"] for row in rows)
    return int(outbox.enqueue_many(row for row in rows if row["dedupe_key"] not in taken))
