"""Which Telegram update the current work belongs to (see `Database.once`)."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any


class Once:
    """The update a piece of work belongs to; claimed by its first write unit of work.
    One object can serve several `Database.once` blocks of the same handling: once the
    claim has committed, later units of work are part of the same, first handling."""

    def __init__(self, update_id: int, now: datetime, fingerprint: str | None = None) -> None:
        self.update_id = update_id
        self.now = now
        self.fingerprint = fingerprint  # what the update was (`UpdateRepo.claim`)
        self.pending: Any = None  # the unit of work whose open transaction holds the claim
        self.committed = False  # the claim is in the database: this handling owns the update

    def owns(self, unit: Any) -> bool:
        return self.committed or self.pending is unit


ONCE: ContextVar[Once | None] = ContextVar("caremap_once", default=None)


class InboxTurn:
    """The inbox row (bot/inbox.py) of the update being handled. The first write unit of
    work that claims the update (`Database.uow` under `Database.once`) marks the row handled
    in the same transaction — the claim already makes a second handling a no-op — and sets
    `marked`, so the inbox need not spend a transaction of its own on it afterwards."""

    def __init__(self, update_id: int) -> None:
        self.update_id = update_id
        self.marked = False


INBOX_TURN: ContextVar[InboxTurn | None] = ContextVar("caremap_inbox_turn", default=None)
