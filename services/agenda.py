"""Today's agenda as data: what is due, overdue, unacknowledged or up for review, per
counsellor, most urgent first (rendered by rendering.agenda, pushed by reminders, shown by
/today). A constant number of queries whatever the caseload."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.model import Counsellor
from domain.schedule import local_day, quiet_review
from storage.uow import UnitOfWork

AGENDA_SHOWN = {"alerts": 10, "plan": 15, "contact": 10, "reviews": 10}


def agenda_lists(uow: UnitOfWork, counsellor: Counsellor, now: datetime) -> dict[str, Any]:
    """Everything on today's agenda, in full, each list most urgent first (crisis on top):
    follow-ups due today or overdue, clients due for contact, unacknowledged alerts, tier
    reviews (split: the low-risk ones with no risk factor are `quiet`, confirmed together)."""
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


def agenda_data(uow: UnitOfWork, counsellor: Counsellor, now: datetime) -> dict[str, Any]:
    """Today's agenda for one message: the head of each list, with each list's full count
    (`<list>_total`) so that nothing is cut without saying how many more there are."""
    full = agenda_lists(uow, counsellor, now)
    data = dict(full)
    for key, shown in AGENDA_SHOWN.items():
        data[f"{key}_total"] = len(full[key])
        data[key] = full[key][:shown]
    data["quiet_total"] = len(full["quiet"])
    data["quiet"] = full["quiet"][:5]
    return data
