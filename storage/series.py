"""Recurring follow-ups (migration 0004): a `plan_series` row and one `plan_items` row per
occurrence (`series_id`, `seq`), so Done, Snooze, the agenda, /map and /undo work on each
occurrence exactly as on a one-off follow-up.

`SeriesRepo` is scoped to one counsellor (every query joins clients.counsellor_id);
`SeriesScan.advance` is the reminders planner's cross-counsellor step that creates the next
occurrence once the current one has come due (the unique (series_id, seq) index makes a
second planner run, or a second process, harmless).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.model import PlanItem, PlanKind, Risk
from domain.recurrence import Recurrence, next_occurrence
from storage.base import Repo, aware, aware_opt, clean_text, rowcount
from storage.mappers import as_plan_item
from storage.orm import (
    ClientDetailsRow,
    ClientGradeRow,
    ClientRow,
    CounsellorRow,
    PlanItemRow,
    PlanSeriesRow,
    table_of,
)

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

END_REASONS = frozenset({"until", "stopped", "tier"})


@dataclass(frozen=True, slots=True)
class PlanSeries:
    id: int
    client_id: int
    text: str
    every: Recurrence
    first_due: datetime
    until_at: datetime | None
    stop_below: Risk | None
    created_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None  # until | stopped | tier

    @property
    def active(self) -> bool:
        return self.ended_at is None


def as_series(row: PlanSeriesRow, dec: Callable[[str], str]) -> PlanSeries:
    return PlanSeries(
        id=row.id,
        client_id=row.client_id,
        text=dec(row.text_enc),
        every=Recurrence.from_code(row.every),
        first_due=row.first_due,
        until_at=row.until_at,
        stop_below=Risk(row.stop_below) if row.stop_below else None,
        created_at=row.created_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
    )


class SeriesRepo(Repo):
    """One counsellor's recurring follow-ups."""

    def __init__(self, uow: UnitOfWork, counsellor_id: int) -> None:
        super().__init__(uow)
        self.counsellor_id = counsellor_id

    def _owned(self) -> ColumnElement[bool]:
        return PlanSeriesRow.client_id.in_(
            select(ClientRow.id).where(ClientRow.counsellor_id == self.counsellor_id)
        )

    def add(
        self,
        client_id: int,
        text: str,
        every: Recurrence,
        first_due: datetime,
        until_at: datetime | None,
        stop_below: Risk | None,
        now: datetime,
    ) -> tuple[PlanSeries, PlanItem]:
        """A new series and its first occurrence (seq 0, due `first_due`)."""
        owner = self._s.scalar(
            select(ClientRow.id).where(
                ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id
            )
        )
        if owner is None:
            raise LookupError(f"client {client_id} not found")
        clean = clean_text(text, 4000, "plan text", required=True)
        row = PlanSeriesRow(
            client_id=client_id,
            text_enc=self._enc(clean),
            every=every.code,
            first_due=aware(first_due, "first_due"),
            until_at=aware_opt(until_at, "until_at"),
            stop_below=None if stop_below is None else Risk(stop_below).value,
            created_at=aware(now, "now"),
        )
        self._s.add(row)
        self._s.flush()
        item = PlanItemRow(
            client_id=client_id,
            kind=PlanKind.SHORT.value,
            text_enc=self._enc(clean),
            due_at=row.first_due,
            created_at=row.created_at,
            series_id=row.id,
            seq=0,
        )
        self._s.add(item)
        self._s.flush()
        return as_series(row, self._dec), as_plan_item(item, self._dec)

    def get(self, series_id: int) -> PlanSeries | None:
        row = self._s.scalars(
            select(PlanSeriesRow)
            .where(PlanSeriesRow.id == series_id, self._owned())
            .execution_options(populate_existing=True)
        ).one_or_none()
        return as_series(row, self._dec) if row else None

    def of_client(self, client_id: int, *, active_only: bool = False) -> list[PlanSeries]:
        stmt = select(PlanSeriesRow).where(PlanSeriesRow.client_id == client_id, self._owned())
        if active_only:
            stmt = stmt.where(PlanSeriesRow.ended_at.is_(None))
        stmt = stmt.order_by(PlanSeriesRow.created_at.desc(), PlanSeriesRow.id.desc())
        return [as_series(r, self._dec) for r in self._s.scalars(stmt)]

    def next_open(self, series_id: int) -> PlanItem | None:
        """The series' latest open occurrence (the one to be reminded of next), if any."""
        row = self._s.scalars(
            select(PlanItemRow)
            .where(
                PlanItemRow.series_id == series_id,
                PlanItemRow.done_at.is_(None),
                PlanItemRow.client_id.in_(
                    select(ClientRow.id).where(ClientRow.counsellor_id == self.counsellor_id)
                ),
            )
            .order_by(PlanItemRow.seq.desc())
            .limit(1)
        ).one_or_none()
        return as_plan_item(row, self._dec) if row else None

    def end(self, series_id: int, now: datetime, reason: str) -> list[int]:
        """End the series (no further occurrences). Open occurrences not yet due are removed
        (they never happened); the ids of the removed ones are returned, so the caller can
        cancel their pending reminders. An already ended series is left as it is ([])."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}")
        now = aware(now, "now")
        done = self._s.execute(
            update(PlanSeriesRow)
            .where(PlanSeriesRow.id == series_id, PlanSeriesRow.ended_at.is_(None), self._owned())
            .values(ended_at=now, end_reason=reason)
            .execution_options(synchronize_session=False)
        )
        if rowcount(done) != 1:
            return []
        ids = list(
            self._s.scalars(
                select(PlanItemRow.id).where(
                    PlanItemRow.series_id == series_id,
                    PlanItemRow.done_at.is_(None),
                    PlanItemRow.due_at > now,
                )
            )
        )
        if ids:
            self._s.execute(
                delete(PlanItemRow)
                .where(PlanItemRow.id.in_(ids))
                .execution_options(synchronize_session=False)
            )
        return ids

    def delete(self, series_id: int) -> bool:
        """/undo of a new series: the series row and all its occurrences."""
        if self.get(series_id) is None:
            return False
        self._s.execute(
            delete(PlanItemRow)
            .where(PlanItemRow.series_id == series_id)
            .execution_options(synchronize_session=False)
        )
        self._s.execute(
            delete(PlanSeriesRow)
            .where(PlanSeriesRow.id == series_id)
            .execution_options(synchronize_session=False)
        )
        return True


@dataclass(frozen=True, slots=True)
class Advance:
    created: PlanItem | None  # the next occurrence, when one was made
    ended: str | None  # "until" | "tier" when the series ended at this step


class SeriesScan(Repo):
    """`uow.series_scan`: the reminders planner's step, across counsellors."""

    def advance(self, item: PlanItem, now: datetime) -> Advance:
        """`item` (an occurrence) has come due: make the next occurrence, unless the series
        has ended, a later occurrence exists already, the end date is passed (ends "until")
        or the client's risk tier dropped below the series' tier (ends "tier")."""
        if item.series_id is None or item.seq is None:
            return Advance(None, None)
        now = aware(now, "now")
        found = self._s.execute(
            select(PlanSeriesRow, CounsellorRow.timezone, ClientGradeRow.risk)
            .join(ClientRow, ClientRow.id == PlanSeriesRow.client_id)
            .join(CounsellorRow, CounsellorRow.id == ClientRow.counsellor_id)
            .outerjoin(ClientGradeRow, ClientGradeRow.client_id == ClientRow.id)
            .where(PlanSeriesRow.id == item.series_id)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if found is None:
            return Advance(None, None)
        series, tz, risk = found
        if series.ended_at is not None:
            return Advance(None, None)
        later = self._s.scalar(
            select(exists().where(PlanItemRow.series_id == series.id, PlanItemRow.seq > item.seq))
        )
        if later:
            return Advance(None, None)
        if series.stop_below and risk and Risk(risk).rank < Risk(series.stop_below).rank:
            self._end(series, now, "tier")
            return Advance(None, "tier")
        nxt = next_occurrence(
            series.first_due,
            Recurrence.from_code(series.every),
            item.seq,
            now,
            ZoneInfo(tz),
            series.until_at,
        )
        if nxt is None:
            self._end(series, now, "until")
            return Advance(None, "until")
        seq, due = nxt
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        new_id = self._s.execute(
            insert(table_of(PlanItemRow))
            .values(
                client_id=series.client_id,
                kind=PlanKind.SHORT.value,
                text_enc=series.text_enc,
                due_at=due,
                created_at=now,
                series_id=series.id,
                seq=seq,
            )
            .on_conflict_do_nothing(index_elements=["series_id", "seq"])
            .returning(PlanItemRow.id)
        ).scalar_one_or_none()
        if new_id is None:
            return Advance(None, None)
        row = self._s.get_one(PlanItemRow, new_id)
        return Advance(as_plan_item(row, self._dec), None)

    def _end(self, series: PlanSeriesRow, now: datetime, reason: str) -> None:
        self._s.execute(
            update(PlanSeriesRow)
            .where(PlanSeriesRow.id == series.id, PlanSeriesRow.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
            .execution_options(synchronize_session=False)
        )

    def series(self, series_id: int) -> PlanSeries | None:
        row = self._s.get(PlanSeriesRow, series_id, populate_existing=True)
        return as_series(row, self._dec) if row else None


# -- client details (migration 0005): roster fields and private-practice value inputs ----


@dataclass(frozen=True, slots=True)
class ClientDetails:
    client_id: int
    dorm: str | None = None
    phone: str | None = None
    payer: str | None = None  # "self" | "insurance"
    pay_capacity: int | None = None  # 1–5


class DetailsRepo(Repo):
    """`uow.details_of(counsellor_id)`: dorm and phone (encrypted), payer and capacity."""

    def __init__(self, uow: UnitOfWork, counsellor_id: int) -> None:
        super().__init__(uow)
        self.counsellor_id = counsellor_id

    def _owns(self, client_id: int) -> bool:
        return (
            self._s.scalar(
                select(ClientRow.id).where(
                    ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id
                )
            )
            is not None
        )

    def get(self, client_id: int) -> ClientDetails | None:
        if not self._owns(client_id):
            return None
        row = self._s.get(ClientDetailsRow, client_id, populate_existing=True)
        if row is None:
            return ClientDetails(client_id)
        return ClientDetails(
            client_id,
            dorm=self._dec(row.dorm_enc) if row.dorm_enc else None,
            phone=self._dec(row.phone_enc) if row.phone_enc else None,
            payer=row.payer,
            pay_capacity=row.pay_capacity,
        )

    def set(self, client_id: int, **values: object) -> ClientDetails:
        """Set any of dorm, phone, payer, pay_capacity (None clears)."""
        unknown = set(values) - {"dorm", "phone", "payer", "pay_capacity"}
        if unknown:
            raise TypeError(f"unknown detail(s) {sorted(unknown)}")
        if not self._owns(client_id):
            raise LookupError(f"client {client_id} not found")
        row = self._s.get(ClientDetailsRow, client_id)
        if row is None:
            row = ClientDetailsRow(client_id=client_id)
            self._s.add(row)
        for key, value in values.items():
            if key in ("dorm", "phone"):
                text = clean_text(value, 64, key)  # type: ignore[call-overload]
                setattr(row, f"{key}_enc", self._enc(text) if text else None)
            elif key == "payer":
                row.payer = clean_text(value, 16, key)  # type: ignore[call-overload]
            else:
                if value is not None and (not isinstance(value, int) or not 1 <= value <= 5):
                    raise ValueError("pay_capacity must be 1–5")
                row.pay_capacity = value  # type: ignore[assignment]
        self._s.flush()
        return self.get(client_id)  # type: ignore[return-value]
