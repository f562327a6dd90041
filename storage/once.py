"""Which Telegram update the current work belongs to (see `Database.once`)."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any


class Once:
    """The update a piece of work belongs to; claimed by its first write unit of work."""

    def __init__(self, update_id: int, now: datetime) -> None:
        self.update_id = update_id
        self.now = now
        self.claimed_by: Any = None  # the unit of work whose transaction recorded it


ONCE: ContextVar[Once | None] = ContextVar("caremap_once", default=None)
