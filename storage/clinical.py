"""The clinical side of a client (`uow.clinical_of(counsellor_id)`): screenings, the facts
grading reads, the grades and their review, the tier history and the alerts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.model import Client, Risk
from domain.screening import Instrument, ScreeningResult
from domain.screening import score as score_screening
from domain.tiering import AlertEvent, ClientFacts, Grades, TierChange
from storage.base import ScopedRepo, aware, aware_opt, clean_text, risk_rank, rowcount
from storage.dto import Alert
from storage.errors import ClientNotFound
from storage.facts import (
    Graded,
    add_tier_changes,
    grade_values,
    load_facts,
    save_grades_many,
    still_as_read,
)
from storage.mappers import as_alert
from storage.orm import AlertRow, ClientGradeRow, ClientRow, ScreeningRow, TierChangeRow, table_of
from storage.tiering_codec import decode_grades, decode_reasons, encode_grades, encode_reasons

__all__ = ["ClinicalRepo"]

_DIMENSIONS = frozenset({"risk", "frequency", "need", "value"})
_LIST_GRADES = text(
    "SELECT g.client_id, g.data_enc FROM client_grades g JOIN clients c ON c.id = g.client_id "
    "WHERE c.counsellor_id = :c"
)
_GRADES_MEMO: dict[str, Grades] = {}
_GRADES_MEMO_LIMIT = 200_000


def _decoded_grades(cipher: Any, token: str) -> Grades:
    """Stored grades, decoded once per token: every save re-encrypts (a new token), so the
    memo cannot go stale, and `Grades` is immutable. Bounded: cleared when full."""
    grades = _GRADES_MEMO.get(token)
    if grades is None:
        grades = decode_grades(cipher.decrypt(token))
        if len(_GRADES_MEMO) >= _GRADES_MEMO_LIMIT:
            _GRADES_MEMO.clear()
        _GRADES_MEMO[token] = grades
    return grades


class ClinicalRepo(ScopedRepo):
    """A counsellor's clients' screenings, grades, tier history and alerts. Reads return
    None (or nothing) for a missing or another counsellor's client; writes about one
    raise `ClientNotFound`."""

    def add_screening(
        self, client_id: int, result: ScreeningResult, now: datetime
    ) -> ScreeningResult:
        """Store a scored PHQ-9/GAD-7 (answers encrypted). `result.at` defaults to `now`;
        the stored result (with `at` set) is returned. Answers that do not score to the
        given total/band/item9 are refused (ValueError)."""
        row = self._need_row(client_id)
        instrument = Instrument(result.instrument)
        check = score_screening(instrument, result.answers)  # validates count and 0–3 range
        if (check.total, check.band, check.item9) != (result.total, result.band, result.item9):
            raise ValueError(f"{instrument.value}: total/band/item9 do not match the answers")
        at = aware(result.at if result.at is not None else now, "at")
        item = ScreeningRow(
            client_id=row.id,
            instrument=instrument.value,
            answers_enc=self._enc(json.dumps(list(check.answers))),
            total=check.total,
            band=check.band,
            item9=check.item9,
            at=at,
        )
        self._s.add(item)
        self._s.flush()
        return replace(check, at=item.at)

    def screenings(
        self, client_id: int, instrument: Instrument | str | None = None, limit: int = 10
    ) -> list[ScreeningResult]:
        """The client's screenings, latest first (empty for an unknown client)."""
        stmt = select(ScreeningRow).where(
            ScreeningRow.client_id == client_id, self._owned(client_id)
        )
        if instrument is not None:
            stmt = stmt.where(ScreeningRow.instrument == Instrument(instrument).value)
        stmt = stmt.order_by(ScreeningRow.at.desc(), ScreeningRow.id.desc()).limit(limit)
        return [self._screening(r) for r in self._s.scalars(stmt)]

    def facts(self, client_id: int) -> ClientFacts | None:
        """Everything `domain.tiering.grade` needs about the client, or None."""
        found = load_facts(self._s, self._dec, self.counsellor_id, [client_id]).get(client_id)
        return None if found is None else found.facts

    def facts_many(self, client_ids: Iterable[int]) -> dict[int, ClientFacts]:
        """`facts` of many clients in a handful of statements per 500 (the same builder, so
        `facts_many(ids)[i] == facts(i)`); ids that are not this counsellor's are absent."""
        return {cid: g.facts for cid, g in self.graded_many(client_ids).items()}

    def graded_many(self, client_ids: Iterable[int]) -> dict[int, Graded]:
        """The facts, the saved grades and their tier_set_at of many clients at once (a
        re-grade's read: `services.grading.regrade_everyone`)."""
        return load_facts(self._s, self._dec, self.counsellor_id, client_ids)

    def still_as_read(self, graded: dict[int, Graded]) -> set[int]:
        """Of these clients (read by `graded_many`, perhaps in an earlier unit of work),
        those nobody has graded since and that still exist (PostgreSQL: locked until
        the commit)."""
        versions = {cid: g.version for cid, g in graded.items()}
        fresh = still_as_read(self._s, self._uow.dialect, self.counsellor_id, versions)
        self._known_own().update(fresh)  # checked (and locked) for the batch's writes
        return fresh

    def grades(self, client_id: int) -> Grades | None:
        """The grades last saved with `save_grades`, exactly; None if never graded."""
        data = self._s.scalar(
            select(ClientGradeRow.data_enc).where(
                ClientGradeRow.client_id == client_id, self._owned(client_id)
            )
        )
        return None if data is None else decode_grades(self._dec(data))

    def save_grades(self, grades: Grades, tier_set_at: datetime) -> None:
        """Insert or replace the client's grades (one row per client)."""
        row = self._need_row(grades.client_id)
        values = grade_values(grades, tier_set_at, self._enc)
        table = table_of(ClientGradeRow)
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        stmt = insert(table).values(client_id=row.id, **values)
        # an upsert, so two units of work grading a new client at once cannot collide
        stmt = stmt.on_conflict_do_update(index_elements=["client_id"], set_=values)
        self._s.execute(stmt)

    def save_grades_many(self, items: Sequence[tuple[Grades, datetime]]) -> None:
        """`save_grades` for many clients in one statement; only clients of this
        counsellor's (ClientNotFound otherwise)."""
        self._check_own({g.client_id for g, _ in items})
        save_grades_many(self._s, self._uow.dialect, self._enc, items)

    def add_tier_change(self, change: TierChange, by_counsellor_id: int | None) -> None:
        row = self._need_row(change.client_id)
        if change.dimension not in _DIMENSIONS:
            raise ValueError(f"unknown tier dimension {change.dimension!r}")
        self._s.add(
            TierChangeRow(
                client_id=row.id,
                at=aware(change.at, "at"),
                dimension=change.dimension,
                old=clean_text(change.old, 16, "old tier"),
                new=clean_text(change.new, 16, "new tier"),
                reasons_enc=self._enc(encode_reasons(change.reasons)),
                by_counsellor_id=by_counsellor_id,
            )
        )
        self._s.flush()

    def add_tier_changes(self, changes: Sequence[TierChange], by_counsellor_id: int | None) -> None:
        """`add_tier_change` for many changes in one statement."""
        self._check_own({c.client_id for c in changes})
        add_tier_changes(self._s, self._enc, changes, by_counsellor_id)

    def tier_history(self, client_id: int, limit: int = 20) -> list[TierChange]:
        """Tier changes, latest first (empty for an unknown client)."""
        rows = self._s.scalars(
            select(TierChangeRow)
            .where(TierChangeRow.client_id == client_id, self._owned(client_id))
            .order_by(TierChangeRow.at.desc(), TierChangeRow.id.desc())
            .limit(limit)
        )
        return [
            TierChange(
                client_id=r.client_id,
                dimension=r.dimension,
                old=r.old,
                new=r.new,
                at=r.at,
                reasons=decode_reasons(self._dec(r.reasons_enc)),
            )
            for r in rows
        ]

    def list_graded(self) -> list[tuple[Client, Grades | None]]:
        """The whole caseload with each client's saved grades (None if never graded), by
        client number. Three plain queries (clients, their tags, their grades)."""
        # `ClientRepo.list()` (plain rows, memoised names) and one plain query for the
        # grades, each decoded once per token: a page of /clients or /today over 5,000
        # clients used to build 5,000 ORM rows, select their tags in ten batches and
        # decrypt and parse every client's grades on every request
        grades = {
            client_id: _decoded_grades(self._uow.cipher, token)
            for client_id, token in self._s.execute(_LIST_GRADES, {"c": self.counsellor_id})
        }
        return [
            (client, grades.get(client.id))
            for client in self._uow.clients_of(self.counsellor_id).list()
        ]

    def caseload_page(self, offset: int, limit: int | None) -> list[tuple[Client, Grades | None]]:
        """`limit` clients (all with None) from `offset` of the caseload, most urgent
        first: the graded risk tier (the client's own risk if never graded), then the
        longest without contact (never contacted first), then by number; each with its
        saved grades. Ordered and cut in SQL on columns kept in clear, and only the page is
        decrypted (three statements: the page, then its clients and their tags)."""
        c, g = ClientRow, ClientGradeRow
        rows = self._s.execute(
            select(c.id, g.data_enc)
            .outerjoin(g, g.client_id == c.id)
            .where(c.counsellor_id == self.counsellor_id)
            .order_by(
                func.coalesce(g.risk_rank, risk_rank(c.risk)).desc(),
                c.last_contact_at.asc().nulls_first(),
                c.number,
            )
            .offset(offset)
            .limit(limit)
        ).all()
        clients = self._uow.clients_of(self.counsellor_id).many(r[0] for r in rows)
        return [
            (clients[cid], None if token is None else _decoded_grades(self._uow.cipher, token))
            for cid, token in rows
            if cid in clients
        ]

    def contacts_due(
        self, end: datetime, limit: int | None = None
    ) -> tuple[list[tuple[int, Grades]], int]:
        """The graded clients whose next contact is due before or at `end` (overdue ones
        included), most urgent risk first, then the earliest due, then by number: the first
        `limit` (all with None) as (client id, grades), and how many there are in all. One
        statement; only the rows returned are decrypted."""
        g = ClientGradeRow
        # ordered, counted and cut on the small columns alone; the grades joined after
        due = (
            select(
                g.client_id,
                g.risk_rank,
                g.next_contact_due,
                ClientRow.number,
                func.count().over().label("total"),
            )
            .join(ClientRow, ClientRow.id == g.client_id)
            .where(
                ClientRow.counsellor_id == self.counsellor_id,
                g.next_contact_due.is_not(None),
                g.next_contact_due <= aware(end, "end"),
            )
            .order_by(g.risk_rank.desc(), g.next_contact_due, ClientRow.number)
            .limit(limit)
            .subquery()
        )
        rows = self._s.execute(
            select(due.c.client_id, g.data_enc, due.c.total)
            .join(g, g.client_id == due.c.client_id)
            .order_by(due.c.risk_rank.desc(), due.c.next_contact_due, due.c.number)
        ).all()
        return self._grades_rows(rows)

    def reviews_due(self, end: datetime) -> list[tuple[int, Grades]]:
        """The graded clients whose risk-tier review is due before or at `end`, most urgent
        risk first, then the earliest due, then by number, as (client id, grades): all of
        them (the agenda splits off the quiet ones by their reasons, which are encrypted).
        One statement."""
        g = ClientGradeRow
        rows = self._s.execute(
            select(g.client_id, g.data_enc, func.count().over())
            .join(ClientRow, ClientRow.id == g.client_id)
            .where(
                ClientRow.counsellor_id == self.counsellor_id,
                g.review_due_at.is_not(None),
                g.review_due_at <= aware(end, "end"),
            )
            .order_by(g.risk_rank.desc(), g.review_due_at, ClientRow.number)
        ).all()
        return self._grades_rows(rows)[0]

    def _grades_rows(self, rows: Sequence[Any]) -> tuple[list[tuple[int, Grades]], int]:
        cipher = self._uow.cipher
        total = int(rows[0][2]) if rows else 0
        return [(cid, _decoded_grades(cipher, token)) for cid, token, _ in rows], total

    def confirm_review(self, client_id: int, now: datetime, review_due_at: datetime) -> bool:
        """The counsellor confirmed (or lowered, then re-graded) the risk tier: restart the
        review clock (tier_set_at = now) and set the next review. The stored Grades get the
        new review_due_at too, so `grades()` agrees. False if the client is not this
        counsellor's or was never graded."""
        now = aware(now, "now")
        due = aware(review_due_at, "review_due_at")
        row = self._s.scalars(
            select(ClientGradeRow)
            .where(ClientGradeRow.client_id == client_id, self._owned(client_id))
            .execution_options(populate_existing=True)  # save_grades writes with Core
        ).one_or_none()
        if row is None:
            return False
        grades = decode_grades(self._dec(row.data_enc))._replace(review_due_at=due)
        row.data_enc = self._enc(encode_grades(grades))
        row.tier_set_at = now
        row.review_due_at = due
        self._s.flush()
        return True

    def add_alert(self, event: AlertEvent) -> int:
        """Store an alert for this counsellor (status "pending"); returns its id."""
        row = self._need_row(event.client_id)
        item = AlertRow(
            client_id=row.id,
            counsellor_id=self.counsellor_id,
            tier=Risk(event.tier).value,
            previous=None if event.previous is None else Risk(event.previous).value,
            raised_at=aware(event.raised_at, "raised_at"),
            respond_by=aware(event.respond_by, "respond_by"),
            realert_minutes=event.realert_minutes,
            escalate_minutes=event.escalate_minutes,
            realert_at=aware_opt(event.realert_at, "realert_at"),
            escalate_at=aware_opt(event.escalate_at, "escalate_at"),
            reasons_enc=self._enc(encode_reasons(event.reasons)),
            status="pending",
        )
        self._s.add(item)
        self._s.flush()
        return item.id

    def add_alerts(self, events: Sequence[AlertEvent]) -> list[int]:
        """`add_alert` for many (the re-grade's batch): the clients checked in one query, the
        alerts inserted in one executemany; their ids, in the order of `events`."""
        if not events:
            return []
        wanted = {e.client_id for e in events}
        self._check_own(wanted)
        rows = [
            {
                "client_id": e.client_id,
                "counsellor_id": self.counsellor_id,
                "tier": Risk(e.tier).value,
                "previous": None if e.previous is None else Risk(e.previous).value,
                "raised_at": aware(e.raised_at, "raised_at"),
                "respond_by": aware(e.respond_by, "respond_by"),
                "realert_minutes": e.realert_minutes,
                "escalate_minutes": e.escalate_minutes,
                "realert_at": aware_opt(e.realert_at, "realert_at"),
                "escalate_at": aware_opt(e.escalate_at, "escalate_at"),
                "reasons_enc": self._enc(encode_reasons(e.reasons)),
                "status": "pending",
            }
            for e in events
        ]
        # one alert per client in a batch: the ids come back by client (a multi-row INSERT …
        # RETURNING per 1,000 rows, not a statement per alert)
        if len(wanted) != len(events):
            raise ValueError("add_alerts takes one alert per client")
        table = table_of(AlertRow)
        by_client: dict[int, int] = dict(
            self._s.execute(table.insert().returning(table.c.client_id, table.c.id), rows).all()
        )
        return [int(by_client[e.client_id]) for e in events]

    def alerts(self, client_id: int) -> list[Alert]:
        """The client's alerts, latest first (empty for an unknown client)."""
        rows = self._s.scalars(
            select(AlertRow)
            .where(AlertRow.client_id == client_id, self._owned(client_id))
            .order_by(AlertRow.raised_at.desc(), AlertRow.id.desc())
        )
        return [as_alert(r, self._dec) for r in rows]

    def unacknowledged_alerts(self) -> list[Alert]:
        """Every alert of this caseload not yet acknowledged, latest first: one query, however
        many clients (the agenda; was one query per client)."""
        rows = self._s.scalars(
            select(AlertRow)
            .join(ClientRow, ClientRow.id == AlertRow.client_id)
            .where(
                ClientRow.counsellor_id == self.counsellor_id, AlertRow.acknowledged_at.is_(None)
            )
            .order_by(AlertRow.raised_at.desc(), AlertRow.id.desc())
        )
        return [as_alert(r, self._dec) for r in rows]

    def open_alerts(self, limit: int | None = None) -> tuple[list[Alert], int]:
        """The caseload's unacknowledged alerts for the agenda, the highest tier first, then
        the earliest raised (then the latest stored): the first `limit` (all with None), and
        how many there are in all. One statement; only the alerts returned are decrypted."""
        rows = self._s.execute(
            select(AlertRow, func.count().over())
            .join(ClientRow, ClientRow.id == AlertRow.client_id)
            .where(
                ClientRow.counsellor_id == self.counsellor_id, AlertRow.acknowledged_at.is_(None)
            )
            .order_by(risk_rank(AlertRow.tier).desc(), AlertRow.raised_at, AlertRow.id.desc())
            .limit(limit)
        ).all()
        total = int(rows[0][1]) if rows else 0
        return [as_alert(r, self._dec) for r, _ in rows], total

    def alert(self, alert_id: int) -> Alert | None:
        """An alert addressed to this counsellor, or None."""
        row = self._s.scalars(
            select(AlertRow).where(
                AlertRow.id == alert_id, AlertRow.counsellor_id == self.counsellor_id
            )
        ).one_or_none()
        return as_alert(row, self._dec) if row else None

    def acknowledge_alert(self, alert_id: int, now: datetime) -> bool:
        """Acknowledge (status "acknowledged"); True only the first time, False for another
        counsellor's alert. Stops re-alerts and escalation (they require
        acknowledged_at IS NULL)."""
        result = self._s.execute(
            update(AlertRow)
            .where(
                AlertRow.id == alert_id,
                AlertRow.counsellor_id == self.counsellor_id,
                AlertRow.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=aware(now, "now"), status="acknowledged")
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result) == 1

    def _known_own(self) -> set[int]:
        """Clients of this counsellor's already checked in this unit of work by
        `still_as_read`, which keeps them until the commit (PostgreSQL: the rows are locked
        FOR UPDATE; SQLite: the write lock is held): the re-grade's batch writes do not
        select them again, one statement each."""
        known: dict[int, set[int]] = self._s.info.setdefault("caremap_own_clients", {})
        return known.setdefault(self.counsellor_id, set())

    def _check_own(self, ids: set[int]) -> None:
        known = self._known_own()
        ids = ids - known
        if not ids:
            return
        own = set(
            self._s.scalars(
                select(ClientRow.id).where(
                    ClientRow.id.in_(sorted(ids)), ClientRow.counsellor_id == self.counsellor_id
                )
            )
        )
        missing = ids - own
        if missing:
            raise ClientNotFound(f"client {min(missing)} not found")

    def _screening(self, item: ScreeningRow) -> ScreeningResult:
        return ScreeningResult(
            instrument=Instrument(item.instrument),
            answers=tuple(json.loads(self._dec(item.answers_enc))),
            total=item.total,
            band=item.band,
            item9=item.item9,
            at=item.at,
        )
