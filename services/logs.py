"""`/log`: a conversation with a client — the note, needs, status, a follow-up — in one
transaction, with the re-grade and the risk-phrase check (issue 11)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain import grammar
from domain.model import Client, Counsellor, PlanItem, PlanKind, Risk, StatusChange
from domain.rules import RuleBase
from domain.tiering import RegradeDecision
from domain.when import parse_when
from services.clients import (
    PENDING_TTL,
    AlreadyHandled,
    Choice,
    get_owned,
    on_client,
)
from services.crisis import record_signal
from services.errors import NotYours
from services.grading import regrade_client
from services.records import PlanAdded
from services.undo import record_undo, status_payload
from storage.crisis import RiskSignal
from storage.db import Database
from storage.uow import UnitOfWork

FOLLOW_UP_MAX = 80
_SENTENCE_END = re.compile(r"[。！？!?；;]|\.(?:\s|$)|\n")
FOLLOW_UP_CHOICES = {"t": "明天", "m": "下周一", "2w": "两周后"}


@dataclass(frozen=True)
class LogEntry:
    """What a conversation log writes, whoever it is about: a parsed `/log` (`of`) or a
    plain note tapped onto a client (`LogEntry(notes=text)`)."""

    notes: str
    channel: str | None = None
    needs: tuple[grammar.NeedSpec, ...] = ()
    trust: int | None = None
    satisfaction: int | None = None
    risk: Risk | None = None
    next_due: datetime | None = None  # UTC
    next_text: str | None = None
    outcome: str | None = None  # reached | unreached | refused | referred | rescheduled
    strengths: tuple[str, ...] = ()  # kept as client tags "+…"
    # options typed but not read (said back, never silently kept), and a `next=` date that
    # could not be read (the note is saved; the date is asked with buttons)
    warnings: tuple[grammar.InputWarning, ...] = ()
    next_unread: str | None = None
    next_error: str | None = None

    @classmethod
    def of(cls, parsed: grammar.LogEntry) -> LogEntry:
        return cls(
            notes=parsed.notes,
            channel=parsed.channel,
            needs=tuple(parsed.needs),
            trust=parsed.trust,
            satisfaction=parsed.satisfaction,
            risk=parsed.risk,
            next_due=parsed.next_due,
            next_text=parsed.next_text,
            outcome=parsed.outcome,
            strengths=parsed.strengths,
            warnings=parsed.warnings,
            next_unread=parsed.next_unread,
            next_error=parsed.next_error,
        )


@dataclass(frozen=True)
class Logged:
    client: Client
    notes: str
    channel: str | None
    needs: list[tuple[str, bool]]
    changes: list[StatusChange]
    plan: PlanItem | None
    interaction_count: int
    grading: RegradeDecision | None = None
    risk_signal: RiskSignal | None = None  # a risk phrase was found (issue 11)
    # options typed but not read (said back, never silently kept), and a `next=` date that
    # could not be read: the note is saved, `next_pending_id` keys the date buttons
    warnings: tuple[grammar.InputWarning, ...] = ()
    outcome: str | None = None  # reached | unreached | refused | referred | rescheduled
    strengths: tuple[str, ...] = ()
    next_unread: str | None = None
    next_error: str | None = None
    next_pending_id: int | None = None


def log_conversation(
    db: Database,
    actor: Counsellor,
    args: str,
    now: datetime,
    update_id: int | None,
    *,
    rules: RuleBase,
    client_id: int | None = None,
) -> Logged | Choice | AlreadyHandled:
    """`/log <client> <notes…> [options]`; `client_id` is set when a choice button resolved it."""
    parsed = grammar.parse_log(args, now, ZoneInfo(actor.timezone), rules.day_times)
    entry = LogEntry.of(parsed)
    return on_client(
        db,
        actor,
        "log",
        args,
        parsed.client_ref,
        now,
        update_id,
        lambda uow, client: write_log(uow, actor, client, entry, now, rules),
        client_id=client_id,
    )


def write_log(
    uow: UnitOfWork,
    actor: Counsellor,
    client: Client,
    entry: LogEntry,
    now: datetime,
    rules: RuleBase,
) -> Logged:
    """Store one conversation with `client` in the caller's unit of work."""
    repo = uow.clients_of(actor.id)
    records = uow.records_of(actor.id)
    notes, channel = entry.notes, entry.channel
    interaction = records.add_interaction(
        client.id, at=now, channel=channel, notes=notes, now=now, outcome=entry.outcome
    )
    need_list: list[tuple[str, bool]] = []
    need_ids: list[int] = []
    for need in entry.needs:
        need_ids.append(
            records.add_need(
                client.id, text=need.text, explicit=need.explicit, source=channel, now=now
            ).id
        )
        need_list.append((need.text, need.explicit))
    changes: list[StatusChange] = []
    if entry.trust is not None or entry.satisfaction is not None or entry.risk is not None:
        changes = repo.set_status(
            client.id,
            by_counsellor_id=actor.id,
            now=now,
            trust=entry.trust,
            satisfaction=entry.satisfaction,
            risk=entry.risk,
        )
    if entry.strengths:  # `#+编程强`: a strength, kept as a tag "+…"
        changes += repo.change_tags(
            client.id, add=entry.strengths, by_counsellor_id=actor.id, now=now
        )
    plan = None
    if entry.next_due is not None:
        plan = records.add_plan(
            client.id,
            kind=PlanKind.SHORT,
            text=entry.next_text or follow_up_text(notes),
            due_at=entry.next_due,
            now=now,
        )
    record_undo(
        uow,
        actor,
        "log",
        {
            "client_id": client.id,
            "interaction_id": interaction.id,
            "need_ids": need_ids,
            "changes": status_payload(changes),
            "plan_id": plan.id if plan else None,
        },
        now,
    )
    grading = regrade_client(uow, actor, client.id, now, rules)
    signal = record_signal(
        uow, actor, client.id, [("note", notes), *(("need", t) for t, _ in need_list)], now, rules
    )
    fresh = repo.get(client.id)
    count = records.interaction_count(client.id)
    next_pending_id = None
    if entry.next_unread is not None:
        next_pending_id = uow.pending.add(
            counsellor_id=actor.id,
            kind="next",
            payload={"client_id": client.id, "text": follow_up_text(notes)},
            now=now,
            expires_at=now + PENDING_TTL,
        )
    return Logged(
        client=fresh or client,
        notes=notes,
        channel=channel,
        needs=need_list,
        changes=changes,
        plan=plan,
        interaction_count=count or 1,
        grading=grading,
        risk_signal=signal,
        warnings=entry.warnings,
        outcome=entry.outcome,
        strengths=entry.strengths,
        next_unread=entry.next_unread,
        next_error=entry.next_error,
        next_pending_id=next_pending_id,
    )


def follow_up_text(notes: str) -> str:
    """A follow-up's text: the note's first sentence, on one line, at most 80 characters."""
    m = _SENTENCE_END.search(notes.strip())
    first = notes.strip()[: m.start()] if m and m.start() >= 4 else notes
    first = " ".join(first.split()) or " ".join(notes.split())
    return first if len(first) <= FOLLOW_UP_MAX else first[: FOLLOW_UP_MAX - 1] + "…"


def set_follow_up(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    choice: str,
    now: datetime,
    rules: RuleBase,
) -> PlanAdded | None:
    """A date button under a log whose `next=` could not be read: add the follow-up once.

    `choice` is a key of FOLLOW_UP_CHOICES, or "x" for no follow-up (returns None).
    Raises NotYours for someone else's, a used or an expired button.
    """
    if choice != "x" and choice not in FOLLOW_UP_CHOICES:
        raise NotYours()
    with db.uow(write=True) as uow:
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None or pending.kind != "next":
            raise NotYours()
        if choice == "x":
            return None
        client = get_owned(uow, actor, int(pending.payload["client_id"]))
        due = parse_when(FOLLOW_UP_CHOICES[choice], now, ZoneInfo(actor.timezone), rules.day_times)
        item = uow.records_of(actor.id).add_plan(
            client.id, kind=PlanKind.SHORT, text=pending.payload["text"], due_at=due, now=now
        )
        record_undo(uow, actor, "plan", {"client_id": client.id, "plan_id": item.id}, now)
        return PlanAdded(client=client, item=item)
