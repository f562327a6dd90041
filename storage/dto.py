"""Small storage-level DTOs that are not domain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
