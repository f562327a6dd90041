"""Small storage-level DTOs that are not domain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.model import Risk
    from domain.tiering import Reason


@dataclass(frozen=True, slots=True)
class Invite:
    id: int
    code_hash: str
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: int | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """Input parked until a button tap (e.g. a plain-text note waiting for "which client?")."""

    id: int
    counsellor_id: int
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A stored alert (from `domain.tiering.AlertEvent`); `status` starts as "pending"."""

    id: int
    client_id: int
    counsellor_id: int
    tier: Risk
    previous: Risk | None
    raised_at: datetime
    respond_by: datetime
    realert_minutes: int | None
    escalate_minutes: int | None
    realert_at: datetime | None
    escalate_at: datetime | None
    reasons: tuple[Reason, ...]
    acknowledged_at: datetime | None = None
    status: str = "pending"
