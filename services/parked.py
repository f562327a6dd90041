"""Parked input: a plain message, a mistyped command or an ambiguous client waits (encrypted,
counsellor-scoped, with an expiry) until the counsellor taps a button; resuming it runs the
waiting command exactly once. Which use case a parked command resumes into is a registry
(`RESUMERS`: command → function), not a chain of string comparisons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from domain import grammar
from domain.matching import match_client, named_at_start
from domain.model import Client, Counsellor
from domain.rules import RuleBase
from services.clients import (
    AWAIT_TTL,
    PENDING_TTL,
    AlreadyHandled,
    ClientAdded,
    MapView,
    claimed_before,
    get_owned,
    map_view,
    same_name,
)
from services.errors import NotYours
from services.logs import LogEntry, Logged, write_log
from services.records import (
    PlanAdded,
    SeriesStopped,
    StatusResult,
    parse_plan,
    write_goal,
    write_plan,
    write_status,
)
from services.screenings import Questionnaire, ScreeningSaved, save_screening, start_questionnaire
from storage.db import Database
from storage.uow import UnitOfWork

RECENT_BUTTONS = 6


@dataclass(frozen=True)
class ParkedNote:
    pending_id: int
    recent: list[Client]  # the buttons: students named at the note's start first, then recent ones
    named: list[Client] = field(default_factory=list)


def park_command(db: Database, actor: Counsellor, command: str, args: str, now: datetime) -> int:
    """`/lgo 学生B …`: keep the text (encrypted) while the counsellor is asked "/log?"."""
    with db.uow(write=True) as uow:
        return uow.pending.add(
            counsellor_id=actor.id,
            kind="command",
            payload={"cmd": command, "args": args},
            now=now,
            expires_at=now + PENDING_TTL,
        )


def take_parked_command(
    db: Database, actor: Counsellor, pending_id: int, now: datetime
) -> tuple[str, str]:
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
            counsellor_id=actor.id,
            kind="note",
            payload={"text": text, "now": now.isoformat()},
            now=now,
            expires_at=now + PENDING_TTL,
        )
        repo = uow.clients_of(actor.id)
        named = named_at_start(text, repo.list())
        recent = [c for c in repo.recent(limit=RECENT_BUTTONS) if c not in named]  # type: ignore[attr-defined]  # storage's `def list` shadows list
        return ParkedNote(
            pending_id=pending_id,
            recent=(named + recent)[: RECENT_BUTTONS + len(named)],
            named=named,
        )


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
        recent = [c for c in repo.recent(limit=RECENT_BUTTONS) if c not in named]  # type: ignore[attr-defined]  # storage's `def list` shadows list
        return ParkedNote(pending_id=pending_id, recent=named + recent, named=named)


def search_for_note(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> int:
    """🔍 tapped under a parked note: the next plain message names the student."""
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "note":
            raise NotYours()
        uow.pending.discard(actor.id, "note_find")
        uow.pending.add(
            counsellor_id=actor.id,
            kind="note_find",
            payload={"note_id": pending_id},
            now=now,
            expires_at=now + AWAIT_TTL,
        )
        return pending_id


def find_for_note(
    db: Database, actor: Counsellor, text: str, now: datetime
) -> tuple[int, list[Client]] | None:
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
    result: (
        Logged
        | StatusResult
        | PlanAdded
        | SeriesStopped
        | MapView
        | Questionnaire
        | ScreeningSaved
        | int
    )


@dataclass(frozen=True)
class _Resume:
    """A parked command being resumed for the chosen client."""

    uow: UnitOfWork
    actor: Counsellor
    client: Client
    command: str
    args: str
    then: datetime  # when the command was typed (its dates are read as of then)
    now: datetime
    rules: RuleBase

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.actor.timezone)


def _resume_log(r: _Resume) -> Resumed:
    parsed = grammar.parse_log(r.args, r.then, r.tz, r.rules.day_times)
    return Resumed("log", write_log(r.uow, r.actor, r.client, LogEntry.of(parsed), r.now, r.rules))


def _resume_status(r: _Resume) -> Resumed:
    spec = grammar.parse_status(r.args)
    return Resumed("status", write_status(r.uow, r.actor, r.client, spec, r.now, r.rules))


def _resume_goal(r: _Resume) -> Resumed:
    return Resumed(
        "goal", write_goal(r.uow, r.actor, r.client, grammar.parse_goal(r.args), r.now, r.rules)
    )


def _resume_plan(r: _Resume) -> Resumed:
    spec = parse_plan(r.args, r.then, r.tz, r.rules.day_times)
    return Resumed("plan", write_plan(r.uow, r.actor, r.client, spec, r.now))


def _resume_map(r: _Resume) -> Resumed:
    r.uow.staff.record(
        r.actor.id, "map", r.now, client_id=r.client.id, client_number=r.client.number
    )
    return Resumed("map", map_view(r.uow, r.actor, r.client.id))


def _resume_screening(r: _Resume) -> Resumed:
    spec = grammar.parse_screening(r.args, 9 if r.command == "phq9" else 7, r.command)
    if spec.answers is None:
        return Resumed(
            "ask_screening", start_questionnaire(r.uow, r.actor, r.client, r.command, r.now)
        )
    return Resumed(
        "screening",
        save_screening(r.uow, r.actor, r.client, r.command, spec.answers, r.now, r.rules),
    )


#: the commands a client choice can resume (`/refer` resumes through services.referrals)
RESUMERS: dict[str, Callable[[_Resume], Resumed]] = {
    "log": _resume_log,
    "status": _resume_status,
    "goal": _resume_goal,
    "plan": _resume_plan,
    "map": _resume_map,
    "phq9": _resume_screening,
    "gad7": _resume_screening,
}


def resume_pending(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    client_id: int | None,
    now: datetime,
    rules: RuleBase,
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
                counsellor_id=actor.id,
                kind="note_new",
                payload=payload,
                now=now,
                expires_at=now + PENDING_TTL,
            )
            return Resumed(command="ask_name", result=new_id)
        client = get_owned(uow, actor, client_id)
        if pending.kind == "note":
            return Resumed(
                "log", write_log(uow, actor, client, LogEntry(notes=payload["text"]), now, rules)
            )
        command = payload.get("cmd")
        resume = RESUMERS.get(command) if isinstance(command, str) else None
        if resume is None:
            raise NotYours()
        then = datetime.fromisoformat(payload.get("now", now.isoformat()))
        return resume(
            _Resume(uow, actor, client, str(command), payload.get("args", ""), then, now, rules)
        )


def pending_new_client_note(db: Database, actor: Counsellor, now: datetime) -> int | None:
    """The id of a parked note waiting for a new client's name, if any."""
    with db.uow(write=False) as uow:
        pending = uow.pending.latest(actor.id, "note_new", now)
        return pending.id if pending is not None else None


def new_client_with_note(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    spec: grammar.NewClient,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
    *,
    allow_same_name: bool = False,
    new_args: str | None = None,
) -> tuple[ClientAdded, Logged] | SameName | AlreadyHandled:
    with db.uow(write=True) as uow:
        if claimed_before(uow, update_id, now):
            return AlreadyHandled()
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None:
            raise NotYours()
        repo = uow.clients_of(actor.id)
        same = same_name(uow, actor, spec.name)
        if same and not allow_same_name:
            # 周晓雯 is already #27: ask before a silent duplicate; the note waits (as a picker)
            parked = uow.pending.add(
                counsellor_id=actor.id,
                kind="note",
                payload={**pending.payload, "new_args": new_args or spec.name},
                now=now,
                expires_at=now + PENDING_TTL,
            )
            return SameName(pending_id=parked, name=spec.name, existing=same)
        client = repo.add(
            name=spec.name,
            tags=tuple(spec.tags),
            sid=spec.sid,
            major=spec.major,
            grade=spec.grade,
            now=now,
        )
        logged = write_log(uow, actor, client, LogEntry(notes=pending.payload["text"]), now, rules)
        return ClientAdded(client=client, same_name=same), logged


@dataclass(frozen=True)
class SameName:
    """A new client's name is already in the caseload: which one is meant?"""

    pending_id: int
    name: str
    existing: list[Client]


def new_anyway(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
) -> tuple[ClientAdded, Logged] | SameName | AlreadyHandled:
    """ "➕ 仍然新建" after the same-name question: add the namesake and log the note to them."""
    with db.uow(write=False) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or "new_args" not in pending.payload:
            raise NotYours()
        args = pending.payload["new_args"]
    with db.uow(write=True) as uow:
        if uow.pending.get(pending_id, actor.id, now=now) is None:
            raise NotYours()
        uow.pending.consume(pending_id, actor.id, now)
        again = uow.pending.add(
            counsellor_id=actor.id,
            kind="note_new",
            payload=dict(pending.payload),
            now=now,
            expires_at=now + PENDING_TTL,
        )
    return new_client_with_note(
        db, actor, again, grammar.parse_new(args), now, update_id, rules, allow_same_name=True
    )


def cancel_pending(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> bool:
    with db.uow(write=True) as uow:
        return uow.pending.consume(pending_id, actor.id, now) is not None
