"""Delivery: claim due outbox rows under a lease, send them through the limiter, mark them.

At-least-once: a row is claimed (committed, with a lease the worker renews while it
sends) before it is sent and marked after; a crash in between leaves it "sending", and it
is taken back at once by the next life of the same process (`take_back`) or by anyone
once its lease has run out — so only the messages actually in flight can repeat, and none
is lost. In normal operation nothing is sent twice: the dedupe keys and the claim make
sure of it.

Claims are small — what the limiter can send in the next few seconds — and the queue is
read again, most urgent first, every time room frees up, so an alert never waits behind a
backlog of follow-ups. A new urgent row (a crisis or high alert) is also sent at once by
`send_now`, the bot's short path right after the commit that created it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from domain.schedule import quiet_ends_at
from reminders.compose import Envelope, compose, quiet_now
from reminders.planner import enqueue_escalation
from reminders.ratelimit import SendLimiter
from reminders.worker import left_by_dead_process, new_worker_id
from rendering.render import Renderer
from storage import Database, UnitOfWork

log = logging.getLogger("caremap.reminders")

MAX_INLINE_RETRIES = 3
#: claim what the limiter can send in this many seconds
HORIZON_SECONDS = 2.0
#: never more rows in hand than this, whatever the rate
MAX_WINDOW = 100
#: at most this many rows of one recipient per claim (its chat's burst)
PER_COUNSELLOR = 3
LEASE = timedelta(seconds=30)
#: a row whose lease may have run out (no renewal for this long) is not sent by us
LEASE_MARGIN_SECONDS = 5.0
#: rows composed (read from the database and rendered) at the same time
COMPOSE_CONCURRENCY = 4
#: how often the queue is read again even when nothing finished (new urgent rows)
REREAD_SECONDS = 0.25


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    deferred: int = 0
    failed: int = 0
    cancelled: int = 0
    refused_429: int = 0
    lateness: list[float] = field(
        default_factory=list
    )  # seconds between due and sent (by the clock)

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "retried": self.retried,
            "deferred": self.deferred,
            "failed": self.failed,
            "cancelled": self.cancelled,
        }

    def add(self, other: DeliveryStats) -> None:
        for name in ("sent", "retried", "deferred", "failed", "cancelled", "refused_429"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lateness.extend(other.lateness)


def _retry_after_seconds(exc: RetryAfter) -> float:
    value = exc._retry_after if hasattr(exc, "_retry_after") else exc.retry_after  # noqa: SLF001
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Deliverer:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        renderer: Renderer,
        clock: Callable[[], datetime],
        limiter: SendLimiter | None = None,
        worker: str | None = None,
        crash_after_send: Callable[[Any], bool] | None = None,
        lease: timedelta = LEASE,
        on_sent: Callable[[Any, int], None] | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.renderer = renderer
        self.clock = clock
        self.limiter = limiter or SendLimiter()
        self.worker = worker or new_worker_id()
        self.lease = lease
        self._crash_after_send = crash_after_send  # tests inject a crash between send and mark
        self._on_sent = on_sent  # tests and benchmarks observe each send
        # rows this worker holds → the monotonic time until which their lease surely holds
        self._held: dict[int, float] = {}
        self._on_wire: set[int] = set()  # rows whose send has started (may have reached Telegram)
        self._renewer: asyncio.Task[None] | None = None
        self.window = min(MAX_WINDOW, max(PER_COUNSELLOR, int(self.limiter.rate * HORIZON_SECONDS)))
        # marks get a thread of their own: a sent message is marked at once, never queued
        # behind the composing of the next fifty (that would widen what a crash repeats)
        self._marker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caremap-mark")
        self._composing = asyncio.Semaphore(COMPOSE_CONCURRENCY)

    # --- units of work ----------------------------------------------------------------------

    def _claim(
        self, now: datetime, limit: int, busy: set[int], max_priority: int | None
    ) -> list[Any]:
        with self.db.uow(write=True) as uow:
            if max_priority is not None:
                return uow.outbox.claim(
                    now,
                    limit=limit,
                    worker=self.worker,
                    lease=self.lease,
                    per_counsellor=PER_COUNSELLOR,
                    busy_counsellors=busy,
                    max_priority=max_priority,
                )
            return uow.outbox.claim(
                now,
                limit=limit,
                worker=self.worker,
                lease=self.lease,
                per_counsellor=PER_COUNSELLOR,
                busy_counsellors=busy,
            )

    def _claim_ids(self, ids: list[int], now: datetime) -> list[Any]:
        with self.db.uow(write=True) as uow:
            return uow.outbox.claim_ids(ids, now, worker=self.worker, lease=self.lease)

    def _compose(self, item: Any, now: datetime) -> Envelope | None:
        with self.db.uow(write=False) as uow:
            return compose(uow, item, self.renderer, now)

    def _write(self, fn: Callable[[Any], Any]) -> Any:
        with self.db.uow(write=True) as uow:
            return fn(uow)

    async def _settle(self, fn: Callable[[Any], Any]) -> Any:
        """A write about a row being sent (mark, retry, fail, defer), on the marking thread."""
        return await asyncio.get_running_loop().run_in_executor(self._marker, self._write, fn)

    def close(self) -> None:
        self._marker.shutdown(wait=False)

    # --- leases ---------------------------------------------------------------------------------

    def take_back(self) -> int:
        """At start: give back, as pending, what an earlier life of this process (or another
        dead process on this host) left in "sending". Returns how many rows."""
        with self.db.uow(write=True) as uow:
            count = 0
            for worker in uow.outbox.sending_workers():
                if left_by_dead_process(worker, self.worker):
                    count += uow.outbox.release(worker)
        if count:
            log.warning("took back %d reminders a stopped process left unsent", count)
        return count

    def _hold(self, items: Iterable[Any]) -> None:
        until = time.monotonic() + self.lease.total_seconds() - LEASE_MARGIN_SECONDS
        for item in items:
            self._held[item.id] = until
        if self._held and (self._renewer is None or self._renewer.done()):
            self._renewer = asyncio.create_task(self._renew_loop())

    def _holds(self, item: Any) -> bool:
        return self._held.get(item.id, 0.0) > time.monotonic()

    def _let_go(self, item: Any) -> None:
        self._held.pop(item.id, None)

    async def _renew_loop(self) -> None:
        period = max(0.5, self.lease.total_seconds() / 3)
        while self._held:
            await asyncio.sleep(period)
            if not self._held:
                break
            started = time.monotonic()
            ids = list(self._held)

            def renew(uow: UnitOfWork, ids: list[int] = ids) -> set[int]:
                return uow.outbox.renew(self.worker, self.clock(), lease=self.lease, ids=ids)

            try:
                kept = await asyncio.to_thread(self._write, renew)
            except Exception:  # noqa: BLE001 - the next round tries again; margins cover it
                log.exception("could not renew the delivery lease")
                continue
            until = started + self.lease.total_seconds() - LEASE_MARGIN_SECONDS
            for item_id in ids:
                if item_id in kept and item_id in self._held:
                    self._held[item_id] = until
                elif item_id not in kept:
                    self._held.pop(item_id, None)

    # --- the loop ---------------------------------------------------------------------------------

    async def run(self, max_batches: int | None = None) -> DeliveryStats:
        """Deliver everything due now: small leased claims, most urgent first, read again
        whenever room frees up (and every REREAD_SECONDS for new urgent rows)."""
        stats = DeliveryStats()
        tasks: dict[asyncio.Task[None], Any] = {}
        errors: list[BaseException] = []
        claims = 0
        low_water = max(1, self.window // 4)
        try:
            while True:
                room = self.window - len(tasks)
                more = max_batches is None or claims < max_batches
                if more and (room >= low_water or not tasks):
                    busy = {item.counsellor_id for item in tasks.values()}
                    items = await asyncio.to_thread(self._claim, self.clock(), room, busy, None)
                    claims += 1
                elif tasks:  # full: only something urgent may join
                    busy = {item.counsellor_id for item in tasks.values()}
                    items = await asyncio.to_thread(
                        self._claim, self.clock(), PER_COUNSELLOR, busy, 1
                    )
                else:
                    items = []
                self._hold(items)
                for item in items:
                    tasks[asyncio.create_task(self._deliver(item, stats))] = item
                if not tasks:
                    break
                done, _ = await asyncio.wait(
                    tasks, timeout=REREAD_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    tasks.pop(task)
                    error = task.exception()
                    if error is not None:
                        errors.append(error)
                if errors:
                    break
        except asyncio.CancelledError:  # stopping: what is not on the wire yet goes back
            unsent = [item.id for item in tasks.values() if item.id not in self._on_wire]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            tasks.clear()
            if unsent:
                await asyncio.shield(
                    asyncio.to_thread(
                        self._write, lambda uow: uow.outbox.release(self.worker, unsent)
                    )
                )
            raise
        finally:
            if tasks:  # an error: let the others finish (they were claimed; most are sent)
                results = await asyncio.gather(*tasks, return_exceptions=True)
                errors.extend(r for r in results if isinstance(r, BaseException))
        if errors:
            raise errors[0]
        return stats

    async def send_now(self, outbox_ids: Iterable[int]) -> DeliveryStats:
        """The short path: claim these (new, urgent) rows and send them at once, ahead of
        everything queued. Rows another worker or the tick already took are skipped."""
        stats = DeliveryStats()
        items = await asyncio.to_thread(self._claim_ids, list(outbox_ids), self.clock())
        self._hold(items)
        await asyncio.gather(*(self._deliver(item, stats) for item in items))
        return stats

    async def _deliver(self, item: Any, stats: DeliveryStats) -> None:
        try:
            await self._deliver_one(item, stats)
        finally:
            self._on_wire.discard(item.id)
            self._let_go(item)

    async def _deliver_one(self, item: Any, stats: DeliveryStats) -> None:
        now = self.clock()
        async with self._composing:
            envelope = await asyncio.to_thread(self._compose, item, now)
        if envelope is None:
            await self._fail(item, "obsolete")
            stats.cancelled += 1
            return
        recipient = envelope.recipient
        if not envelope.urgent and recipient is not None and quiet_now(recipient, now):
            until = quiet_ends_at(now, recipient.timezone, recipient.quiet_hours)
            await self._settle(
                lambda uow: uow.outbox.defer(item.id, not_before=until, worker=self.worker)
            )
            stats.deferred += 1
            return
        markup = None
        if envelope.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(text, callback_data=data) for text, data in row]
                    for row in envelope.buttons
                ]
            )
        for attempt in range(MAX_INLINE_RETRIES + 1):
            await self.limiter.acquire(envelope.chat_id, item.priority)
            if not self._holds(item):
                # our lease may have run out (a long stall): another worker may own the row
                log.warning(
                    "reminder %s: lease not renewed in time; left to whoever holds it", item.id
                )
                return
            self._on_wire.add(item.id)
            try:
                message = await self.bot.send_message(
                    envelope.chat_id,
                    envelope.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    disable_web_page_preview=True,
                )
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                await self.limiter.hold(envelope.chat_id, wait)
                stats.retried += 1
                stats.refused_429 += 1
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
                later = self.clock() + timedelta(seconds=min(300, 5 * 2**item.attempts))
                await self._retry(item, later, type(exc).__name__)
                stats.retried += 1
                return
            else:
                if self._on_sent is not None:
                    self._on_sent(item, message.message_id)
                if self._crash_after_send is not None and self._crash_after_send(item):
                    raise SimulatedCrash(item.id)
                sent_at = self.clock()
                await self._settle(
                    functools.partial(
                        self._mark,
                        item=item,
                        message_id=message.message_id,
                        now=sent_at,
                        worker=self.worker,
                    )
                )
                stats.sent += 1
                stats.lateness.append(max(0.0, (sent_at - item.due_at).total_seconds()))
                return

    async def _retry(self, item: Any, not_before: datetime, error: str) -> None:
        def write(uow: UnitOfWork) -> None:
            uow.outbox.retry(item.id, not_before=not_before, error=error, worker=self.worker)

        await self._settle(write)

    async def _fail(self, item: Any, error: str) -> None:
        now = self.clock()

        def write(uow: UnitOfWork) -> None:
            uow.outbox.fail(item.id, error=error, now=now, worker=self.worker)

        await self._settle(write)

    @staticmethod
    def _mark(
        uow: UnitOfWork, item: Any, message_id: int, now: datetime, worker: str | None = None
    ) -> None:
        uow.outbox.mark_sent(item.id, message_id=message_id, now=now, worker=worker)
        if item.kind == "alert":
            uow.scan.update_alert(
                int(item.payload["alert_id"]), status="sent", message_id=message_id, sent_at=now
            )

    async def _forbidden(self, item: Any, stats: DeliveryStats) -> None:
        """The recipient blocked the bot: an alert escalates at once, an escalation goes to
        the other admins instead; other rows fail."""
        now = self.clock()

        def write(uow: UnitOfWork) -> None:
            uow.outbox.fail(item.id, error="403 blocked", now=now, worker=self.worker)
            if item.kind in ("alert", "realert"):
                with_alert = uow.clinical_of(item.counsellor_id).alert(
                    int(item.payload["alert_id"])
                )
                if with_alert is not None and with_alert.escalated_at is None:
                    enqueue_escalation(uow, with_alert, now, "blocked")
            elif item.kind == "escalation":
                # the supervisor (or an admin) blocked the bot: the other admins get it instead
                owner = int(item.payload.get("from", item.counsellor_id))
                with_alert = uow.clinical_of(owner).alert(int(item.payload["alert_id"]))
                unreachable = uow.counsellors.get(item.counsellor_id)
                if (
                    with_alert is not None
                    and with_alert.acknowledged_at is None
                    and unreachable is not None
                ):
                    enqueue_escalation(
                        uow,
                        with_alert,
                        now,
                        str(item.payload.get("reason", "unacknowledged")),
                        unreachable=unreachable,
                    )

        await self._settle(write)
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
