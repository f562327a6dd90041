"""Use cases: each is one unit of work (one transaction), called by bot/ and reminders/.

Handlers never repeat this logic: they parse, call one of these, render, reply.
Every function takes the acting counsellor; every client lookup goes through the
counsellor-scoped repository, so another counsellor's client is simply "not found".
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain import grammar, recurrence
from domain.errors import CommandError
from domain.matching import match_client, named_at_start
from domain.model import Client, Counsellor, PlanItem, PlanKind, RelationshipMap, Risk, StatusChange
from domain.rules import RuleBase
from domain.screening import ScreeningResult
from domain.screening import score as score_screening
from domain.tiering import Grades, RegradeDecision, TierChange
from services.caseload import record_undo, status_payload
from services.crisis import record_signal
from services.grading import default_rules, regrade_client
from storage import outbox_keys
from storage.db import Database

INVITE_TTL = timedelta(days=7)
PENDING_TTL = timedelta(days=2)
RECENT_BUTTONS = 6


# --- results -----------------------------------------------------------------------------


class ClientNotFound(Exception):
    def __init__(self, ref: str, suggestions: Sequence[Client]) -> None:
        super().__init__(ref)
        self.ref = ref
        self.suggestions = list(suggestions)


@dataclass(frozen=True)
class Choice:
    """The client reference was ambiguous: the command is parked until a button is tapped."""

    pending_id: int
    ref: str
    candidates: list[Client]


@dataclass(frozen=True)
class AlreadyHandled:
    """The same Telegram update was handled before (a retry after a crash): nothing was written."""


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
    risk_signal: Any = None  # storage.crisis.RiskSignal: a risk phrase was found (issue 11)
    # options typed but not read (said back, never silently kept), and a `next=` date that
    # could not be read: the note is saved, `next_pending_id` keys the date buttons
    warnings: tuple[grammar.InputWarning, ...] = ()
    outcome: str | None = None  # reached | unreached | refused | referred | rescheduled
    strengths: tuple[str, ...] = ()
    next_unread: str | None = None
    next_error: str | None = None
    next_pending_id: int | None = None


@dataclass(frozen=True)
class ClientAdded:
    client: Client
    same_name: list[Client] = field(default_factory=list)
    grading: RegradeDecision | None = None


@dataclass(frozen=True)
class StatusResult:
    client: Client
    changes: list[StatusChange]
    history: list[StatusChange]
    grading: RegradeDecision | None = None


@dataclass(frozen=True)
class ScreeningSaved:
    client: Client
    result: ScreeningResult
    previous: ScreeningResult | None
    grading: RegradeDecision | None


@dataclass(frozen=True)
class MapView:
    """`/map`: the six dimensions plus the tiers with their reasons and the scorecards."""

    map: RelationshipMap
    grades: Grades | None
    screenings: list[ScreeningResult]
    tier_history: list[TierChange]
    series: list[Any] = field(default_factory=list)  # recurring follow-ups, active first
    safety_checks: list[Any] = field(default_factory=list)  # storage.crisis.StoredCheck, latest first


@dataclass(frozen=True)
class PlanAdded:
    client: Client
    item: PlanItem
    series: Any = None  # storage.series.PlanSeries for a recurring follow-up
    stopped: bool = False
    risk_signal: Any = None  # storage.crisis.RiskSignal: a risk phrase in a goal (issue 11)


@dataclass(frozen=True)
class SeriesStopped:
    """`/plan <client> stop`: the client's recurring follow-ups that were ended."""

    client: Client
    series: list[Any]
    stopped: bool = True


@dataclass(frozen=True)
class ParkedNote:
    pending_id: int
    recent: list[Client]  # the buttons: students named at the note's start first, then recent ones
    named: list[Client] = field(default_factory=list)


# --- counsellors and invites -------------------------------------------------------------


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def find_counsellor(db: Database, telegram_id: int) -> Counsellor | None:
    with db.uow(write=False) as uow:
        return uow.counsellors.get_by_telegram_id(telegram_id)


def remember_telegram_language(db: Database, actor: Counsellor, lang: str) -> Counsellor:
    """Pushed reminders have no update to read the language from: keep the last one seen."""
    with db.uow(write=True) as uow:
        return uow.counsellors.set_telegram_language(actor.id, lang) or actor


def ensure_admin(
    db: Database, telegram_id: int, display_name: str, now: datetime, timezone: str
) -> Counsellor:
    """An id listed in CAREMAP_ADMIN_IDS becomes an admin counsellor on first contact."""
    with db.uow(write=True) as uow:
        existing = uow.counsellors.get_by_telegram_id(telegram_id)
        if existing is not None:
            if not existing.is_admin:
                uow.counsellors.set_admin(existing.id, True)
                existing = uow.counsellors.get(existing.id)
            return existing
        return uow.counsellors.add(
            telegram_id=telegram_id, display_name=display_name, is_admin=True, now=now,
            timezone=timezone,
        )


def create_invite(db: Database, actor: Counsellor, now: datetime) -> tuple[str, datetime]:
    if not actor.is_admin:
        raise CommandError("admin_only")
    code = secrets.token_urlsafe(12)
    expires = now + INVITE_TTL
    with db.uow(write=True) as uow:
        uow.invites.create(code_hash=hash_code(code), created_by=actor.id, expires_at=expires, now=now)
        uow.staff.record(actor.id, "invite", now)
    return code, expires


def redeem_invite(
    db: Database, code: str, telegram_id: int, display_name: str, now: datetime, timezone: str
) -> Counsellor | None:
    """Make the sender a counsellor if the code is valid and unused; None otherwise."""
    if not code or len(code) > 64:
        return None
    try:
        return _redeem(db, code, telegram_id, display_name, now, timezone)
    except _Rollback:
        return None


def _redeem(
    db: Database, code: str, telegram_id: int, display_name: str, now: datetime, timezone: str
) -> Counsellor | None:
    with db.uow(write=True) as uow:
        existing = uow.counsellors.get_by_telegram_id(telegram_id)
        if existing is not None:
            return existing
        invite = uow.invites.get_valid(hash_code(code), now)
        if invite is None:
            return None
        counsellor = uow.counsellors.add(
            telegram_id=telegram_id, display_name=display_name, is_admin=False, now=now,
            timezone=timezone,
        )
        if not uow.invites.mark_used(invite.id, counsellor.id, now):
            raise _Rollback()
        return counsellor


def inviter_of(db: Database, counsellor: Counsellor) -> Counsellor | None:
    """Who invited this counsellor (to tell them the colleague has joined)."""
    with db.uow(write=False) as uow:
        invite = uow.invites.redeemed_by(counsellor.id)
        if invite is None or invite.created_by is None or invite.created_by == counsellor.id:
            return None
        return uow.counsellors.get(invite.created_by)


class _Rollback(Exception):
    pass


def set_language(db: Database, actor: Counsellor, lang: str | None) -> None:
    with db.uow(write=True) as uow:
        uow.counsellors.set_language(actor.id, lang)


# --- client resolution -------------------------------------------------------------------


def _resolve(
    uow: Any, actor: Counsellor, ref: grammar.ClientRef | str, *, park: dict | None, now: datetime
) -> Client | Choice:
    repo = uow.clients_of(actor.id)
    clients = repo.list()
    match = match_client(ref, clients)
    text = ref.text if isinstance(ref, grammar.ClientRef) else str(ref)
    if match.client is not None:
        return match.client
    if match.candidates:
        if park is None:
            raise ClientNotFound(text, match.candidates)
        pending_id = uow.pending.add(
            counsellor_id=actor.id, kind="choose", payload=park, now=now, expires_at=now + PENDING_TTL
        )
        return Choice(pending_id=pending_id, ref=text, candidates=list(match.candidates))
    raise ClientNotFound(text, match.suggestions)


def _get_owned(uow: Any, actor: Counsellor, client_id: int) -> Client:
    client = uow.clients_of(actor.id).get(client_id)
    if client is None:
        raise NotYours()
    return client


class NotYours(Exception):
    """A button or id that does not belong to the acting counsellor (or no longer exists)."""


# --- clients -----------------------------------------------------------------------------


def add_client(
    db: Database, actor: Counsellor, spec: grammar.NewClient, now: datetime, update_id: int | None,
    rules: RuleBase | None = None,
) -> ClientAdded | AlreadyHandled:
    with db.uow(write=True) as uow:
        if update_id is not None and not uow.updates.claim(update_id, now):
            return AlreadyHandled()
        repo = uow.clients_of(actor.id)
        same = [c for c in repo.list() if c.name.casefold() == spec.name.casefold()]
        client = repo.add(
            name=spec.name, tags=tuple(spec.tags), sid=spec.sid, major=spec.major, grade=spec.grade, now=now
        )
        record_undo(uow, actor, "new", {"client_id": client.id}, now)
        grading = regrade_client(uow, actor, client.id, now, rules)
        return ClientAdded(client=client, same_name=same, grading=grading)


def log_conversation(
    db: Database,
    actor: Counsellor,
    args: str,
    now: datetime,
    update_id: int | None,
    *,
    client_id: int | None = None,
    rules: RuleBase | None = None,
) -> Logged | Choice | AlreadyHandled:
    """`/log <client> <notes…> [options]`; `client_id` is set when a choice button resolved it."""
    tz = ZoneInfo(actor.timezone)
    entry = grammar.parse_log(args, now, tz, _day_times(rules))
    with db.uow(write=True) as uow:
        if update_id is not None and not uow.updates.claim(update_id, now):
            return AlreadyHandled()
        if client_id is not None:
            client = _get_owned(uow, actor, client_id)
        else:
            found = _resolve(
                uow, actor, entry.client_ref, now=now,
                park={"cmd": "log", "args": args, "now": now.isoformat()},
            )
            if isinstance(found, Choice):
                return found
            client = found
        return _write_log(uow, actor, client, entry.notes, entry.channel, entry.needs, entry.trust,
                          entry.satisfaction, entry.risk, entry.next_due, entry.next_text, now, rules,
                          entry=entry)


def _day_times(rules: RuleBase | None):
    """Where `明天`, `下午`… land: the rule file's `[times]` (the shipped defaults when None)."""
    from services.grading import default_rules

    return (rules or default_rules()).day_times


def _write_log(
    uow: Any,
    actor: Counsellor,
    client: Client,
    notes: str,
    channel: str | None,
    needs: Sequence[Any],
    trust: int | None,
    satisfaction: int | None,
    risk: Risk | None,
    next_due: datetime | None,
    next_text: str | None,
    now: datetime,
    rules: RuleBase | None = None,
    entry: grammar.LogEntry | None = None,
) -> Logged:
    repo = uow.clients_of(actor.id)
    records = uow.records_of(actor.id)
    outcome = entry.outcome if entry is not None else None
    interaction = records.add_interaction(client.id, at=now, channel=channel, notes=notes, now=now,
                                       outcome=outcome)
    need_list: list[tuple[str, bool]] = []
    need_ids: list[int] = []
    for need in needs:
        need_ids.append(records.add_need(client.id, text=need.text, explicit=need.explicit, source=channel, now=now).id)
        need_list.append((need.text, need.explicit))
    changes: list[StatusChange] = []
    if trust is not None or satisfaction is not None or risk is not None:
        changes = repo.set_status(
            client.id, by_counsellor_id=actor.id, now=now, trust=trust, satisfaction=satisfaction, risk=risk
        )
    if entry is not None and entry.strengths:  # `#+编程强`: a strength, kept as a tag "+…"
        changes += repo.change_tags(client.id, add=entry.strengths, by_counsellor_id=actor.id, now=now)
    plan = None
    if next_due is not None:
        plan = records.add_plan(
            client.id, kind=PlanKind.SHORT, text=next_text or _follow_up_text(notes), due_at=next_due, now=now
        )
    record_undo(uow, actor, "log", {"client_id": client.id, "interaction_id": interaction.id, "need_ids": need_ids,
                                    "changes": status_payload(changes), "plan_id": plan.id if plan else None}, now)
    grading = regrade_client(uow, actor, client.id, now, rules)
    signal = record_signal(uow, actor, client.id, [("note", notes), *(("need", t) for t, _ in need_list)],
                           now, rules)
    fresh = repo.get(client.id)
    view = records.relationship_map(client.id, interactions_limit=1)
    next_pending_id = None
    if entry is not None and entry.next_unread is not None:
        next_pending_id = uow.pending.add(
            counsellor_id=actor.id, kind="next",
            payload={"client_id": client.id, "text": _follow_up_text(notes)},
            now=now, expires_at=now + PENDING_TTL,
        )
    return Logged(
        client=fresh or client, notes=notes, channel=channel, needs=need_list, changes=changes, plan=plan,
        interaction_count=view.interaction_count if view else 1, grading=grading, risk_signal=signal,
        warnings=entry.warnings if entry is not None else (),
        outcome=outcome, strengths=entry.strengths if entry is not None else (),
        next_unread=entry.next_unread if entry is not None else None,
        next_error=entry.next_error if entry is not None else None,
        next_pending_id=next_pending_id,
    )


FOLLOW_UP_MAX = 80
_SENTENCE_END = re.compile(r"[。！？!?；;]|\.(?:\s|$)|\n")


def _follow_up_text(notes: str) -> str:
    """A follow-up's text: the note's first sentence, on one line, at most 80 characters."""
    m = _SENTENCE_END.search(notes.strip())
    first = notes.strip()[: m.start()] if m and m.start() >= 4 else notes
    first = " ".join(first.split()) or " ".join(notes.split())
    return first if len(first) <= FOLLOW_UP_MAX else first[: FOLLOW_UP_MAX - 1] + "…"


FOLLOW_UP_CHOICES = {"t": "明天", "m": "下周一", "2w": "两周后"}


def set_follow_up(
    db: Database, actor: Counsellor, pending_id: int, choice: str, now: datetime,
    rules: RuleBase | None = None,
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
        client = _get_owned(uow, actor, int(pending.payload["client_id"]))
        from domain.when import parse_when

        due = parse_when(FOLLOW_UP_CHOICES[choice], now, ZoneInfo(actor.timezone), _day_times(rules))
        item = uow.records_of(actor.id).add_plan(client.id, kind=PlanKind.SHORT, text=pending.payload["text"],
                                                 due_at=due, now=now)
        record_undo(uow, actor, "plan", {"client_id": client.id, "plan_id": item.id}, now)
        return PlanAdded(client=client, item=item)


def park_command(db: Database, actor: Counsellor, command: str, args: str, now: datetime) -> int:
    """`/lgo 学生B …`: keep the text (encrypted) while the counsellor is asked "/log?"."""
    with db.uow(write=True) as uow:
        return uow.pending.add(counsellor_id=actor.id, kind="command",
                               payload={"cmd": command, "args": args}, now=now,
                               expires_at=now + PENDING_TTL)


def take_parked_command(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> tuple[str, str]:
    """The suggested command was tapped (or cancelled): hand back (command, args) once."""
    with db.uow(write=True) as uow:
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None or pending.kind != "command":
            raise NotYours()
        return str(pending.payload["cmd"]), str(pending.payload["args"])


def park_note(db: Database, actor: Counsellor, text: str, now: datetime) -> ParkedNote:
    """A plain message: keep it (encrypted) until the counsellor taps which client it is about."""
    with db.uow(write=True) as uow:
        pending_id = uow.pending.add(
            counsellor_id=actor.id, kind="note", payload={"text": text, "now": now.isoformat()},
            now=now, expires_at=now + PENDING_TTL,
        )
        repo = uow.clients_of(actor.id)
        named = named_at_start(text, repo.list())
        recent = [c for c in repo.recent(limit=RECENT_BUTTONS) if c not in named]
        return ParkedNote(pending_id=pending_id, recent=(named + recent)[:RECENT_BUTTONS + len(named)],
                          named=named)


def pending_kind(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> str | None:
    with db.uow(write=False) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        return pending.kind if pending is not None else None


def parked_note(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> ParkedNote:
    """The picker of a parked note again ("back" after "cancel?"); NotYours if it is gone."""
    with db.uow(write=False) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind not in ("note", "note_find"):
            raise NotYours()
        repo = uow.clients_of(actor.id)
        named = named_at_start(pending.payload["text"], repo.list())
        recent = [c for c in repo.recent(limit=RECENT_BUTTONS) if c not in named]
        return ParkedNote(pending_id=pending_id, recent=named + recent, named=named)


def search_for_note(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> int:
    """🔍 tapped under a parked note: the next plain message names the student."""
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "note":
            raise NotYours()
        uow.pending.discard(actor.id, "note_find")
        uow.pending.add(counsellor_id=actor.id, kind="note_find", payload={"note_id": pending_id},
                        now=now, expires_at=now + AWAIT_TTL)
        return pending_id


def find_for_note(db: Database, actor: Counsellor, text: str, now: datetime) -> tuple[int, list[Client]] | None:
    """After 🔍: (the parked note's id, the clients `text` names) — None when no search waits."""
    with db.uow(write=True) as uow:
        waiting = uow.pending.latest(actor.id, "note_find", now)
        if waiting is None:
            return None
        uow.pending.consume(waiting.id, actor.id, now)
        note_id = int(waiting.payload["note_id"])
        if uow.pending.get(note_id, actor.id, now=now) is None:
            return None
        match = match_client(text.strip(), uow.clients_of(actor.id).list())
        found = [match.client] if match.client else (match.candidates or match.suggestions)
        return note_id, list(found)


@dataclass(frozen=True)
class Resumed:
    """What a tapped choice button led to."""

    command: str
    result: Any


def resume_pending(
    db: Database, actor: Counsellor, pending_id: int, client_id: int | None, now: datetime,
    rules: RuleBase | None = None,
) -> Resumed:
    """A choice button was tapped: run the parked command for the chosen client, exactly once.

    `client_id=None` means "new client" for a parked plain note: the counsellor is asked
    for the name, and the note waits (as kind "note_new").
    Raises NotYours when the pending item is not this counsellor's, already used or expired.
    """
    with db.uow(write=True) as uow:
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None:
            raise NotYours()
        payload = pending.payload
        if client_id is None:
            if pending.kind != "note":
                raise NotYours()
            new_id = uow.pending.add(
                counsellor_id=actor.id, kind="note_new", payload=payload, now=now,
                expires_at=now + PENDING_TTL,
            )
            return Resumed(command="ask_name", result=new_id)
        client = _get_owned(uow, actor, client_id)
        if pending.kind == "note":
            return Resumed("log", _write_log(uow, actor, client, payload["text"], None, (), None, None,
                                             None, None, None, now, rules))
        cmd = payload.get("cmd")
        then = datetime.fromisoformat(payload.get("now", now.isoformat()))
        args = payload.get("args", "")
        tz = ZoneInfo(actor.timezone)
        if cmd == "log":
            e = grammar.parse_log(args, then, tz, _day_times(rules))
            return Resumed("log", _write_log(uow, actor, client, e.notes, e.channel, e.needs, e.trust,
                                             e.satisfaction, e.risk, e.next_due, e.next_text, now, rules,
                                             entry=e))
        if cmd == "status":
            s = grammar.parse_status(args)
            return Resumed("status", _write_status(uow, actor, client, s, now, rules))
        if cmd == "goal":
            g = grammar.parse_goal(args)
            item = uow.records_of(actor.id).add_plan(client.id, kind=PlanKind.LONG, text=g.text, due_at=None, now=now)
            record_undo(uow, actor, "goal", {"client_id": client.id, "plan_id": item.id}, now)
            signal = record_signal(uow, actor, client.id, [("goal", g.text)], now, rules)
            return Resumed("goal", PlanAdded(client=client, item=item, risk_signal=signal))
        if cmd == "plan":
            return Resumed("plan", _write_plan(uow, actor, client,
                                               _parse_plan(args, then, tz, _day_times(rules)), now))
        if cmd == "map":
            uow.staff.record(actor.id, "map", now, client_id=client.id, client_number=client.number)
            return Resumed("map", _map_view(uow, actor, client.id))
        if cmd in ("phq9", "gad7"):
            spec = grammar.parse_screening(args, 9 if cmd == "phq9" else 7, cmd)
            if spec.answers is None:
                return Resumed("ask_screening", _start_questionnaire(uow, actor, client, cmd, now))
            return Resumed("screening", _save_screening(uow, actor, client, cmd, spec.answers, now, rules))
        raise NotYours()


def pending_new_client_note(db: Database, actor: Counsellor, now: datetime) -> int | None:
    """The id of a parked note waiting for a new client's name, if any."""
    with db.uow(write=False) as uow:
        pending = uow.pending.latest(actor.id, "note_new", now)
        return pending.id if pending is not None else None


def new_client_with_note(
    db: Database, actor: Counsellor, pending_id: int, spec: grammar.NewClient, now: datetime,
    update_id: int | None, rules: RuleBase | None = None, *, allow_same_name: bool = False,
    new_args: str | None = None,
) -> tuple[ClientAdded, Logged] | SameName | AlreadyHandled:
    with db.uow(write=True) as uow:
        if update_id is not None and not uow.updates.claim(update_id, now):
            return AlreadyHandled()
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None:
            raise NotYours()
        repo = uow.clients_of(actor.id)
        same = [c for c in repo.list() if c.name.casefold() == spec.name.casefold()]
        if same and not allow_same_name:
            # 周晓雯 is already #27: ask before a silent duplicate; the note waits (as a picker)
            parked = uow.pending.add(
                counsellor_id=actor.id, kind="note",
                payload={**pending.payload, "new_args": new_args or spec.name}, now=now,
                expires_at=now + PENDING_TTL,
            )
            return SameName(pending_id=parked, name=spec.name, existing=same)
        client = repo.add(name=spec.name, tags=tuple(spec.tags), sid=spec.sid, major=spec.major,
                          grade=spec.grade, now=now)
        logged = _write_log(uow, actor, client, pending.payload["text"], None, (), None, None, None, None,
                            None, now, rules)
        return ClientAdded(client=client, same_name=same), logged


@dataclass(frozen=True)
class SameName:
    """A new client's name is already in the caseload: which one is meant?"""

    pending_id: int
    name: str
    existing: list[Client]


def new_anyway(
    db: Database, actor: Counsellor, pending_id: int, now: datetime, update_id: int | None,
    rules: RuleBase | None = None,
) -> tuple[ClientAdded, Logged] | AlreadyHandled:
    """"➕ 仍然新建" after the same-name question: add the namesake and log the note to them."""
    with db.uow(write=False) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or "new_args" not in pending.payload:
            raise NotYours()
        args = pending.payload["new_args"]
    with db.uow(write=True) as uow:
        if uow.pending.get(pending_id, actor.id, now=now) is None:
            raise NotYours()
        uow.pending.consume(pending_id, actor.id, now)
        again = uow.pending.add(counsellor_id=actor.id, kind="note_new", payload=dict(pending.payload),
                                now=now, expires_at=now + PENDING_TTL)
    return new_client_with_note(db, actor, again, grammar.parse_new(args), now, update_id, rules,
                                allow_same_name=True)


def cancel_pending(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> bool:
    with db.uow(write=True) as uow:
        return uow.pending.consume(pending_id, actor.id, now) is not None


# --- reading -----------------------------------------------------------------------------


def _map_view(uow: Any, actor: Counsellor, client_id: int, interactions: int = 20) -> MapView:
    repo = uow.records_of(actor.id)
    clinical = uow.clinical_of(actor.id)
    view = repo.relationship_map(client_id, interactions_limit=interactions)
    if view is None:
        raise NotYours()
    series = uow.series_of(actor.id).of_client(client_id)
    return MapView(
        map=view, grades=clinical.grades(client_id), screenings=clinical.screenings(client_id, limit=6),
        tier_history=clinical.tier_history(client_id, limit=8),
        series=sorted(series, key=lambda s: not s.active),
        safety_checks=uow.crisis_of(actor.id).checks(client_id, limit=3),
    )


def map_of(db: Database, actor: Counsellor, client_id: int, interactions: int = 20) -> MapView:
    """The map of one of the actor's clients by id (a button); NotYours otherwise."""
    with db.uow(write=False) as uow:
        return _map_view(uow, actor, client_id, interactions)


def client_of(db: Database, actor: Counsellor, client_id: int) -> Client:
    with db.uow(write=False) as uow:
        return _get_owned(uow, actor, client_id)


AWAIT_TTL = timedelta(minutes=10)


def await_text_for(db: Database, actor: Counsellor, client_id: int, command: str, now: datetime) -> Client:
    """📝 记录 / ⏰ 计划 tapped: the counsellor's next plain message (within 10 minutes) is
    that command for this client. A newer tap replaces an older one."""
    with db.uow(write=True) as uow:
        client = _get_owned(uow, actor, client_id)
        uow.pending.discard(actor.id, "await_text")
        uow.pending.add(counsellor_id=actor.id, kind="await_text",
                        payload={"cmd": command, "client_id": client.id}, now=now, expires_at=now + AWAIT_TTL)
        return client


def take_awaited_text(db: Database, actor: Counsellor, now: datetime) -> tuple[str, int] | None:
    """(command, client number) if a plain message is awaited for a client; used once."""
    with db.uow(write=True) as uow:
        pending = uow.pending.latest(actor.id, "await_text", now)
        if pending is None or uow.pending.consume(pending.id, actor.id, now) is None:
            return None
        client = uow.clients_of(actor.id).get(int(pending.payload["client_id"]))
        if client is None:
            return None
        return str(pending.payload["cmd"]), client.number


def relationship_map(
    db: Database, actor: Counsellor, args: str, now: datetime
) -> MapView | Choice:
    ref = grammar.parse_client_only(args, "map")
    with db.uow(write=True) as uow:
        found = _resolve(uow, actor, ref, now=now, park={"cmd": "map", "args": args, "now": now.isoformat()})
        if isinstance(found, Choice):
            return found
        uow.staff.record(actor.id, "map", now, client_id=found.id, client_number=found.number)
        return _map_view(uow, actor, found.id)


@dataclass(frozen=True)
class CaseloadRow:
    client: Client
    grades: Grades | None

    @property
    def risk(self) -> Risk:
        return self.grades.risk if self.grades is not None else self.client.risk


def caseload(db: Database, actor: Counsellor, now: datetime) -> list[CaseloadRow]:
    """Most urgent first: the graded risk tier, then longest without contact."""
    with db.uow(write=False) as uow:
        rows = [CaseloadRow(c, g) for c, g in uow.clinical_of(actor.id).list_graded()]
    epoch = datetime.min.replace(tzinfo=now.tzinfo)

    def key(row: CaseloadRow) -> tuple[int, datetime, int]:
        last = row.client.last_contact_at or epoch
        return (-row.risk.rank, last, row.client.number)

    return sorted(rows, key=key)


# --- status, goals, plans ----------------------------------------------------------------


def _write_status(
    uow: Any, actor: Counsellor, client: Client, spec: grammar.StatusUpdate, now: datetime,
    rules: RuleBase | None = None,
) -> StatusResult:
    repo = uow.clients_of(actor.id)
    value_set = spec.payer is not None or spec.capacity is not None
    if value_set and not (rules or default_rules()).value.enabled:
        raise CommandError("practice_only")
    changes: list[StatusChange] = []
    if value_set:  # private practice: the value tier's inputs (client_details)
        values = {k: v for k, v in (("payer", spec.payer), ("pay_capacity", spec.capacity)) if v is not None}
        uow.details_of(actor.id).set(client.id, **values)
    if spec.trust is not None or spec.satisfaction is not None or spec.risk is not None:
        changes = repo.set_status(
            client.id, by_counsellor_id=actor.id, now=now,
            trust=spec.trust, satisfaction=spec.satisfaction, risk=spec.risk,
        )
    if spec.add_tags:
        kept = set(client.tags) - set(spec.remove_tags)
        total = len(kept | set(spec.add_tags))
        if total > grammar.TAGS_PER_CLIENT_MAX:
            raise CommandError("too_many_tags", max=grammar.TAGS_PER_CLIENT_MAX, have=total)
    if spec.add_tags or spec.remove_tags:
        changes += repo.change_tags(client.id, add=spec.add_tags, remove=spec.remove_tags,
                                    by_counsellor_id=actor.id, now=now)
    if changes:
        record_undo(uow, actor, "status", {"client_id": client.id, "changes": status_payload(changes)}, now)
    grading = regrade_client(uow, actor, client.id, now, rules) if changes or value_set else None
    fresh = repo.get(client.id) or client
    return StatusResult(client=fresh, changes=changes, history=repo.history(client.id), grading=grading)


def set_status(
    db: Database, actor: Counsellor, args: str, now: datetime, update_id: int | None,
    rules: RuleBase | None = None,
) -> StatusResult | Choice | AlreadyHandled:
    spec = grammar.parse_status(args)
    with db.uow(write=True) as uow:
        if update_id is not None and not uow.updates.claim(update_id, now):
            return AlreadyHandled()
        found = _resolve(uow, actor, spec.client_ref, now=now,
                         park={"cmd": "status", "args": args, "now": now.isoformat()})
        if isinstance(found, Choice):
            return found
        return _write_status(uow, actor, found, spec, now, rules)


def add_goal(
    db: Database, actor: Counsellor, args: str, now: datetime, update_id: int | None,
    rules: RuleBase | None = None,
) -> PlanAdded | Choice | AlreadyHandled:
    spec = grammar.parse_goal(args)
    with db.uow(write=True) as uow:
        if update_id is not None and not uow.updates.claim(update_id, now):
            return AlreadyHandled()
        found = _resolve(uow, actor, spec.client_ref, now=now,
                         park={"cmd": "goal", "args": args, "now": now.isoformat()})
        if isinstance(found, Choice):
            return found
        item = uow.records_of(actor.id).add_plan(found.id, kind=PlanKind.LONG, text=spec.text, due_at=None, now=now)
        record_undo(uow, actor, "goal", {"client_id": found.id, "plan_id": item.id}, now)
        signal = record_signal(uow, actor, found.id, [("goal", spec.text)], now, rules)
        return PlanAdded(client=found, item=item, risk_signal=signal)


def _parse_plan(args: str, now: datetime, tz: ZoneInfo, times: Any = None) -> Any:
    """A recurring plan, a stop, or (the common case) a one-off follow-up."""
    return (recurrence.parse_recurring_plan(args, now, tz, times)
            or grammar.parse_plan(args, now, tz, times))


def _write_plan(uow: Any, actor: Counsellor, client: Client, spec: Any, now: datetime
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
            client.id, spec.text, spec.every, spec.first_due, spec.until,
            recurrence.stop_below_for(risk), now,
        )
        record_undo(uow, actor, "plan", {"client_id": client.id, "plan_id": item.id,
                                         "series_id": series.id}, now)
        return PlanAdded(client=client, item=item, series=series)
    item = uow.records_of(actor.id).add_plan(client.id, kind=PlanKind.SHORT, text=spec.text,
                                             due_at=spec.due, now=now)
    record_undo(uow, actor, "plan", {"client_id": client.id, "plan_id": item.id}, now)
    return PlanAdded(client=client, item=item)


def add_plan(
    db: Database, actor: Counsellor, args: str, now: datetime, update_id: int | None,
    rules: RuleBase | None = None,
) -> PlanAdded | SeriesStopped | Choice | AlreadyHandled:
    """`/plan <client> <when> <what>`; `/plan <client> every 1w <what> [until <date>]` (a
    recurring follow-up, domain/recurrence.py); `/plan <client> stop` ends the recurring ones."""
    spec = _parse_plan(args, now, ZoneInfo(actor.timezone), _day_times(rules))
    with db.uow(write=True) as uow:
        if update_id is not None and not uow.updates.claim(update_id, now):
            return AlreadyHandled()
        found = _resolve(uow, actor, spec.client_ref, now=now,
                         park={"cmd": "plan", "args": args, "now": now.isoformat()})
        if isinstance(found, Choice):
            return found
        return _write_plan(uow, actor, found, spec, now)


# --- screenings --------------------------------------------------------------------------


def _save_screening(
    uow: Any, actor: Counsellor, client: Client, instrument: str, answers: Sequence[int], now: datetime,
    rules: RuleBase | None,
) -> ScreeningSaved:
    repo = uow.clinical_of(actor.id)
    earlier = repo.screenings(client.id, instrument, limit=1)
    result = repo.add_screening(client.id, score_screening(instrument, answers, at=now), now)
    record_undo(uow, actor, "screening", {"client_id": client.id, "instrument": str(getattr(instrument, "value", instrument)),
                                          "at": result.at.isoformat()}, now)
    grading = regrade_client(uow, actor, client.id, now, rules)
    return ScreeningSaved(client=client, result=result, previous=earlier[0] if earlier else None,
                          grading=grading)


@dataclass(frozen=True)
class Questionnaire:
    pending_id: int
    client: Client
    instrument: str


def _start_questionnaire(uow: Any, actor: Counsellor, client: Client, instrument: str, now: datetime) -> Questionnaire:
    pending_id = uow.pending.add(
        counsellor_id=actor.id, kind="screen", payload={"instrument": instrument, "client_id": client.id},
        now=now, expires_at=now + PENDING_TTL,
    )
    return Questionnaire(pending_id=pending_id, client=client, instrument=instrument)


def screening(
    db: Database, actor: Counsellor, instrument: str, args: str, now: datetime, update_id: int | None,
    rules: RuleBase | None = None,
) -> ScreeningSaved | Questionnaire | Choice | AlreadyHandled:
    """`/phq9 <client> [answers]`: save at once, or start the questionnaire with buttons."""
    n = 9 if instrument == "phq9" else 7
    spec = grammar.parse_screening(args, n, instrument)
    with db.uow(write=True) as uow:
        if update_id is not None and not uow.updates.claim(update_id, now):
            return AlreadyHandled()
        found = _resolve(uow, actor, spec.client_ref, now=now,
                         park={"cmd": instrument, "args": args, "now": now.isoformat()})
        if isinstance(found, Choice):
            return found
        if spec.answers is None:
            return _start_questionnaire(uow, actor, found, instrument, now)
        return _save_screening(uow, actor, found, instrument, spec.answers, now, rules)


def questionnaire_step(
    db: Database, actor: Counsellor, pending_id: int, answers: Sequence[int], now: datetime,
    rules: RuleBase | None = None,
) -> Questionnaire | ScreeningSaved:
    """A button of the questionnaire was tapped. Saves (exactly once) when complete."""
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "screen":
            raise NotYours()
        instrument = pending.payload["instrument"]
        client = _get_owned(uow, actor, int(pending.payload["client_id"]))
        n = 9 if instrument == "phq9" else 7
        if len(answers) < n:
            return Questionnaire(pending_id=pending_id, client=client, instrument=instrument)
        if uow.pending.consume(pending_id, actor.id, now=now) is None:
            raise NotYours()
        return _save_screening(uow, actor, client, instrument, answers[:n], now, rules)
