"""Status, goals and follow-up plans: `/status`, `/goal`, `/plan` (one-off or recurring)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain import grammar, recurrence
from domain.errors import CommandError
from domain.model import Client, Counsellor, PlanItem, PlanKind, StatusChange
from domain.rules import RuleBase
from domain.tiering import RegradeDecision
from domain.when import DayTimes
from services.clients import (
    AlreadyHandled,
    Choice,
    on_client,
)
from services.crisis import record_signal
from services.grading import regrade_client
from services.undo import record_undo, status_payload
from storage import outbox_keys
from storage.crisis import RiskSignal
from storage.db import Database
from storage.series import PlanSeries
from storage.uow import UnitOfWork

PlanSpec = grammar.PlanSpec | recurrence.RecurringPlanSpec | recurrence.StopSpec


@dataclass(frozen=True)
class StatusResult:
    client: Client
    changes: list[StatusChange]
    history: list[StatusChange]
    grading: RegradeDecision | None = None


@dataclass(frozen=True)
class PlanAdded:
    client: Client
    item: PlanItem
    series: PlanSeries | None = None  # a recurring follow-up
    stopped: bool = False
    risk_signal: RiskSignal | None = None  # a risk phrase in a goal (issue 11)


@dataclass(frozen=True)
class SeriesStopped:
    """`/plan <client> stop`: the client's recurring follow-ups that were ended."""

    client: Client
    series: list[PlanSeries]
    stopped: bool = True


def write_status(
    uow: UnitOfWork,
    actor: Counsellor,
    client: Client,
    spec: grammar.StatusUpdate,
    now: datetime,
    rules: RuleBase,
) -> StatusResult:
    repo = uow.clients_of(actor.id)
    value_set = spec.payer is not None or spec.capacity is not None
    if value_set and not rules.value.enabled:
        raise CommandError("practice_only")
    changes: list[StatusChange] = []
    if value_set:  # private practice: the value tier's inputs (client_details)
        values = {
            k: v
            for k, v in (("payer", spec.payer), ("pay_capacity", spec.capacity))
            if v is not None
        }
        uow.details_of(actor.id).set(client.id, **values)
    if spec.trust is not None or spec.satisfaction is not None or spec.risk is not None:
        changes = repo.set_status(
            client.id,
            by_counsellor_id=actor.id,
            now=now,
            trust=spec.trust,
            satisfaction=spec.satisfaction,
            risk=spec.risk,
        )
    if spec.add_tags:
        kept = set(client.tags) - set(spec.remove_tags)
        total = len(kept | set(spec.add_tags))
        if total > grammar.TAGS_PER_CLIENT_MAX:
            raise CommandError("too_many_tags", max=grammar.TAGS_PER_CLIENT_MAX, have=total)
    if spec.add_tags or spec.remove_tags:
        changes += repo.change_tags(
            client.id,
            add=spec.add_tags,
            remove=spec.remove_tags,
            by_counsellor_id=actor.id,
            now=now,
        )
    if changes:
        record_undo(
            uow, actor, "status", {"client_id": client.id, "changes": status_payload(changes)}, now
        )
    grading = regrade_client(uow, actor, client.id, now, rules) if changes or value_set else None
    fresh = repo.get(client.id) or client
    return StatusResult(
        client=fresh, changes=changes, history=repo.history(client.id), grading=grading
    )


def set_status(
    db: Database,
    actor: Counsellor,
    args: str,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
) -> StatusResult | Choice | AlreadyHandled:
    spec = grammar.parse_status(args)
    return on_client(
        db,
        actor,
        "status",
        args,
        spec.client_ref,
        now,
        update_id,
        lambda uow, client: write_status(uow, actor, client, spec, now, rules),
    )


def add_goal(
    db: Database,
    actor: Counsellor,
    args: str,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
) -> PlanAdded | Choice | AlreadyHandled:
    spec = grammar.parse_goal(args)
    return on_client(
        db,
        actor,
        "goal",
        args,
        spec.client_ref,
        now,
        update_id,
        lambda uow, client: write_goal(uow, actor, client, spec, now, rules),
    )


def write_goal(
    uow: UnitOfWork,
    actor: Counsellor,
    client: Client,
    spec: grammar.Goal,
    now: datetime,
    rules: RuleBase,
) -> PlanAdded:
    item = uow.records_of(actor.id).add_plan(
        client.id, kind=PlanKind.LONG, text=spec.text, due_at=None, now=now
    )
    record_undo(uow, actor, "goal", {"client_id": client.id, "plan_id": item.id}, now)
    signal = record_signal(uow, actor, client.id, [("goal", spec.text)], now, rules)
    return PlanAdded(client=client, item=item, risk_signal=signal)


def parse_plan(args: str, now: datetime, tz: ZoneInfo, times: DayTimes) -> PlanSpec:
    """A recurring plan, a stop, or (the common case) a one-off follow-up."""
    return recurrence.parse_recurring_plan(args, now, tz, times) or grammar.parse_plan(
        args, now, tz, times
    )


def _client_ref(spec: PlanSpec) -> grammar.ClientRef:
    ref = spec.client_ref  # domain.recurrence types it as `object`
    if not isinstance(ref, grammar.ClientRef):
        raise TypeError(f"a plan's client reference, not {type(ref).__name__}")
    return ref


def write_plan(
    uow: UnitOfWork, actor: Counsellor, client: Client, spec: PlanSpec, now: datetime
) -> PlanAdded | SeriesStopped:
    if isinstance(spec, recurrence.StopSpec):
        store = uow.series_of(actor.id)
        ended = []
        for series in store.of_client(client.id, active_only=True):
            for plan_id in store.end(series.id, now, "stopped"):
                uow.outbox.cancel(outbox_keys.plan_family(plan_id))
            ended.append(store.get(series.id) or series)
        return SeriesStopped(client=client, series=ended)
    if isinstance(spec, recurrence.RecurringPlanSpec):
        grades = uow.clinical_of(actor.id).grades(client.id)
        risk = grades.risk if grades is not None else client.risk
        series, item = uow.series_of(actor.id).add(
            client.id,
            spec.text,
            spec.every,
            spec.first_due,
            spec.until,
            recurrence.stop_below_for(risk),
            now,
        )
        record_undo(
            uow,
            actor,
            "plan",
            {"client_id": client.id, "plan_id": item.id, "series_id": series.id},
            now,
        )
        return PlanAdded(client=client, item=item, series=series)
    item = uow.records_of(actor.id).add_plan(
        client.id, kind=PlanKind.SHORT, text=spec.text, due_at=spec.due, now=now
    )
    record_undo(uow, actor, "plan", {"client_id": client.id, "plan_id": item.id}, now)
    return PlanAdded(client=client, item=item)


def add_plan(
    db: Database,
    actor: Counsellor,
    args: str,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
) -> PlanAdded | SeriesStopped | Choice | AlreadyHandled:
    """`/plan <client> <when> <what>`; `/plan <client> every 1w <what> [until <date>]` (a
    recurring follow-up, domain/recurrence.py); `/plan <client> stop` ends the recurring ones."""
    spec = parse_plan(args, now, ZoneInfo(actor.timezone), rules.day_times)
    return on_client(
        db,
        actor,
        "plan",
        args,
        _client_ref(spec),
        now,
        update_id,
        lambda uow, client: write_plan(uow, actor, client, spec, now),
    )
