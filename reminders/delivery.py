"""Delivery: claim due outbox rows, send them through the limiter, mark them.

At-least-once for alerts: a row is claimed (committed) before it is sent and marked
after; a crash in between leaves it 'sending', and it is claimed again once stale — so
at most that one message can repeat, and none is lost. In normal operation nothing is
sent twice: the dedupe keys and the claim make sure of it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.render import Renderer
from domain.schedule import quiet_ends_at
from reminders.compose import Envelope, compose, quiet_now
from reminders.planner import enqueue_escalation
from reminders.ratelimit import SendLimiter

log = logging.getLogger("caremap.reminders")

BATCH = 200
MAX_INLINE_RETRIES = 3


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    deferred: int = 0
    failed: int = 0
    cancelled: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds between due and sent (by the clock)

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "deferred": self.deferred,
                "failed": self.failed, "cancelled": self.cancelled}


def _retry_after_seconds(exc: RetryAfter) -> float:
    value = exc._retry_after if hasattr(exc, "_retry_after") else exc.retry_after  # noqa: SLF001
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Deliverer:
    def __init__(
        self, db: Any, bot: Bot, renderer: Renderer, clock: Callable[[], datetime],
        limiter: SendLimiter | None = None, worker: str = "bot",
        crash_after_send: Callable[[Any], bool] | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.renderer = renderer
        self.clock = clock
        self.limiter = limiter or SendLimiter()
        self.worker = worker
        self._crash_after_send = crash_after_send  # tests inject a crash between send and mark

    def _claim(self, now: datetime, limit: int) -> list[Any]:
        with self.db.uow(write=True) as uow:
            return uow.outbox.claim(now, limit=limit, worker=self.worker)

    def _compose(self, item: Any, now: datetime) -> Envelope | None:
        with self.db.uow(write=False) as uow:
            return compose(uow, item, self.renderer, now)

    def _write(self, fn: Callable[[Any], Any]) -> Any:
        with self.db.uow(write=True) as uow:
            return fn(uow)

    async def run(self, max_batches: int = 1000) -> DeliveryStats:
        """Deliver everything due now (in batches, most urgent first)."""
        stats = DeliveryStats()
        for _ in range(max_batches):
            now = self.clock()
            items = await asyncio.to_thread(self._claim, now, BATCH)
            if not items:
                break
            await asyncio.gather(*(self._deliver(item, stats) for item in items))
        return stats

    async def _deliver(self, item: Any, stats: DeliveryStats) -> None:
        now = self.clock()
        envelope = await asyncio.to_thread(self._compose, item, now)
        if envelope is None:
            await asyncio.to_thread(self._write, lambda uow: uow.outbox.fail(item.id, error="obsolete", now=now))
            stats.cancelled += 1
            return
        if not envelope.urgent and quiet_now(envelope.recipient, now):
            until = quiet_ends_at(now, envelope.recipient.timezone, envelope.recipient.quiet_hours)
            await asyncio.to_thread(self._write, lambda uow: uow.outbox.defer(item.id, not_before=until))
            stats.deferred += 1
            return
        markup = None
        if envelope.buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in envelope.buttons]
            )
        for attempt in range(MAX_INLINE_RETRIES + 1):
            await self.limiter.acquire(envelope.chat_id)
            try:
                message = await self.bot.send_message(
                    envelope.chat_id, envelope.text, parse_mode=ParseMode.HTML, reply_markup=markup,
                    disable_web_page_preview=True,
                )
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                self.limiter.hold(envelope.chat_id, wait)
                stats.retried += 1
                if attempt < MAX_INLINE_RETRIES:
                    continue
                await self._retry(item, self.clock() + timedelta(seconds=wait), "429")
                return
            except Forbidden:
                await self._forbidden(item, stats)
                return
            except (TimedOut, NetworkError) as exc:
                if isinstance(exc, BadRequest):
                    await self._fail(item, f"bad request: {str(exc)[:150]}")
                    stats.failed += 1
                    log.error("reminder %s refused by the Bot API: %s", item.id, exc)
                    return
                later = self.clock() + timedelta(seconds=min(300, 5 * 2 ** item.attempts))
                await self._retry(item, later, type(exc).__name__)
                stats.retried += 1
                return
            else:
                if self._crash_after_send is not None and self._crash_after_send(item):
                    raise SimulatedCrash(item.id)
                sent_at = self.clock()
                await asyncio.to_thread(self._write, functools.partial(
                    self._mark, item=item, message_id=message.message_id, now=sent_at))
                stats.sent += 1
                stats.lateness.append(max(0.0, (sent_at - item.due_at).total_seconds()))
                return

    async def _retry(self, item: Any, not_before: datetime, error: str) -> None:
        def write(uow: Any) -> None:
            uow.outbox.retry(item.id, not_before=not_before, error=error)

        await asyncio.to_thread(self._write, write)

    async def _fail(self, item: Any, error: str) -> None:
        now = self.clock()

        def write(uow: Any) -> None:
            uow.outbox.fail(item.id, error=error, now=now)

        await asyncio.to_thread(self._write, write)

    @staticmethod
    def _mark(uow: Any, item: Any, message_id: int, now: datetime) -> None:
        uow.outbox.mark_sent(item.id, message_id=message_id, now=now)
        if item.kind == "alert":
            uow.scan.update_alert(int(item.payload["alert_id"]), status="sent", message_id=message_id, sent_at=now)

    async def _forbidden(self, item: Any, stats: DeliveryStats) -> None:
        """The counsellor blocked the bot: an alert escalates at once; other rows fail."""
        now = self.clock()

        def write(uow: Any) -> None:
            uow.outbox.fail(item.id, error="403 blocked", now=now)
            if item.kind in ("alert", "realert"):
                with_alert = uow.clients_of(item.counsellor_id).alert(int(item.payload["alert_id"]))
                if with_alert is not None and with_alert.escalated_at is None:
                    enqueue_escalation(uow, with_alert, now, "blocked")

        await asyncio.to_thread(self._write, write)
        stats.failed += 1
        log.warning("reminder %s: the recipient has blocked the bot", item.id)


class SimulatedCrash(RuntimeError):
    """Raised by tests between a send and its mark."""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]

