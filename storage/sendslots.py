"""The send budget shared by every process on PostgreSQL (table `send_slots`, migration 0007).

One row per rate-limit key ("all", "chat:<id>") holds the bucket's theoretical arrival
time (GCRA), in epoch seconds of the DATABASE's clock, so processes on several hosts agree.
Reserving a slot is one atomic upsert in its own short transaction; it returns how long to
wait before sending. The bot and every `python -m reminders` worker reserve from the same
rows, so together they never send faster than the limits. (SQLite stays single-process:
the bot keeps its budget in memory.)
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["PgSlots"]

_NOW = "extract(epoch from clock_timestamp())"

_RESERVE = text(
    f"""
    INSERT INTO send_slots AS s (key, tat) VALUES (:key, {_NOW} + :interval)
    ON CONFLICT (key) DO UPDATE SET tat = greatest(s.tat, {_NOW}) + :interval
    RETURNING s.tat AS tat, {_NOW} AS now
    """
)

_HOLD = text(
    f"""
    INSERT INTO send_slots AS s (key, tat) VALUES (:key, {_NOW} + :until)
    ON CONFLICT (key) DO UPDATE SET tat = greatest(s.tat, {_NOW} + :until)
    """
)

_PRUNE = text(f"DELETE FROM send_slots WHERE key <> 'all' AND tat < {_NOW} - 3600")


class PgSlots:
    """`SlotStore` over the `send_slots` table (blocking calls: run them off the loop)."""

    shared = True

    def __init__(self, db: Database) -> None:
        if db.dialect != "postgresql":
            raise ValueError("the shared send budget needs PostgreSQL")
        self._engine = db.engine
        self._calls = itertools.count(1)

    def reserve(self, key: str, interval: float, burst: int) -> float:
        with self._engine.begin() as conn:
            tat, now = conn.execute(_RESERVE, {"key": key[:80], "interval": float(interval)}).one()
            if next(self._calls) % 5000 == 0:
                conn.execute(_PRUNE)
        # this reservation's slot is the previous tat (tat - interval) minus the burst allowance
        return max(0.0, float(tat) - interval - (burst - 1) * interval - float(now))

    def hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(_HOLD, {"key": key[:80], "until": float(seconds) + (burst - 1) * interval})
