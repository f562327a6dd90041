"""The reminders tick: find due work in the database and deliver it.

PTB's JobQueue (APScheduler, in memory) only drives this tick every CAREMAP_TICK_SECONDS;
everything due lives in the database, so a restart, a crash or a day of downtime loses
nothing: the first tick after start sends what came due meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from reminders.delivery import Deliverer
from reminders.planner import plan_due_work
from reminders.ratelimit import SendLimiter

log = logging.getLogger("caremap.reminders")

_LOCK_KEY = "caremap.reminders.lock"
_DELIVERER_KEY = "caremap.reminders.deliverer"


def deliverer_for(application: Any) -> Deliverer:
    deliverer = application.bot_data.get(_DELIVERER_KEY)
    if deliverer is None:
        ctx = application.bot_data["ctx"]
        deliverer = Deliverer(ctx.db, application.bot, ctx.renderer, ctx.clock, SendLimiter(), worker="bot")
        application.bot_data[_DELIVERER_KEY] = deliverer
    return deliverer


async def run_once(application: Any) -> dict[str, int]:
    """Run one tick now (plan → claim → send). Returns counts for logs and tests."""
    lock = application.bot_data.setdefault(_LOCK_KEY, asyncio.Lock())
    async with lock:  # a slow tick and the next one never overlap
        ctx = application.bot_data["ctx"]
        planned = await asyncio.to_thread(plan_due_work, ctx.db, ctx.clock())
        stats = await deliverer_for(application).run()
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
