"""The supervisor digest (issue 11): once a day, at the supervisor's agenda hour, when any
counsellor whose alerts they receive has an unacknowledged crisis alert or a high/crisis
client past the latest contact date. Client names only for crisis (need to know).

The recipients are whoever receives escalations (`domain.escalation`): a counsellor's
supervisor, or the admins for a counsellor without one. One outbox row per recipient and
local day (dedupe key `digest:<counsellor>:<date>`), like the daily agenda.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.model import Counsellor
from domain.schedule import PRIORITY, agenda_due
from services.supervision import digest_for
from storage import UnitOfWork
from storage import outbox_keys as keys

# Decided at the hour: a digest not enqueued within this long after the agenda time (the
# bot was down) waits for the next day instead of arriving in the middle of the afternoon.
WINDOW = timedelta(hours=2)


def _due_day(counsellor: Any, now: datetime) -> Any:
    day = agenda_due(now, counsellor.timezone, counsellor.agenda_at, None)
    if day is None:
        return None
    zone = ZoneInfo(counsellor.timezone)
    hh, mm = (int(x) for x in counsellor.agenda_at.split(":"))
    at = datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone)
    return day if now - at < WINDOW else None


def plan_digests(
    uow: UnitOfWork, now: datetime, recipients: Sequence[Counsellor] | None = None
) -> int:
    """Enqueue today's digest for every recipient whose hour has come and who has something
    to read. Returns how many were enqueued. `recipients`: the counsellors with an agenda
    (`uow.scan.counsellors_with_agenda()`) when the caller has just read them."""
    count = 0
    if recipients is None:
        recipients = uow.scan.counsellors_with_agenda()
    for recipient in recipients:
        day = _due_day(recipient, now)
        if day is None:
            continue
        key = keys.digest(recipient.id, day)
        if uow.outbox.get_by_key(key) is not None:
            continue
        if not digest_for(uow, recipient, now):
            continue
        if (
            uow.outbox.enqueue(
                counsellor_id=recipient.id,
                kind="digest",
                dedupe_key=key,
                due_at=now,
                priority=PRIORITY["digest"],
                payload={"date": day.isoformat()},
                now=now,
            )
            is not None
        ):
            count += 1
    return count


__all__ = ["WINDOW", "plan_digests"]
