"""The inbox: updates fetched from Telegram, stored before their offset is confirmed.

`store` inserts a batch (an update already there is left alone and not returned), `mark_
handled` clears the payload once the Application has handled the update, `unhandled`
lists what a previous life left, oldest first, and `prune` forgets old handled rows. The
payload is the update's JSON, encrypted like every other free text (it may hold notes).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.base import Repo, aware, rowcount
from storage.orm import InboxRow, table_of


class InboxRepo(Repo):
    def store(
        self, updates: Iterable[tuple[int, str] | tuple[int, str, str | None]], now: datetime
    ) -> list[int]:
        """Insert `(update_id, json[, fingerprint])`; returns the ids that were new, in order.

        An id already here is the same update again (left alone, not returned) — unless both
        carry a fingerprint (`bot.inbox.fingerprint`) and they differ, and the row stored was
        handled: then Telegram has reused the id for another update, which takes the row
        over and is returned as new."""
        table = table_of(InboxRow)
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        received = aware(now, "now")
        fresh: list[int] = []
        for update_id, payload, *rest in updates:
            fingerprint = rest[0] if rest else None
            values = {"payload_enc": self._enc(payload), "received_at": received}
            stmt = insert(table).values(update_id=update_id, fingerprint=fingerprint, **values)
            if fingerprint is None:
                stmt = stmt.on_conflict_do_nothing(index_elements=["update_id"])
            else:
                stmt = stmt.on_conflict_do_update(
                    index_elements=["update_id"],
                    set_={**values, "fingerprint": fingerprint, "handled_at": None},
                    where=table.c.handled_at.is_not(None)
                    & table.c.fingerprint.is_not(None)
                    & (table.c.fingerprint != fingerprint),
                )
            if self._s.execute(stmt.returning(table.c.update_id)).first() is not None:
                fresh.append(update_id)
        return fresh

    def mark_handled(self, update_ids: Iterable[int], now: datetime) -> None:
        ids = list(update_ids)
        if not ids:
            return
        self._s.execute(
            update(InboxRow)
            .where(InboxRow.update_id.in_(ids), InboxRow.handled_at.is_(None))
            .values(handled_at=aware(now, "now"), payload_enc=None)
            .execution_options(synchronize_session=False)
        )

    def unhandled(self, limit: int = 1000) -> list[tuple[int, str]]:
        rows = self._s.execute(
            select(InboxRow.update_id, InboxRow.payload_enc)
            .where(InboxRow.handled_at.is_(None))
            .order_by(InboxRow.update_id)
            .limit(limit)
        ).all()
        return [
            (update_id, self._dec(payload)) for update_id, payload in rows if payload is not None
        ]

    def is_handled(self, update_id: int) -> bool | None:
        """True handled, False waiting, None never seen."""
        row = self._s.get(InboxRow, update_id)
        return None if row is None else row.handled_at is not None

    def prune(self, before: datetime) -> int:
        result = self._s.execute(
            delete(InboxRow)
            .where(InboxRow.handled_at.is_not(None), InboxRow.handled_at < aware(before, "before"))
            .execution_options(synchronize_session=False)
        )
        return rowcount(result)
