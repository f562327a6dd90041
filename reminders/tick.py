"""The reminders tick: find due work in the database and deliver it.

PTB's JobQueue (APScheduler, in memory) only drives this tick every CAREMAP_TICK_SECONDS;
everything due lives in the database, so a restart, a crash or a day of downtime loses
nothing: the first tick after start sends what came due meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from reminders.delivery import Deliverer, DeliveryStats
from reminders.planner import plan_due_work
from reminders.ratelimit import limiter_for
from reminders.worker import new_worker_id
from storage import Database

log = logging.getLogger("caremap.reminders")

_LOCK_KEY = "caremap.reminders.lock"
_DELIVERER_KEY = "caremap.reminders.deliverer"


_LOOP_KEY = "caremap.reminders.loop"
_URGENT_TASKS = "caremap.reminders.urgent_tasks"
_TOOK_BACK_KEY = "caremap.reminders.took_back"


def deliverer_for(application: Any) -> Deliverer:
    deliverer = application.bot_data.get(_DELIVERER_KEY)
    if deliverer is None:
        ctx = application.bot_data["ctx"]
        limiter = application.bot_data.get(LIMITER_KEY) or limiter_for(ctx.db)
        deliverer = Deliverer(
            ctx.db, application.bot, ctx.renderer, ctx.clock, limiter, worker=new_worker_id("bot")
        )
        application.bot_data[_DELIVERER_KEY] = deliverer
    return deliverer


LIMITER_KEY = "caremap.reminders.limiter"


async def take_back_once(application: Any) -> int:
    """What an earlier life of this process left in "sending" is due again at once."""
    if application.bot_data.get(_TOOK_BACK_KEY):
        return 0
    application.bot_data[_TOOK_BACK_KEY] = True
    return await asyncio.to_thread(deliverer_for(application).take_back)


@dataclass
class _Pending:
    """The urgent rows committed while one update is being handled."""

    ids: list[int] = field(default_factory=list)
    done: bool = False


# Set for the duration of one update's handlers; asyncio.to_thread copies it into the
# thread where the service commits, so the listener knows which update it belongs to.
_PENDING: ContextVar[_Pending | None] = ContextVar("caremap_urgent_pending", default=None)
#: at the latest this long after the commit, a new alert goes out even if the handler
#: has not finished (the reply normally goes first, then the alert)
FALLBACK_SECONDS = 1.0
URGENT_SETTLE_SECONDS = 10.0


def install_urgent_path(application: Any, db: Database) -> None:
    """A crisis or high alert committed by a handler (or by re-grading) is sent at once by
    this process, ahead of the queue, instead of at the next tick. The Database announces
    the new urgent outbox rows after the commit (from the handler's worker thread); the
    rows of an update are sent as soon as its handlers are done — so the counsellor reads
    the reply first, then the alert — and at the latest FALLBACK_SECONDS after the commit.
    Rows committed outside an update (re-grading, the tick) are sent at once."""
    from telegram import Update
    from telegram.ext import TypeHandler

    def start(ids: list[int]) -> None:
        task = asyncio.get_running_loop().create_task(_send_now(application, ids))
        tasks = application.bot_data.setdefault(_URGENT_TASKS, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def flush(pending: _Pending) -> None:
        if not pending.done:
            pending.done = True
            if pending.ids:
                start(list(pending.ids))

    async def begin_update(update: Any, context: Any) -> None:
        application.bot_data[_LOOP_KEY] = asyncio.get_running_loop()
        _PENDING.set(_Pending())

    async def end_update(update: Any, context: Any) -> None:
        pending = _PENDING.get()
        _PENDING.set(None)
        if pending is not None:
            flush(pending)

    # group -100 runs before every handler of an update, group 100 after them; both stop nothing
    application.add_handler(TypeHandler(Update, begin_update), group=-100)
    application.add_handler(TypeHandler(Update, end_update), group=100)

    def on_urgent(ids: list[int]) -> None:
        loop = application.bot_data.get(_LOOP_KEY)
        if loop is None or loop.is_closed():
            return  # not running yet: the tick sends them
        pending = _PENDING.get()
        if pending is not None and not pending.done:
            pending.ids.extend(ids)
            loop.call_soon_threadsafe(lambda: loop.call_later(FALLBACK_SECONDS, flush, pending))
            return
        loop.call_soon_threadsafe(start, list(ids))

    application.bot_data["caremap.reminders.unsubscribe_urgent"] = db.on_urgent(on_urgent)


async def urgent_settled(application: Any) -> None:
    """Wait until the alerts being sent at once are sent and marked (tests, shutdown)."""
    while tasks := list(application.bot_data.get(_URGENT_TASKS, ())):
        await asyncio.gather(*tasks, return_exceptions=True)


async def _send_now(application: Any, ids: list[int]) -> DeliveryStats | None:
    try:
        stats = await deliverer_for(application).send_now(ids)
    except Exception:  # noqa: BLE001 - the rows stay due; the tick sends them
        log.exception("sending a new alert at once failed; the tick will retry")
        return None
    if stats.sent:
        log.info("alert sent at once: %s", stats.as_dict())
    return stats


async def run_once(application: Any) -> dict[str, int]:
    """Run one tick now (plan → claim → send). Returns counts for logs and tests."""
    application.bot_data.setdefault(_LOOP_KEY, asyncio.get_running_loop())
    lock = application.bot_data.setdefault(_LOCK_KEY, asyncio.Lock())
    async with lock:  # a slow tick and the next one never overlap
        await take_back_once(application)
        try:  # alerts being sent at once are marked first (bounded: a 429 may hold one)
            await asyncio.wait_for(urgent_settled(application), URGENT_SETTLE_SECONDS)
        except TimeoutError:
            pass
        ctx = application.bot_data["ctx"]
        planned = await asyncio.to_thread(plan_due_work, ctx.db, ctx.clock())
        # repeats and escalations this planning queued are being sent at once (the urgent
        # path); the tick returns when they are done too, and counts them
        urgent = list(application.bot_data.get(_URGENT_TASKS, ()))
        stats = await deliverer_for(application).run()
        if urgent:
            done, _ = await asyncio.wait(urgent, timeout=URGENT_SETTLE_SECONDS)
            for task in done:
                if not task.cancelled() and isinstance(task.result(), DeliveryStats):
                    stats.add(task.result())
        counts = {**{f"planned_{k}": v for k, v in planned.items() if v}, **stats.as_dict()}
        if stats.sent or stats.failed:
            log.info("reminders tick: %s", counts)
        application.bot_data["caremap.reminders.last_lateness"] = stats.lateness
        return counts


async def tick_job(context: Any) -> None:
    try:
        await run_once(context.application)
    except Exception:  # noqa: BLE001 - the next tick tries again; nothing is lost
        log.exception("reminders tick failed; will retry on the next tick")
