"""`/export` as a workbook: everything of the counsellor's caseload, per client, as domain
objects (the bot renders it: headers by language, reasons in words). One read-only unit of
work, on one snapshot of the data, that never takes the write lock; every read goes through
the counsellor-scoped reader (storage/export.py), a batch of clients at a time."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from domain.model import Counsellor
from storage import export as export_store
from storage.db import Database
from storage.export import ExportReader


@dataclass(frozen=True)
class ClientRecord:
    map: Any  # RelationshipMap with every interaction
    grades: Any
    screenings: list[Any]
    tier_history: list[Any]
    details: Any
    series: list[Any]


def caseload_batches(db: Database, actor: Counsellor) -> Generator[list[ClientRecord], None, None]:
    """Every client of the counsellor, by number, `EXPORT_BATCH` at a time (storage/export.py:
    a handful of statements per batch, not about fourteen per client). The reader writes
    each batch out before the next is read, so the caseload is never all in memory. One
    read transaction for all batches (a consistent snapshot, no write lock); it ends when
    the iterator is exhausted or closed."""
    with db.uow(write=False, snapshot=True) as uow:
        reader = ExportReader(uow, actor.id)
        for batch in reader.batches(export_store.EXPORT_BATCH):
            yield [
                ClientRecord(
                    map=r.map,
                    grades=r.grades,
                    screenings=r.screenings,
                    tier_history=r.tier_history,
                    details=r.details,
                    series=r.series,
                )
                for r in batch
            ]


def caseload_records(db: Database, actor: Counsellor) -> list[ClientRecord]:
    """The whole caseload as one list (small caseloads, tests); /export streams
    `caseload_batches` instead."""
    return [record for batch in caseload_batches(db, actor) for record in batch]
