"""`/overview`: the caseload at a glance, as numbers only (no names): clients by risk tier and
trust, contacts per week over the last term, what is overdue. The bot draws the picture."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain import grammar
from domain.model import Client, Counsellor, StatusChange
from domain.screening import ScreeningResult
from services.clients import Choice, parked_command, resolve_or_park
from storage.db import Database
from storage.stats import contact_times

WEEKS = 18  # about a term
RISKS = ("crisis", "high", "medium", "low")
TRUST = (1, 2, 3, 4, 5, None)


@dataclass(frozen=True)
class Overview:
    clients: int
    by_risk_trust: dict[str, dict[int | None, int]]  # risk → trust (None = not set) → count
    week_starts: list[str]  # local Mondays, oldest first
    contacts_per_week: list[int]
    overdue_contact: int
    overdue_follow_ups: int
    extra: dict[str, int] = field(default_factory=dict)


def overview(db: Database, actor: Counsellor, now: datetime) -> Overview:
    tz = ZoneInfo(actor.timezone)
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    starts = [monday - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
    with db.uow(write=False) as uow:
        repo = uow.records_of(actor.id)
        clinical = uow.clinical_of(actor.id)
        graded = clinical.list_graded()
        by: dict[str, dict[int | None, int]] = {r: dict.fromkeys(TRUST, 0) for r in RISKS}
        overdue = 0
        for client, grades in graded:
            risk = (grades.risk if grades is not None else client.risk).value
            by[risk][client.trust] += 1
            if (
                grades is not None
                and grades.next_contact_due is not None
                and grades.next_contact_due < now
            ):
                overdue += 1
        contacts = [0] * WEEKS
        for at in contact_times(uow, actor.id, now - timedelta(weeks=WEEKS + 1)):
            d = at.astimezone(tz).date()
            week = (d - starts[0]).days // 7
            if 0 <= week < WEEKS:
                contacts[week] += 1
        _, follow_ups = repo.plan_due(now, limit=1)  # how many are overdue: only the count
    return Overview(
        clients=len(graded),
        by_risk_trust=by,
        week_starts=[d.isoformat() for d in starts],
        contacts_per_week=contacts,
        overdue_contact=overdue,
        overdue_follow_ups=follow_ups,
    )


@dataclass(frozen=True)
class ClientChart:
    client: Client
    phq9: list[tuple[datetime, int]]  # (when, total), oldest first
    gad7: list[tuple[datetime, int]]
    trust: list[tuple[datetime, int]]  # (when, trust) from the status history, oldest first


def client_chart(db: Database, actor: Counsellor, args: str, now: datetime) -> ClientChart | Choice:
    """`/map <client> chart`: the client's PHQ-9 and GAD-7 totals and trust over time (a
    `Choice` when the name fits several clients)."""
    ref = grammar.parse_client_only(args, "map")
    with db.uow(write=True) as uow:
        found = resolve_or_park(uow, actor, ref, parked_command("map", args, now), now)
        if isinstance(found, Choice):
            return found
        repo = uow.clients_of(actor.id)
        clinical = uow.clinical_of(actor.id)
        screenings = clinical.screenings(found.id, limit=500)
        by: dict[str, list[tuple[datetime, int]]] = {"phq9": [], "gad7": []}
        for result in sorted(screenings, key=_taken_at):
            if result.at is not None:
                by[result.instrument.value].append((result.at, result.total))
        trust = [
            (h.at, int(h.new))
            for h in sorted(repo.history(found.id), key=_changed_at)
            if h.field == "trust" and h.new and h.new.isdigit()
        ]
        return ClientChart(found, by["phq9"], by["gad7"], trust)


def _taken_at(result: ScreeningResult) -> datetime:
    return result.at or datetime.min.replace(tzinfo=UTC)


def _changed_at(change: StatusChange) -> datetime:
    return change.at
