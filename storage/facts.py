"""The grading facts of clients, loaded in sets (issue 12: set-based scale).

`load_facts` is the ONE builder behind `ClinicalRepo.facts(id)` and
`ClinicalRepo.facts_many(ids)`: a handful of `IN (...)` queries per batch of clients (the
client rows with their tags, needs, contacts, screenings, stored grades, safety checks,
value inputs), grouped in Python. So one client or five hundred cost the same number of
statements, and the single and the batch read can never disagree.

`save_grades_many` / `add_tier_changes` are the batch writes of a re-grade
(`services.grading.regrade_everyone`): one executemany each, whatever the batch size.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.model import Risk
from domain.safety import SafetyCheck
from domain.screening import Instrument, ScreeningResult
from domain.tiering import ClientFacts, Grades, NeedFact, TierChange, ValueInfo
from domain.vocab import is_strength, unreached_streak
from storage.base import aware, aware_opt, clean_text
from storage.orm import (
    ClientDetailsRow,
    ClientGradeRow,
    ClientRow,
    ClientTagRow,
    InteractionRow,
    NeedRow,
    SafetyCheckRow,
    ScreeningRow,
    TierChangeRow,
    table_of,
)
from storage.tiering_codec import decode_grades, encode_grades, encode_reasons

__all__ = [
    "FACTS_BATCH",
    "Graded",
    "load_facts",
    "still_as_read",
    "save_grades_many",
    "add_tier_changes",
    "grade_values",
]

#: clients per IN (...) list: well under SQLite's and psycopg's parameter limits
FACTS_BATCH = 500

_PHQ9, _GAD7 = Instrument.PHQ9.value, Instrument.GAD7.value
_DIMENSIONS = frozenset({"risk", "frequency", "need", "value"})


@dataclass(frozen=True, slots=True)
class Graded:
    """What is stored about one client's grading: the facts, and the grades last saved
    (None if never graded) with their tier_set_at."""

    facts: ClientFacts
    grades: Grades | None
    tier_set_at: datetime | None
    #: opaque: what the stored grades were when read (see `still_as_read`)
    version: str | None = None


def _chunks(ids: Sequence[int], size: int = FACTS_BATCH) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _screening(item: Row[Any], dec: Callable[[str], str]) -> ScreeningResult:
    return ScreeningResult(
        instrument=Instrument(item.instrument),
        answers=tuple(json.loads(dec(item.answers_enc))),
        total=item.total,
        band=item.band,
        item9=item.item9,
        at=item.at,
    )


def load_facts(
    s: Session, dec: Callable[[str], str], counsellor_id: int, client_ids: Iterable[int]
) -> dict[int, Graded]:
    """{client_id: Graded} for the ids that are this counsellor's clients (others are
    simply absent). Eight statements per FACTS_BATCH clients."""
    wanted = sorted({int(i) for i in client_ids})
    out: dict[int, Graded] = {}
    if not wanted:
        return out
    # the session's pending changes first (what Session.execute's autoflush did), then
    # plain Core reads on its connection: no ORM result machinery for 5,000 contact rows
    s.flush()
    conn = s.connection()
    for ids in _chunks(wanted):
        out.update(_load_batch(conn, dec, counsellor_id, ids))
    return out


@dataclass(frozen=True, slots=True)
class _Reads:
    clients: Any
    tags: Any
    needs: Any
    contacts: Any
    screenings: Any
    grades: Any
    checks: Any
    values: Any


# The batch's statements, built once (a statement built per call costs more Python than
# the query itself for one client: a /log re-grades its client through here). `ids` is
# an expanding IN list.
def _reads(ids: Any) -> _Reads:
    clients = select(
        ClientRow.id, ClientRow.risk, ClientRow.last_contact_at, ClientRow.created_at
    ).where(ClientRow.id.in_(ids), ClientRow.counsellor_id == bindparam("counsellor_id"))
    tags = (
        select(ClientTagRow.client_id, ClientTagRow.tag)
        .where(ClientTagRow.client_id.in_(ids))
        .order_by(ClientTagRow.client_id, ClientTagRow.id)
    )
    needs = (
        select(NeedRow.client_id, NeedRow.text_enc, NeedRow.explicit)
        .where(NeedRow.client_id.in_(ids))
        .order_by(NeedRow.client_id, NeedRow.created_at, NeedRow.id)
    )
    contacts = (
        select(InteractionRow.client_id, InteractionRow.at, InteractionRow.outcome)
        .where(InteractionRow.client_id.in_(ids))
        .order_by(InteractionRow.client_id, InteractionRow.at, InteractionRow.id)
    )
    screenings = (
        select(
            ScreeningRow.client_id,
            ScreeningRow.instrument,
            ScreeningRow.answers_enc,
            # labelled: on a Core connection a row is keyed by column names otherwise
            ScreeningRow.total.label("total"),
            ScreeningRow.band.label("band"),
            ScreeningRow.item9.label("item9"),
            ScreeningRow.at,
        )
        .where(ScreeningRow.client_id.in_(ids))
        .order_by(ScreeningRow.client_id, ScreeningRow.at.desc(), ScreeningRow.id.desc())
    )
    grades = select(
        ClientGradeRow.client_id, ClientGradeRow.tier_set_at, ClientGradeRow.data_enc
    ).where(ClientGradeRow.client_id.in_(ids))
    checks = (
        select(
            SafetyCheckRow.client_id,
            SafetyCheckRow.at,
            SafetyCheckRow.answers_enc,
            SafetyCheckRow.result,
        )
        .where(SafetyCheckRow.client_id.in_(ids))
        .order_by(SafetyCheckRow.client_id, SafetyCheckRow.at.desc(), SafetyCheckRow.id.desc())
    )
    values = select(
        ClientDetailsRow.client_id, ClientDetailsRow.payer, ClientDetailsRow.pay_capacity
    ).where(ClientDetailsRow.client_id.in_(ids))
    return _Reads(
        clients=clients,
        tags=tags,
        needs=needs,
        contacts=contacts,
        screenings=screenings,
        grades=grades,
        checks=checks,
        values=values,
    )


_READS = _reads(bindparam("ids", expanding=True))
#: PostgreSQL: the ids written into the statement as numbers, not 500 placeholders that
#: psycopg splits out of a long query text in Python on every execution (it caches that
#: work for short queries only): a third of a batch read's client-side cost
_READS_PG = _reads(bindparam("ids", expanding=True, literal_execute=True))


def _load_batch(
    s: Connection, dec: Callable[[str], str], counsellor_id: int, ids: list[int]
) -> dict[int, Graded]:
    # Core rows, not ORM objects: nothing lands in the session's identity map (a re-grade
    # of a batch then flushes and autoflushes as cheaply as a single client's)
    q = _READS_PG if s.dialect.name == "postgresql" else _READS
    rows = {r.id: r for r in s.execute(q.clients, {"ids": ids, "counsellor_id": counsellor_id})}
    if not rows:
        return {}
    ids = sorted(rows)
    params = {"ids": ids}
    tags: dict[int, list[str]] = defaultdict(list)
    for cid, tag in s.execute(q.tags, params):
        if not is_strength(tag):  # a strength (#+…) is never graded
            tags[cid].append(tag)
    needs: dict[int, list[NeedFact]] = defaultdict(list)
    for cid, text_enc, explicit in s.execute(q.needs, params):
        needs[cid].append(NeedFact(dec(text_enc), bool(explicit)))
    contacts: dict[int, list[tuple[datetime, str | None]]] = defaultdict(list)
    for cid, at, outcome in s.execute(q.contacts, params):
        contacts[cid].append((at, outcome))
    # every screening, latest first per client: the latest and the previous total per
    # instrument, and their times (a screening is a contact too)
    screenings: dict[int, list[Row[Any]]] = defaultdict(list)
    for item in s.execute(q.screenings, params):
        screenings[item.client_id].append(item)
    stored: dict[int, tuple[datetime, str]] = {
        cid: (tier_set_at, data_enc) for cid, tier_set_at, data_enc in s.execute(q.grades, params)
    }
    # safety checks (issue 11): the latest one grades, every one is a contact (the domain
    # does not count a screening or a check twice in one meeting)
    checks: dict[int, list[Row[Any]]] = defaultdict(list)
    for item in s.execute(q.checks, params):
        checks[item.client_id].append(item)
    values: dict[int, ValueInfo] = {}
    for cid, payer, capacity in s.execute(q.values, params):
        if payer is not None or capacity is not None:  # practice mode's value-tier inputs
            values[cid] = ValueInfo(payment_capacity=capacity, payer=payer)

    out: dict[int, Graded] = {}
    for cid in ids:
        row = rows[cid]
        seen = contacts.get(cid, [])
        # an attempt logged outcome=unreached is not a contact; a run of them is a fact
        interactions = tuple(at for at, outcome in seen if outcome != "unreached")
        streak = unreached_streak([outcome for _, outcome in reversed(seen)])
        latest: dict[str, ScreeningResult] = {}
        previous: dict[str, int] = {}
        screening_times: list[datetime] = []
        for item in screenings.get(cid, ()):
            screening_times.append(item.at)
            if item.instrument not in latest:
                latest[item.instrument] = _screening(item, dec)
            elif item.instrument not in previous:
                previous[item.instrument] = item.total
        tier_set_at, standing = None, None
        if cid in stored:
            tier_set_at = stored[cid][0]
            standing = decode_grades(dec(stored[cid][1]))
        check = None
        check_times: list[datetime] = []
        for item in checks.get(cid, ()):
            check_times.append(item.at)
            if check is None:
                data = json.loads(dec(item.answers_enc))
                check = SafetyCheck(
                    answers=dict(data["answers"]),
                    result=Risk(item.result),
                    deciding=tuple(data.get("deciding", ())),
                    at=item.at,
                )
        facts = ClientFacts(
            client_id=row.id,
            counsellor_risk=Risk(row.risk),
            risk_tags=tuple(tags.get(cid, ())),
            needs=tuple(needs.get(cid, ())),
            interactions=interactions,
            last_contact_at=row.last_contact_at,
            phq9=latest.get(_PHQ9),
            gad7=latest.get(_GAD7),
            previous_phq9_total=previous.get(_PHQ9),
            previous_gad7_total=previous.get(_GAD7),
            created_at=row.created_at,
            tier_set_at=tier_set_at,
            other_contacts=(*screening_times, *check_times),
            standing_risk=standing.risk if standing is not None else None,
            tier_since=standing.tier_since if standing is not None else None,
            held=standing.held if standing is not None else None,
            held_since=standing.held_since if standing is not None else None,
            safety_check=check,
            unreached_streak=streak,
            value=values.get(cid),
        )
        out[cid] = Graded(
            facts=facts,
            grades=standing,
            tier_set_at=tier_set_at,
            version=stored[cid][1] if cid in stored else None,
        )
    return out


def still_as_read(
    s: Session, dialect: str, counsellor_id: int, versions: dict[int, str | None]
) -> set[int]:
    """The clients (of `versions`: {client_id: Graded.version}) whose stored grades are
    still what was read: nobody has graded them since (every save re-encrypts, so any
    save changes the version) and they still exist. Call it in the write unit of work that
    saves, so a re-grade read outside the write lock never overwrites a fresher grading.
    PostgreSQL: the client rows stay locked until the commit."""
    out: set[int] = set()
    for ids in _chunks(sorted(versions)):
        # PostgreSQL: the ids as numbers in the text (see `_READS_PG`)
        listed: BindParameter[list[int]] = bindparam(
            "ids", ids, expanding=True, literal_execute=dialect == "postgresql"
        )
        stmt = (
            select(ClientRow.id, ClientGradeRow.data_enc)
            .outerjoin(ClientGradeRow, ClientGradeRow.client_id == ClientRow.id)
            .where(ClientRow.id.in_(listed), ClientRow.counsellor_id == counsellor_id)
        )
        if dialect == "postgresql":
            stmt = stmt.with_for_update(of=ClientRow)
        out.update(cid for cid, data in s.execute(stmt) if data == versions[cid])
    return out


def grade_values(
    grades: Grades, tier_set_at: datetime, enc: Callable[[str], str]
) -> dict[str, Any]:
    """The client_grades columns (but client_id) of `grades`; `ClinicalRepo.save_grades` and
    `save_grades_many` write the same thing."""
    return {
        "risk": Risk(grades.risk).value,
        "risk_rank": Risk(grades.risk).rank,
        "data_enc": enc(encode_grades(grades)),
        "graded_at": aware(grades.graded_at, "graded_at"),
        "tier_set_at": aware(tier_set_at, "tier_set_at"),
        "review_due_at": aware_opt(grades.review_due_at, "review_due_at"),
        "next_contact_due": aware_opt(grades.next_contact_due, "next_contact_due"),
        "contact_latest_at": aware_opt(grades.contact_latest_at, "contact_latest_at"),
    }


def save_grades_many(
    s: Session,
    dialect: str,
    enc: Callable[[str], str],
    items: Sequence[tuple[Grades, datetime]],
) -> None:
    """Upsert many clients' grades in one executemany (the caller has checked that the
    clients are its own: they come from `load_facts` in the same unit of work)."""
    if not items:
        return
    table = table_of(ClientGradeRow)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    params = [{"client_id": g.client_id, **grade_values(g, at, enc)} for g, at in items]
    columns = [c for c in params[0] if c != "client_id"]
    stmt = insert(table).values({c: bindparam(c) for c in params[0]})
    stmt = stmt.on_conflict_do_update(
        index_elements=["client_id"], set_={c: stmt.excluded[c] for c in columns}
    )
    s.execute(stmt, params)


def add_tier_changes(
    s: Session,
    enc: Callable[[str], str],
    changes: Sequence[TierChange],
    by_counsellor_id: int | None,
) -> None:
    """Insert many tier-history rows in one executemany (clients checked by the caller)."""
    if not changes:
        return
    rows = []
    for change in changes:
        if change.dimension not in _DIMENSIONS:
            raise ValueError(f"unknown tier dimension {change.dimension!r}")
        rows.append(
            {
                "client_id": change.client_id,
                "at": aware(change.at, "at"),
                "dimension": change.dimension,
                "old": clean_text(change.old, 16, "old tier"),
                "new": clean_text(change.new, 16, "new tier"),
                "reasons_enc": enc(encode_reasons(change.reasons)),
                "by_counsellor_id": by_counsellor_id,
            }
        )
    s.execute(table_of(TierChangeRow).insert(), rows)
