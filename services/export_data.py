"""`/export` as a workbook: everything of the counsellor's caseload, per client, as domain
objects (the bot renders it: headers by language, reasons in words). One read-only unit of
work; every read goes through the counsellor-scoped repositories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.model import Counsellor
from storage.db import Database


@dataclass(frozen=True)
class ClientRecord:
    map: Any  # RelationshipMap with every interaction
    grades: Any
    screenings: list[Any]
    tier_history: list[Any]
    details: Any
    series: list[Any]


def caseload_records(db: Database, actor: Counsellor) -> list[ClientRecord]:
    with db.uow(write=False) as uow:
        repo = uow.clients_of(actor.id)
        records = uow.records_of(actor.id)
        clinical = uow.clinical_of(actor.id)
        details = uow.details_of(actor.id)
        series = uow.series_of(actor.id)
        out = []
        for client in repo.list():
            view = records.relationship_map(client.id, interactions_limit=100_000)
            if view is None:
                continue
            out.append(ClientRecord(
                map=view, grades=clinical.grades(client.id),
                screenings=clinical.screenings(client.id, limit=1000),
                tier_history=clinical.tier_history(client.id, limit=1000),
                details=details.get(client.id), series=series.of_client(client.id),
            ))
        return out
