"""`/export`'s reads in sets (issue 12: "`/export` streamed"): everything of a batch of a
counsellor's clients in one statement per table (`EXPORT_BATCH` clients at a time), grouped
in Python — not about fourteen statements per client (70,000 at 5,000 clients). The
batches follow the client number (keyset pagination on the counsellor's unique
`(counsellor_id, number)`: no id list held, the same statements for every batch), so the
export can write each batch out and forget it: memory stays flat whatever the caseload. Each
client's record is what the per-client reads give (`RecordRepo.relationship_map`,
`ClinicalRepo.grades`/`screenings`/`tier_history`, `DetailsRepo.get`,
`SeriesRepo.of_client`): same rows, same order, same objects
(tests/integration/test_export_batches.py holds them side by side)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, bindparam, inspect, select

from domain.model import Interaction, Need, RelationshipMap, StatusChange
from domain.screening import Instrument, ScreeningResult
from domain.tiering import Grades, TierChange
from storage.base import ScopedRepo
from storage.mappers import as_client, as_plan_item, as_referral, as_status_change
from storage.orm import (
    ClientDetailsRow,
    ClientGradeRow,
    ClientRow,
    InteractionRow,
    NeedRow,
    PlanItemRow,
    PlanSeriesRow,
    ReferralRow,
    ScreeningRow,
    StatusChangeRow,
    TierChangeRow,
)
from storage.series import ClientDetails, PlanSeries, as_series
from storage.tiering_codec import decode_grades, decode_reasons

__all__ = ["EXPORT_BATCH", "ExportReader", "ExportedClient"]

#: clients per batch: well under SQLite's and psycopg's parameter limits
EXPORT_BATCH = 500
#: what the export kept per client before (`caseload_records`): every interaction,
#: the latest 1,000 screenings and tier changes
INTERACTIONS_LIMIT, SCREENINGS_LIMIT, TIERS_LIMIT = 100_000, 1000, 1000

_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)


def _plain(row: Any) -> Any:
    """A select of the model's columns by attribute name: rows come back as plain tuples
    (decrypted by the column types where they are Encrypted*), not ORM instances (the
    identity map and instance state cost more than the rest of the read)."""
    return select(*(getattr(row, attr.key) for attr in inspect(row).column_attrs))


def _child(row: Any, *order: Any) -> Any:
    return _plain(row).where(row.client_id.in_(_IDS)).order_by(row.client_id, *order)


# the next batch of the caseload, by number (keyset: after the last number of the batch before)
_Q_PAGE = (
    select(ClientRow)
    .where(ClientRow.counsellor_id == bindparam("c"), ClientRow.number > bindparam("after"))
    .order_by(ClientRow.number)
    .limit(bindparam("n"))
)
_Q_NEEDS = _child(NeedRow, NeedRow.created_at.desc(), NeedRow.id.desc())
_Q_INTERACTIONS = _child(InteractionRow, InteractionRow.at.desc(), InteractionRow.id.desc())
_Q_REFERRALS = _child(ReferralRow, ReferralRow.created_at.desc(), ReferralRow.id.desc())
_Q_PLAN = _child(PlanItemRow, PlanItemRow.created_at.desc(), PlanItemRow.id.desc())
_Q_HISTORY = _child(StatusChangeRow, StatusChangeRow.at.desc(), StatusChangeRow.id.desc())
_Q_GRADES = select(ClientGradeRow.client_id, ClientGradeRow.data_enc).where(
    ClientGradeRow.client_id.in_(_IDS)
)
_Q_SCREENINGS = _child(ScreeningRow, ScreeningRow.at.desc(), ScreeningRow.id.desc())
_Q_TIERS = _child(TierChangeRow, TierChangeRow.at.desc(), TierChangeRow.id.desc())
_Q_DETAILS = _plain(ClientDetailsRow).where(ClientDetailsRow.client_id.in_(_IDS))
_Q_SERIES = _child(PlanSeriesRow, PlanSeriesRow.created_at.desc(), PlanSeriesRow.id.desc())


@dataclass(frozen=True)
class ExportedClient:
    map: RelationshipMap  # every interaction
    grades: Grades | None
    screenings: list[ScreeningResult]
    tier_history: list[TierChange]
    details: ClientDetails
    series: list[PlanSeries]


class ExportReader(ScopedRepo):
    """`uow`-bound reader of one counsellor's caseload for `/export`."""

    def batches(self, size: int | None = None) -> Iterator[list[ExportedClient]]:
        """The whole caseload by number, `size` (default `EXPORT_BATCH`) clients at a time:
        per batch one statement for the clients (plus their tags) and one per table. The
        rows of a batch leave the session before the next one is read. Run it in one read
        unit of work with `snapshot=True`, so the batches are of one state of the data."""
        size = EXPORT_BATCH if size is None else size
        if not 0 < size <= EXPORT_BATCH:
            raise ValueError(f"from 1 to {EXPORT_BATCH} clients per batch")
        after = 0
        while True:
            rows = list(
                self._s.scalars(_Q_PAGE, {"c": self.counsellor_id, "after": after, "n": size})
            )
            if not rows:
                return
            yield self._records(rows)
            after = rows[-1].number
            self._s.expunge_all()  # a batch's rows are not kept for the next one
            if len(rows) < size:
                return

    def _records(self, rows: Sequence[ClientRow]) -> list[ExportedClient]:
        """The records of these clients (a batch), in their order."""
        s, dec = self._s, self._dec
        if not rows:
            return []
        params = {"ids": sorted(row.id for row in rows)}

        def grouped(query: Any, convert: Callable[[Any], Any]) -> dict[int, list[Any]]:
            out: dict[int, list[Any]] = defaultdict(list)
            for row in s.execute(query, params):
                out[row.client_id].append(convert(row))
            return out

        needs = grouped(
            _Q_NEEDS,
            lambda n: Need(
                id=n.id,
                client_id=n.client_id,
                text=dec(n.text_enc),
                explicit=n.explicit,
                source=n.source,
                created_at=n.created_at,
            ),
        )
        interactions = grouped(
            _Q_INTERACTIONS,
            lambda i: Interaction(
                id=i.id,
                client_id=i.client_id,
                at=i.at,
                channel=i.channel,
                notes=dec(i.notes_enc),
                created_at=i.created_at,
                outcome=i.outcome,
            ),
        )
        referrals = grouped(_Q_REFERRALS, lambda r: as_referral(r, dec))
        plan = grouped(_Q_PLAN, lambda p: as_plan_item(p, dec))
        history: dict[int, list[StatusChange]] = grouped(_Q_HISTORY, as_status_change)
        grades = {cid: decode_grades(dec(data)) for cid, data in s.execute(_Q_GRADES, params)}
        screenings = grouped(
            _Q_SCREENINGS,
            lambda r: ScreeningResult(
                instrument=Instrument(r.instrument),
                answers=tuple(json.loads(dec(r.answers_enc))),
                total=r.total,
                band=r.band,
                item9=r.item9,
                at=r.at,
            ),
        )
        tiers = grouped(
            _Q_TIERS,
            lambda r: TierChange(
                client_id=r.client_id,
                dimension=r.dimension,
                old=r.old,
                new=r.new,
                at=r.at,
                reasons=decode_reasons(dec(r.reasons_enc)),
            ),
        )
        details = {
            r.client_id: ClientDetails(
                r.client_id,
                dorm=dec(r.dorm_enc) if r.dorm_enc else None,
                phone=dec(r.phone_enc) if r.phone_enc else None,
                payer=r.payer,
                pay_capacity=r.pay_capacity,
            )
            for r in s.execute(_Q_DETAILS, params)
        }
        series = grouped(_Q_SERIES, lambda r: as_series(r, dec))
        out = []
        for row in rows:
            cid = row.id
            seen = interactions.get(cid, [])
            out.append(
                ExportedClient(
                    map=RelationshipMap(
                        client=as_client(row),
                        needs=needs.get(cid, []),
                        interactions=seen[:INTERACTIONS_LIMIT],
                        interaction_count=len(seen),
                        referrals=referrals.get(cid, []),
                        plan=plan.get(cid, []),
                        history=history.get(cid, []),
                    ),
                    grades=grades.get(cid),
                    screenings=screenings.get(cid, [])[:SCREENINGS_LIMIT],
                    tier_history=tiers.get(cid, [])[:TIERS_LIMIT],
                    details=details.get(cid, ClientDetails(cid)),
                    series=series.get(cid, []),
                )
            )
        return out
