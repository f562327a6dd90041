"""Clients: who a command is about (resolution, or a parked choice), adding one, reading one.

Every client lookup goes through the counsellor-scoped repository, so another counsellor's
client is simply "not found" (`UnknownClient` for a typed reference, `NotYours` for an id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from domain import grammar
from domain.matching import Match, folded_name, lookup_key, match_client
from domain.model import Client, Counsellor, RelationshipMap, Risk
from domain.rules import RuleBase
from domain.screening import ScreeningResult
from domain.tiering import Grades, RegradeDecision, TierChange
from services.errors import NotYours, UnknownClient
from services.grading import regrade_client
from services.undo import record_undo
from storage.crisis import StoredCheck
from storage.db import Database
from storage.series import PlanSeries
from storage.uow import UnitOfWork

PENDING_TTL = timedelta(days=2)
AWAIT_TTL = timedelta(minutes=10)


# --- results -----------------------------------------------------------------------------


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
class ClientAdded:
    client: Client
    same_name: list[Client] = field(default_factory=list)
    grading: RegradeDecision | None = None


@dataclass(frozen=True)
class MapView:
    """`/map`: the six dimensions plus the tiers with their reasons and the scorecards."""

    map: RelationshipMap
    grades: Grades | None
    screenings: list[ScreeningResult]
    tier_history: list[TierChange]
    series: list[PlanSeries] = field(default_factory=list)  # recurring follow-ups, active first
    safety_checks: list[StoredCheck] = field(default_factory=list)  # latest first

    @property
    def last_contact_at(self) -> datetime | None:
        """The last contact as the grading counts it (a conversation, a screening or a safety
        check), so the map says what the reminders and due dates are computed from."""
        return last_contact(self.map.client, self.grades)


def last_contact(client: Client, grades: Grades | None) -> datetime | None:
    """The later of the client's last conversation and the last contact its grades counted
    (screenings and safety checks count as contacts too)."""
    graded = grades.last_contact_at if grades is not None else None
    seen = [t for t in (client.last_contact_at, graded) if t is not None]
    return max(seen) if seen else None


# --- client resolution -------------------------------------------------------------------


def claimed_before(uow: UnitOfWork, update_id: int | None, now: datetime) -> bool:
    """True when this Telegram update was handled before (then nothing is written again)."""
    return update_id is not None and not uow.updates.claim(update_id, now)


def match_ref(uow: UnitOfWork, actor: Counsellor, ref: grammar.ClientRef | str) -> Match:
    """`domain.matching.match_client` over the actor's caseload, reading only what it needs:
    a number or an exact name is one indexed lookup (the name's blind index); only a prefix,
    pinyin, initials or a miss reads (and decrypts) the whole caseload."""
    repo = uow.clients_of(actor.id)
    key = lookup_key(ref)
    hits: list[Client] = []
    if isinstance(key, int):
        hit = repo.get_by_number(key)
        hits = [hit] if hit is not None else []
    elif key is not None:
        hits = repo.named(key)
    return match_client(ref, hits if hits else repo.list())


def resolve_client(uow: UnitOfWork, actor: Counsellor, ref: grammar.ClientRef | str) -> Client:
    """The one client `ref` names; UnknownClient (with candidates or suggestions) otherwise."""
    match = match_ref(uow, actor, ref)
    if match.client is not None:
        return match.client
    text = ref.text if isinstance(ref, grammar.ClientRef) else str(ref)
    raise UnknownClient(text, match.candidates or match.suggestions)


def resolve_or_park(
    uow: UnitOfWork,
    actor: Counsellor,
    ref: grammar.ClientRef | str,
    park: dict[str, Any],
    now: datetime,
) -> Client | Choice:
    """The client `ref` names; when it names several, the command (`park`) waits as a
    parked input and the counsellor is asked which one (`Choice`)."""
    match = match_ref(uow, actor, ref)
    text = ref.text if isinstance(ref, grammar.ClientRef) else str(ref)
    if match.client is not None:
        return match.client
    if match.candidates:
        pending_id = uow.pending.add(
            counsellor_id=actor.id,
            kind="choose",
            payload=park,
            now=now,
            expires_at=now + PENDING_TTL,
        )
        return Choice(pending_id=pending_id, ref=text, candidates=list(match.candidates))
    raise UnknownClient(text, match.suggestions)


def parked_command(command: str, args: str, now: datetime) -> dict[str, Any]:
    """What a command waiting for a client choice keeps (resumed by services.parked)."""
    return {"cmd": command, "args": args, "now": now.isoformat()}


T = TypeVar("T")


def on_client(
    db: Database,
    actor: Counsellor,
    command: str,
    args: str,
    ref: grammar.ClientRef | str,
    now: datetime,
    update_id: int | None,
    then: Callable[[UnitOfWork, Client], T],
    *,
    client_id: int | None = None,
) -> T | Choice | AlreadyHandled:
    """The pipeline of every write command about one client, in one transaction: claim the
    update (handled before: nothing is written again), resolve the client `ref` names (or,
    when it names several, park `command` and ask which one), then `then(uow, client)`.
    `client_id` (a choice button already resolved it) skips the resolving."""
    with db.uow(write=True) as uow:
        if claimed_before(uow, update_id, now):
            return AlreadyHandled()
        if client_id is not None:
            return then(uow, get_owned(uow, actor, client_id))
        found = resolve_or_park(uow, actor, ref, parked_command(command, args, now), now)
        if isinstance(found, Choice):
            return found
        return then(uow, found)


def get_owned(uow: UnitOfWork, actor: Counsellor, client_id: int) -> Client:
    """The actor's client by id (a button); NotYours for someone else's or a deleted one."""
    client = uow.clients_of(actor.id).get(client_id)
    if client is None:
        raise NotYours()
    return client


# --- clients -----------------------------------------------------------------------------


def same_name(uow: UnitOfWork, actor: Counsellor, name: str) -> list[Client]:
    """The actor's clients called `name` (case aside): one indexed lookup on the name's
    blind index (casefold-equal names fold alike), never the whole caseload."""
    return [
        c
        for c in uow.clients_of(actor.id).named(folded_name(name))
        if c.name.casefold() == name.casefold()
    ]


def add_client(
    db: Database,
    actor: Counsellor,
    spec: grammar.NewClient,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
) -> ClientAdded | AlreadyHandled:
    with db.uow(write=True) as uow:
        if claimed_before(uow, update_id, now):
            return AlreadyHandled()
        repo = uow.clients_of(actor.id)
        same = same_name(uow, actor, spec.name)
        client = repo.add(
            name=spec.name,
            tags=tuple(spec.tags),
            sid=spec.sid,
            major=spec.major,
            grade=spec.grade,
            now=now,
        )
        record_undo(uow, actor, "new", {"client_id": client.id}, now)
        grading = regrade_client(uow, actor, client.id, now, rules)
        return ClientAdded(client=client, same_name=same, grading=grading)


# --- reading -----------------------------------------------------------------------------


def map_view(uow: UnitOfWork, actor: Counsellor, client_id: int, interactions: int = 20) -> MapView:
    repo = uow.records_of(actor.id)
    clinical = uow.clinical_of(actor.id)
    view = repo.relationship_map(client_id, interactions_limit=interactions)
    if view is None:
        raise NotYours()
    series = uow.series_of(actor.id).of_client(client_id)
    return MapView(
        map=view,
        grades=clinical.grades(client_id),
        screenings=clinical.screenings(client_id, limit=6),
        tier_history=clinical.tier_history(client_id, limit=8),
        series=sorted(series, key=lambda s: not s.active),
        safety_checks=uow.crisis_of(actor.id).checks(client_id, limit=3),
    )


def map_of(db: Database, actor: Counsellor, client_id: int, interactions: int = 20) -> MapView:
    """The map of one of the actor's clients by id (a button); NotYours otherwise."""
    with db.uow(write=False) as uow:
        return map_view(uow, actor, client_id, interactions)


def client_of(db: Database, actor: Counsellor, client_id: int) -> Client:
    with db.uow(write=False) as uow:
        return get_owned(uow, actor, client_id)


def await_text_for(
    db: Database, actor: Counsellor, client_id: int, command: str, now: datetime
) -> Client:
    """📝 记录 / ⏰ 计划 tapped: the counsellor's next plain message (within 10 minutes) is
    that command for this client. A newer tap replaces an older one."""
    with db.uow(write=True) as uow:
        client = get_owned(uow, actor, client_id)
        uow.pending.discard(actor.id, "await_text")
        uow.pending.add(
            counsellor_id=actor.id,
            kind="await_text",
            payload={"cmd": command, "client_id": client.id},
            now=now,
            expires_at=now + AWAIT_TTL,
        )
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


def relationship_map(db: Database, actor: Counsellor, args: str, now: datetime) -> MapView | Choice:
    ref = grammar.parse_client_only(args, "map")
    with db.uow(write=True) as uow:
        found = resolve_or_park(uow, actor, ref, parked_command("map", args, now), now)
        if isinstance(found, Choice):
            return found
        uow.staff.record(actor.id, "map", now, client_id=found.id, client_number=found.number)
        return map_view(uow, actor, found.id)


@dataclass(frozen=True)
class CaseloadRow:
    client: Client
    grades: Grades | None

    @property
    def risk(self) -> Risk:
        return self.grades.risk if self.grades is not None else self.client.risk

    @property
    def last_contact_at(self) -> datetime | None:
        return last_contact(self.client, self.grades)


@dataclass(frozen=True)
class CaseloadPage:
    rows: list[CaseloadRow]
    total: int  # clients in the caseload
    page: int  # the page shown (the one asked for, within 0 … pages - 1)
    pages: int


def caseload(db: Database, actor: Counsellor, now: datetime) -> list[CaseloadRow]:
    """The whole caseload, most urgent first: the graded risk tier, then longest without
    contact, then by number."""
    with db.uow(write=False) as uow:
        return [CaseloadRow(c, g) for c, g in uow.clinical_of(actor.id).caseload_page(0, None)]


def caseload_page(
    db: Database, actor: Counsellor, now: datetime, page: int, size: int
) -> CaseloadPage:
    """One page of `caseload` (/clients): `size` rows of page `page` (clamped to the pages
    there are), ordered and cut in SQL, only the page's clients read and decrypted; a
    constant number of statements whatever the caseload."""
    with db.uow(write=False) as uow:
        total = uow.clients_of(actor.id).count()
        pages = max(1, -(-total // size))
        page = min(max(page, 0), pages - 1)
        rows = uow.clinical_of(actor.id).caseload_page(page * size, size)
    return CaseloadPage([CaseloadRow(c, g) for c, g in rows], total, page, pages)
