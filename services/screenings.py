"""Screenings: `/phq9`, `/gad7` — saved at once, or asked one item per button."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import grammar
from domain.model import Client, Counsellor
from domain.rules import RuleBase
from domain.screening import ScreeningResult
from domain.screening import score as score_screening
from domain.tiering import RegradeDecision
from services.clients import (
    PENDING_TTL,
    AlreadyHandled,
    Choice,
    get_owned,
    on_client,
)
from services.errors import NotYours
from services.grading import regrade_client
from services.undo import record_undo
from storage.db import Database
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class ScreeningSaved:
    client: Client
    result: ScreeningResult
    previous: ScreeningResult | None
    grading: RegradeDecision | None


def save_screening(
    uow: UnitOfWork,
    actor: Counsellor,
    client: Client,
    instrument: str,
    answers: Sequence[int],
    now: datetime,
    rules: RuleBase,
) -> ScreeningSaved:
    repo = uow.clinical_of(actor.id)
    earlier = repo.screenings(client.id, instrument, limit=1)
    result = repo.add_screening(client.id, score_screening(instrument, answers, at=now), now)
    record_undo(
        uow,
        actor,
        "screening",
        {
            "client_id": client.id,
            "instrument": str(getattr(instrument, "value", instrument)),
            "at": (result.at or now).isoformat(),
        },
        now,
    )
    grading = regrade_client(uow, actor, client.id, now, rules)
    return ScreeningSaved(
        client=client, result=result, previous=earlier[0] if earlier else None, grading=grading
    )


@dataclass(frozen=True)
class Questionnaire:
    pending_id: int
    client: Client
    instrument: str


def start_questionnaire(
    uow: UnitOfWork, actor: Counsellor, client: Client, instrument: str, now: datetime
) -> Questionnaire:
    pending_id = uow.pending.add(
        counsellor_id=actor.id,
        kind="screen",
        payload={"instrument": instrument, "client_id": client.id},
        now=now,
        expires_at=now + PENDING_TTL,
    )
    return Questionnaire(pending_id=pending_id, client=client, instrument=instrument)


def screening(
    db: Database,
    actor: Counsellor,
    instrument: str,
    args: str,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
) -> ScreeningSaved | Questionnaire | Choice | AlreadyHandled:
    """`/phq9 <client> [answers]`: save at once, or start the questionnaire with buttons."""
    n = 9 if instrument == "phq9" else 7
    spec = grammar.parse_screening(args, n, instrument)

    def then(uow: UnitOfWork, client: Client) -> ScreeningSaved | Questionnaire:
        if spec.answers is None:
            return start_questionnaire(uow, actor, client, instrument, now)
        return save_screening(uow, actor, client, instrument, spec.answers, now, rules)

    return on_client(db, actor, instrument, args, spec.client_ref, now, update_id, then)


def questionnaire_step(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    answers: Sequence[int],
    now: datetime,
    rules: RuleBase,
) -> Questionnaire | ScreeningSaved:
    """A button of the questionnaire was tapped. Saves (exactly once) when complete."""
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "screen":
            raise NotYours()
        instrument = pending.payload["instrument"]
        client = get_owned(uow, actor, int(pending.payload["client_id"]))
        n = 9 if instrument == "phq9" else 7
        if len(answers) < n:
            return Questionnaire(pending_id=pending_id, client=client, instrument=instrument)
        if uow.pending.consume(pending_id, actor.id, now=now) is None:
            raise NotYours()
        return save_screening(uow, actor, client, instrument, answers[:n], now, rules)
