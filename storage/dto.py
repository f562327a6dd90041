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
    status: str = "pending"  # "pending" (not yet pushed) | "sent" | "acknowledged"
    escalated_at: datetime | None = None  # set once escalated (not a status)
    realert_count: int = 0
    message_id: int | None = None  # the Telegram message of the last push
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message due to one counsellor (`uow.outbox`). `payload` holds ids only.

    status: "pending" → (claim) "sending" → "sent" | "failed"; "pending" again after
    `retry`/`defer`; "cancelled" by `cancel`."""

    id: int
    counsellor_id: int
    client_id: int | None
    kind: str  # plan | cadence | alert | realert | escalation | review | agenda
    priority: int  # 0 = most urgent
    dedupe_key: str
    due_at: datetime
    not_before: datetime
    payload: dict[str, Any]
    status: str
    attempts: int
    claimed_at: datetime | None
    claimed_by: str | None
    sent_at: datetime | None
    message_id: int | None
    last_error: str | None
    created_at: datetime
    failed_at: datetime | None = None
    lease_until: datetime | None = None
