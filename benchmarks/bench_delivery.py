"""Delivery against the fake Bot API with Telegram-like limits (30/s overall, ~1/s per chat).

Side by side in one run, the same workload (300 due reminders over 50 private chats, 6 each):
  A. CareMap's delivery: SendLimiter (25/s overall, 1/s per chat with bursts of 3).
  B. PTB's AIORateLimiter() with its defaults (30/s overall, no per-private-chat limit,
     max_retries=0), as a bot gets it out of the box.
For each: sends/s achieved, 429s received, messages lost. Then the real-time lateness of
reminders due while the tick runs every second (p50/p99). Not a test: run it by hand.

    /work/venv/bin/python benchmarks/bench_delivery.py
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Bot
from telegram.ext import AIORateLimiter, ExtBot

from bot.fakeapi.server import FakeTelegramServer
from bot.render import default_renderer
from domain.model import PlanKind
from reminders.delivery import Deliverer, percentile
from reminders.planner import plan_due_work
from reminders.ratelimit import SendLimiter
from storage import Cipher, Database

warnings.filterwarnings("ignore", category=DeprecationWarning)
logging.getLogger("telegram").setLevel(logging.CRITICAL)

CHATS = 50
PER_CHAT = 6  # more than Telegram's per-chat burst


def clock() -> datetime:
    return datetime.now(UTC)


def seed(db: Database, server: FakeTelegramServer, due: list[datetime]) -> None:
    with db.uow(write=True) as uow:
        for n in range(CHATS):
            tid = 10_000 + n
            server.user(tid, f"C{n}", started=True)
            c = uow.counsellors.add(telegram_id=tid, display_name=f"C{n}", is_admin=False, now=clock())
            uow.counsellors.set_settings(c.id, agenda_at=None)
            repo = uow.clients_of(c.id)
            client = repo.add(name=f"学生{n}", tags=(), sid=None, major=None, grade=None, now=clock())
            for k in range(PER_CHAT):
                repo.add_plan(client.id, kind=PlanKind.SHORT, text=f"item {n}-{k}",
                              due_at=due[(k * CHATS + n) % len(due)], now=clock())


async def burst(name: str, make_bot, limiter: SendLimiter) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+pysqlite:///{Path(tmp) / 'b.db'}", Cipher(Cipher.generate_key()))
        db.migrate()
        async with FakeTelegramServer() as server:
            server.enable_rate_limits()
            seed(db, server, [clock() - timedelta(minutes=1)])
            plan_due_work(db, clock())
            async with make_bot(server) as bot:
                deliverer = Deliverer(db, bot, default_renderer(), clock, limiter, worker=name)
                start = time.perf_counter()
                stats = await deliverer.run()
                # whatever was rescheduled after a 429 goes out on later ticks
                while True:
                    with db.uow(write=False) as uow:
                        pending = uow.outbox.counts()
                    if not pending.get("pending") and not pending.get("sending"):
                        break
                    if time.perf_counter() - start > 120:
                        break
                    await asyncio.sleep(0.5)
                    more = await deliverer.run()
                    stats.sent += more.sent
                    stats.retried += more.retried
                elapsed = time.perf_counter() - start
            refused = sum(1 for c in server.calls if c.method == "sendMessage" and c.status == 429)
            accepted = sum(1 for c in server.calls if c.method == "sendMessage" and c.status == 200)
        db.dispose()
    return {"name": name, "sent": stats.sent, "accepted": accepted, "refused_429": refused,
            "lost": CHATS * PER_CHAT - accepted, "seconds": elapsed, "per_second": accepted / elapsed}


async def lateness() -> dict:
    """Reminders due every 100 ms over 30 s; the tick runs every second, as in production."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+pysqlite:///{Path(tmp) / 'l.db'}", Cipher(Cipher.generate_key()))
        db.migrate()
        async with FakeTelegramServer() as server:
            server.enable_rate_limits()
            t0 = clock() + timedelta(seconds=1)
            due = [t0 + timedelta(milliseconds=100 * i) for i in range(CHATS * PER_CHAT)]
            seed(db, server, due)
            async with Bot(server.token, base_url=server.base_url) as bot:
                deliverer = Deliverer(db, bot, default_renderer(), clock, SendLimiter(), worker="tick")
                late: list[float] = []
                end = due[-1] + timedelta(seconds=30)
                while clock() < end:
                    plan_due_work(db, clock())
                    stats = await deliverer.run()
                    late.extend(stats.lateness)
                    if len(late) >= len(due):
                        break
                    await asyncio.sleep(1.0)
        db.dispose()
    return {"count": len(late), "p50": percentile(late, 0.5), "p99": percentile(late, 0.99),
            "max": max(late) if late else 0.0}


def plain_bot(server):
    return Bot(server.token, base_url=server.base_url)


def ptb_default_bot(server):
    return ExtBot(server.token, base_url=server.base_url, rate_limiter=AIORateLimiter())


async def main() -> None:
    unlimited = SendLimiter(overall_per_second=10_000, per_chat_rate=10_000, per_chat_burst=10_000)
    ours = await burst("caremap", plain_bot, SendLimiter())
    ptb = await burst("ptb-default", ptb_default_bot, unlimited)
    for r in (ours, ptb):
        print(f"{r['name']:>12}: {r['accepted']} accepted in {r['seconds']:.2f} s = {r['per_second']:.1f} sends/s; "
              f"429s {r['refused_429']}; lost {r['lost']}")
    print(f"ratio of 429s, ptb-default / caremap: {ptb['refused_429']} / {ours['refused_429']}")
    late = await lateness()
    print(f"lateness (real time, tick every 1 s, {late['count']} reminders): p50 {late['p50']:.2f} s, "
          f"p99 {late['p99']:.2f} s, max {late['max']:.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
