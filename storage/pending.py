"""Input parked until a button tap (`uow.pending`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from storage.base import Repo, aware, clean_text, rowcount
from storage.dto import Pending
from storage.orm import PendingRow

__all__ = ["PendingRepo"]


class PendingRepo(Repo):
    """Input parked until a button tap. The payload (JSON) is encrypted at rest."""

    def _pending(self, row: Any) -> Pending:
        return Pending(
            id=row.id,
            counsellor_id=row.counsellor_id,
            kind=row.kind,
            payload=json.loads(self._dec(row.payload_enc)),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def add(
        self,
        counsellor_id: int,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> int:
        if not isinstance(payload, dict):
            raise TypeError("payload must be a dict")
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        row = PendingRow(
            counsellor_id=counsellor_id,
            kind=clean_text(kind, 32, "kind", required=True),
            payload_enc=self._enc(data),
            created_at=aware(now, "now"),
            expires_at=aware(expires_at, "expires_at"),
        )
        self._s.add(row)
        self._s.flush()
        return row.id

    def get(self, pending_id: int, counsellor_id: int, now: datetime) -> Pending | None:
        row = self._s.scalars(
            select(PendingRow).where(
                PendingRow.id == pending_id,
                PendingRow.counsellor_id == counsellor_id,
                PendingRow.expires_at > aware(now, "now"),
            )
        ).one_or_none()
        return self._pending(row) if row else None

    def consume(self, pending_id: int, counsellor_id: int, now: datetime) -> Pending | None:
        """Delete-and-return in one statement: a second consume (a double tap) gets None.
        An expired entry is deleted too, and None is returned."""
        now = aware(now, "now")
        row = self._s.execute(
            delete(PendingRow)
            .where(PendingRow.id == pending_id, PendingRow.counsellor_id == counsellor_id)
            .returning(
                PendingRow.id,
                PendingRow.counsellor_id,
                PendingRow.kind,
                PendingRow.payload_enc,
                PendingRow.created_at,
                PendingRow.expires_at,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if row is None or row.expires_at <= now:
            return None
        return self._pending(row)

    def latest(self, counsellor_id: int, kind: str, now: datetime) -> Pending | None:
        row = self._s.scalars(
            select(PendingRow)
            .where(
                PendingRow.counsellor_id == counsellor_id,
                PendingRow.kind == kind,
                PendingRow.expires_at > aware(now, "now"),
            )
            .order_by(PendingRow.created_at.desc(), PendingRow.id.desc())
            .limit(1)
        ).one_or_none()
        return self._pending(row) if row else None

    def discard(self, counsellor_id: int, kind: str) -> int:
        """Drop every parked entry of this kind for the counsellor; returns how many."""
        result = self._s.execute(
            delete(PendingRow)
            .where(PendingRow.counsellor_id == counsellor_id, PendingRow.kind == kind)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result)

    def prune(self, now: datetime) -> int:
        """Delete expired entries; returns how many."""
        result = self._s.execute(
            delete(PendingRow)
            .where(PendingRow.expires_at <= aware(now, "now"))
            .execution_options(synchronize_session=False)
        )
        return rowcount(result)
