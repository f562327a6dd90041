"""Safety checks and risk-phrase signals (issue 11), scoped to one counsellor's caseload.

Answers and the phrases found are encrypted at rest; a safety check's result tier and a
signal's outcome are in clear (they drive the tiers and the map). Every read and write goes
through the counsellor: another counsellor's client is simply not found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from domain.model import Risk
from domain.safety import ITEMS, SafetyCheck
from storage.base import Repo, aware, rowcount
from storage.orm import ClientRow, RiskSignalRow, SafetyCheckRow

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

TRIGGERS = ("item9", "crisis", "phrase", "map", "command", "review")
SIGNAL_SOURCES = ("note", "need", "goal")
SIGNAL_OUTCOMES = ("open", "safety_check", "phq9", "dismissed")
DISMISS_REASONS = ("joke", "quote", "handled")


@dataclass(frozen=True)
class StoredCheck:
    id: int
    client_id: int
    at: datetime
    trigger: str
    check: SafetyCheck


@dataclass(frozen=True)
class RiskSignal:
    id: int
    client_id: int
    at: datetime
    source: str
    phrases: tuple[str, ...]
    outcome: str
    reason: str | None
    resolved_at: datetime | None


class CrisisRepo(Repo):
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

    # safety checks

    def add_check(
        self, client_id: int, check: SafetyCheck, trigger: str, now: datetime
    ) -> StoredCheck:
        if not self._owns(client_id):
            raise LookupError("no such client")
        if trigger not in TRIGGERS:
            raise ValueError(f"unknown safety check trigger {trigger!r}")
        if set(check.answers) != set(ITEMS):
            raise ValueError("a stored safety check has every item (None for not asked)")
        at = aware(check.at or now, "at")
        row = SafetyCheckRow(
            client_id=client_id,
            counsellor_id=self.counsellor_id,
            at=at,
            answers_enc=self._enc(
                json.dumps({"answers": check.answers, "deciding": list(check.deciding)})
            ),
            result=Risk(check.result).value,
            trigger=trigger,
        )
        self._s.add(row)
        self._s.flush()
        return self._check(row)

    def checks(self, client_id: int, limit: int = 5) -> list[StoredCheck]:
        """The client's safety checks, latest first (empty for another counsellor's client)."""
        rows = self._s.scalars(
            select(SafetyCheckRow)
            .where(
                SafetyCheckRow.client_id == client_id,
                SafetyCheckRow.counsellor_id == self.counsellor_id,
            )
            .order_by(SafetyCheckRow.at.desc(), SafetyCheckRow.id.desc())
            .limit(limit)
        )
        return [self._check(r) for r in rows]

    def latest_check(self, client_id: int) -> StoredCheck | None:
        found = self.checks(client_id, limit=1)
        return found[0] if found else None

    def _check(self, row: SafetyCheckRow) -> StoredCheck:
        data = json.loads(self._dec(row.answers_enc))
        check = SafetyCheck(
            answers=dict(data["answers"]),
            result=Risk(row.result),
            deciding=tuple(data.get("deciding", ())),
            at=row.at,
        )
        return StoredCheck(
            id=row.id, client_id=row.client_id, at=row.at, trigger=row.trigger, check=check
        )

    # risk-phrase signals

    def add_signal(
        self, client_id: int, source: str, phrases: tuple[str, ...], now: datetime
    ) -> RiskSignal:
        if not self._owns(client_id):
            raise LookupError("no such client")
        if source not in SIGNAL_SOURCES:
            raise ValueError(f"unknown signal source {source!r}")
        row = RiskSignalRow(
            client_id=client_id,
            counsellor_id=self.counsellor_id,
            at=aware(now, "now"),
            source=source,
            phrases_enc=self._enc(json.dumps(list(phrases), ensure_ascii=False)),
            outcome="open",
        )
        self._s.add(row)
        self._s.flush()
        return self._signal(row)

    def signal(self, signal_id: int) -> RiskSignal | None:
        row = self._s.scalars(
            select(RiskSignalRow).where(
                RiskSignalRow.id == signal_id, RiskSignalRow.counsellor_id == self.counsellor_id
            )
        ).one_or_none()
        return self._signal(row) if row is not None else None

    def signals(self, client_id: int, limit: int = 5) -> list[RiskSignal]:
        rows = self._s.scalars(
            select(RiskSignalRow)
            .where(
                RiskSignalRow.client_id == client_id,
                RiskSignalRow.counsellor_id == self.counsellor_id,
            )
            .order_by(RiskSignalRow.at.desc(), RiskSignalRow.id.desc())
            .limit(limit)
        )
        return [self._signal(r) for r in rows]

    def resolve_signal(
        self, signal_id: int, outcome: str, reason: str | None, now: datetime
    ) -> bool:
        """Record what the counsellor made of an open signal; True only the first time."""
        if outcome not in SIGNAL_OUTCOMES or outcome == "open":
            raise ValueError(f"unknown outcome {outcome!r}")
        if reason is not None and reason not in DISMISS_REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        result = self._s.execute(
            update(RiskSignalRow)
            .where(
                RiskSignalRow.id == signal_id,
                RiskSignalRow.counsellor_id == self.counsellor_id,
                RiskSignalRow.outcome == "open",
            )
            .values(outcome=outcome, reason=reason, resolved_at=aware(now, "now"))
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result) == 1

    def _signal(self, row: Any) -> RiskSignal:
        return RiskSignal(
            id=row.id,
            client_id=row.client_id,
            at=row.at,
            source=row.source,
            phrases=tuple(json.loads(self._dec(row.phrases_enc))),
            outcome=row.outcome,
            reason=row.reason,
            resolved_at=row.resolved_at,
        )
