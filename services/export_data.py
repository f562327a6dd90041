"""`/export` as a workbook: everything of the counsellor's caseload, per client, as domain
objects (the bot renders it: headers by language, reasons in words). One read-only unit of
work; every read goes through the counsellor-scoped repositories."""

from __future__ import annotations

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


def caseload_records(db: Database, actor: Counsellor) -> list[ClientRecord]:
    """Every client of the counsellor, by number, read in batches (storage/export.py): a
    handful of statements per `EXPORT_BATCH` clients, not about fourteen per client."""
    with db.uow(write=False) as uow:
        reader = ExportReader(uow, actor.id)
        ids = reader.client_ids()
        out = []
        for start in range(0, len(ids), export_store.EXPORT_BATCH):
            for r in reader.records(ids[start : start + export_store.EXPORT_BATCH]):
                out.append(
                    ClientRecord(
                        map=r.map,
                        grades=r.grades,
                        screenings=r.screenings,
                        tier_history=r.tier_history,
                        details=r.details,
                        series=r.series,
                    )
                )
            uow.session.expunge_all()  # a batch's rows are not kept for the next one
        return out
