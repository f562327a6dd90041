"""Today's agenda as data: what is due, overdue, unacknowledged or up for review, per
counsellor, most urgent first (rendered by rendering.agenda, pushed by reminders, shown by
/today). A constant number of queries whatever the caseload: each list is ordered (and,
for one message, cut) in SQL, and only the clients shown are read and decrypted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.model import Counsellor
from domain.schedule import local_day, quiet_review
from storage.uow import UnitOfWork

AGENDA_SHOWN = {"alerts": 10, "plan": 15, "contact": 10, "reviews": 10}
QUIET_SHOWN = 5
_LISTS = ("alerts", "plan", "contact", "reviews", "quiet")


def _agenda(
    uow: UnitOfWork, counsellor: Counsellor, now: datetime, shown: Mapping[str, int] | None
) -> dict[str, Any]:
    """The agenda's lists, each most urgent first (crisis on top), the first `shown[list]`
    of each (all with None), and each list's full count (`<list>_total`)."""
    start, end = local_day(now, counsellor.timezone)
    records = uow.records_of(counsellor.id)
    clinical = uow.clinical_of(counsellor.id)

    def limit(key: str) -> int | None:
        return None if shown is None else shown[key]

    def head(rows: list[Any], key: str) -> list[Any]:
        n = limit(key)
        return rows if n is None else rows[:n]

    # follow-ups due today or overdue, clients due for contact, unacknowledged alerts and
    # tier reviews (split: the low-risk ones with no risk factor are `quiet`, confirmed
    # together; the reasons are encrypted, so every due review is read to split them)
    plan, plan_total = records.plan_due(end, limit("plan"))
    contact, contact_total = clinical.contacts_due(end, limit("contact"))
    due_reviews = clinical.reviews_due(end)
    quiet = [
        cg for cg in due_reviews if quiet_review(cg[1].risk, [r.code for r in cg[1].risk_reasons])
    ]
    quiet_ids = {cid for cid, _ in quiet}
    reviews = [cg for cg in due_reviews if cg[0] not in quiet_ids]
    alerts, alerts_total = clinical.open_alerts(limit("alerts"))
    lists: dict[str, list[Any]] = {
        "plan": plan,
        "contact": contact,
        "reviews": head(reviews, "reviews"),
        "quiet": head(quiet, "quiet"),
        "alerts": [(a.client_id, a) for a in alerts],
    }
    totals = {
        "plan": plan_total,
        "contact": contact_total,
        "reviews": len(reviews),
        "quiet": len(quiet),
        "alerts": alerts_total,
    }
    # only the clients shown are read (and their names decrypted)
    clients = uow.clients_of(counsellor.id).many(cid for rows in lists.values() for cid, _ in rows)
    out: dict[str, Any] = {
        "day": start.astimezone(ZoneInfo(counsellor.timezone)).date(),
        "now": now,
    }
    for key in _LISTS:
        out[key] = [(clients[cid], item) for cid, item in lists[key] if cid in clients]
        out[f"{key}_total"] = totals[key]
    # nothing due at all: say so differently to a counsellor who has no clients yet
    out["no_clients"] = not any(totals.values()) and uow.clients_of(counsellor.id).count() == 0
    return out


def agenda_lists(uow: UnitOfWork, counsellor: Counsellor, now: datetime) -> dict[str, Any]:
    """Everything on today's agenda, in full, each list most urgent first (crisis on top):
    follow-ups due today or overdue, clients due for contact, unacknowledged alerts, tier
    reviews (split: the low-risk ones with no risk factor are `quiet`, confirmed together)."""
    full = _agenda(uow, counsellor, now, None)
    return {k: v for k, v in full.items() if not k.endswith("_total") and k != "no_clients"}


def agenda_data(uow: UnitOfWork, counsellor: Counsellor, now: datetime) -> dict[str, Any]:
    """Today's agenda for one message: the head of each list, with each list's full count
    (`<list>_total`) so that nothing is cut without saying how many more there are."""
    return _agenda(uow, counsellor, now, {**AGENDA_SHOWN, "quiet": QUIET_SHOWN})
