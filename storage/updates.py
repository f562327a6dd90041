"""Telegram updates already processed (`uow.updates`): a redelivered update is harmless."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.base import Repo, aware, rowcount
from storage.once import ONCE
from storage.orm import ProcessedUpdateRow, table_of

__all__ = ["UpdateRepo"]


class UpdateRepo(Repo):
    def claim(self, update_id: int, now: datetime, fingerprint: str | None = None) -> bool:
        """Record the update as processed; False if it already was. Do it in the same
        unit of work as the update's effects, so a redelivered update is harmless.

        `fingerprint` says what the update was (`bot.inbox.fingerprint`): an id recorded
        with another fingerprint belongs to another update — Telegram reuses ids (at random
        after a week without updates; a new bot token starts a new sequence) — so it is
        claimed afresh instead of being skipped as "handled before". Without a fingerprint
        on either side the id alone decides, as before."""
        once = ONCE.get()
        if once is not None and once.update_id == update_id and once.owns(self._uow):
            return True  # this handling recorded it (Database.once): ours to use
        table = table_of(ProcessedUpdateRow)
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        stamp = aware(now, "now")
        stmt = insert(table).values(
            update_id=update_id, processed_at=stamp, fingerprint=fingerprint
        )
        if fingerprint is None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["update_id"])
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=["update_id"],
                set_={"processed_at": stamp, "fingerprint": fingerprint},
                where=table.c.fingerprint.is_not(None) & (table.c.fingerprint != fingerprint),
            )
        # RETURNING yields a row only when a row was inserted or taken over (rowcount of
        # an INSERT is not reliable across drivers)
        return self._s.execute(stmt.returning(table.c.update_id)).first() is not None

    def prune(self, before: datetime) -> int:
        result = self._s.execute(
            delete(ProcessedUpdateRow)
            .where(ProcessedUpdateRow.processed_at < aware(before, "before"))
            .execution_options(synchronize_session=False)
        )
        return rowcount(result)
