"""Bulk seeding for benchmarks and load tests (issue 12): many clients' records in a few
statements. Not used by the bot.

Clients themselves are added through `ClientRepo.add` (so whatever the repository does to
a client row — numbering, validation, encryption — seeding does too); their interactions,
needs, screenings and follow-ups go in with one executemany per table, encrypted with the
unit of work's cipher like the repository's own writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from domain.model import PlanKind
from domain.screening import score as score_screening
from storage.base import aware
from storage.orm import ClientRow, InteractionRow, NeedRow, PlanItemRow, ScreeningRow, table_of

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

__all__ = ["SeedClient", "seed_clients"]


@dataclass
class SeedClient:
    name: str
    tags: Sequence[str] = ()
    #: (at, channel, notes, outcome)
    interactions: Sequence[tuple[datetime, str | None, str, str | None]] = ()
    #: (text, explicit)
    needs: Sequence[tuple[str, bool]] = ()
    #: (instrument, answers, at)
    screenings: Sequence[tuple[str, Sequence[int], datetime]] = ()
    #: (text, due_at) short follow-ups
    plans: Sequence[tuple[str, datetime]] = ()
    extra: dict[str, object] = field(default_factory=dict)


def seed_clients(
    uow: UnitOfWork, counsellor_id: int, clients: Sequence[SeedClient], now: datetime
) -> list[int]:
    """Add `clients` to the counsellor's caseload; returns their ids in order."""
    now = aware(now, "now")
    repo = uow.clients_of(counsellor_id)
    s = uow.session
    enc = uow.cipher.encrypt
    ids = [repo.add(c.name, c.tags, None, None, None, now).id for c in clients]
    interactions, needs, screenings, plans = [], [], [], []
    for cid, c in zip(ids, clients, strict=True):
        for at, channel, notes, outcome in c.interactions:
            interactions.append(
                {
                    "client_id": cid,
                    "at": aware(at, "at"),
                    "channel": channel,
                    "notes_enc": enc(notes),
                    "created_at": now,
                    "outcome": outcome,
                }
            )
        for text, explicit in c.needs:
            needs.append(
                {
                    "client_id": cid,
                    "text_enc": enc(text),
                    "explicit": explicit,
                    "source": "seed",
                    "created_at": now,
                }
            )
        for instrument, answers, at in c.screenings:
            r = score_screening(instrument, list(answers))
            screenings.append(
                {
                    "client_id": cid,
                    "instrument": r.instrument.value,
                    "answers_enc": enc(json.dumps(list(r.answers))),
                    # the encrypted column types encrypt these three
                    "total_enc": r.total,
                    "band_enc": r.band,
                    "item9_enc": r.item9,
                    "at": aware(at, "at"),
                }
            )
        for text, due in c.plans:
            plans.append(
                {
                    "client_id": cid,
                    "kind": PlanKind.SHORT.value,
                    "text_enc": enc(text),
                    "due_at": aware(due, "due_at"),
                    "created_at": now,
                }
            )
    for table, rows in (
        (InteractionRow, interactions),
        (NeedRow, needs),
        (ScreeningRow, screenings),
        (PlanItemRow, plans),
    ):
        if rows:
            s.execute(table_of(table).insert(), rows)
    if interactions:  # what add_interaction keeps up to date: the latest reached contact
        latest = (
            select(func.max(InteractionRow.at))
            .where(
                InteractionRow.client_id == ClientRow.id,
                func.coalesce(InteractionRow.outcome, "") != "unreached",
            )
            .scalar_subquery()
        )
        s.execute(
            update(ClientRow)
            .where(ClientRow.counsellor_id == counsellor_id, ClientRow.id.in_(ids))
            .values(last_contact_at=latest)
            .execution_options(synchronize_session=False)
        )
    return ids
