"""Delivery against the fake Bot API with Telegram-like limits (30/s overall, ~1/s per chat).

Side by side in one run, the same workload (300 due reminders over 50 private chats, 6 each):
  A. CareMap's delivery: SendLimiter (25/s overall, 1/s per chat with bursts of 3).
  B. PTB's AIORateLimiter() with its defaults (30/s overall, no per-private-chat limit,
     max_retries=0), as a bot gets it out of the box.
For each: sends/s achieved, 429s received, messages lost. Then the real-time lateness of
reminders due while the tick runs every second (p50/p99).

Then, as an operator runs it (real `python -m bot` / `python -m reminders` processes):
  C. crisis behind a backlog: 1,000 follow-ups being delivered, then PHQ-9s with item 9 > 0
     from 10 counsellors who have follow-ups of their own queued: the latency of each crisis
     alert (from the /phq9 message to the alert reaching Telegram) and how many follow-ups
     went out before it — one process (the bot alone, SQLite), beside bot + 2 workers
     (PostgreSQL) when CAREMAP_TEST_POSTGRES_URL or DATABASE_URL names a PostgreSQL;
  D. 500 due reminders on PostgreSQL: the bot alone, beside the bot + 2 workers: sends/s,
     429s, lost, repeated.
Not a test: run it by hand (C and D take a few minutes).

    .venv/bin/python benchmarks/bench_delivery.py [--quick]   # --quick: A and B only
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Bot
from telegram.ext import AIORateLimiter, ExtBot

from bot.fakeapi.server import FakeTelegramServer
from domain.model import PlanKind
from reminders.delivery import Deliverer, percentile
from reminders.planner import plan_due_work
from reminders.ratelimit import SendLimiter
from rendering.render import default_renderer
from storage import Cipher, Database, normalize_database_url
from tests.seeding import labels_delivered, scratch_schema, seed_due_followups

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
            c = uow.counsellors.add(
                telegram_id=tid, display_name=f"C{n}", is_admin=False, now=clock()
            )
            uow.counsellors.set_settings(c.id, agenda_at=None)
            repo = uow.clients_of(c.id)
            records = uow.records_of(c.id)
            client = repo.add(
                name=f"学生{n}", tags=(), sid=None, major=None, grade=None, now=clock()
            )
            for k in range(PER_CHAT):
                records.add_plan(
                    client.id,
                    kind=PlanKind.SHORT,
                    text=f"item {n}-{k}",
                    due_at=due[(k * CHATS + n) % len(due)],
                    now=clock(),
                )


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
    return {
        "name": name,
        "sent": stats.sent,
        "accepted": accepted,
        "refused_429": refused,
        "lost": CHATS * PER_CHAT - accepted,
        "seconds": elapsed,
        "per_second": accepted / elapsed,
    }


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
                deliverer = Deliverer(
                    db, bot, default_renderer(), clock, SendLimiter(), worker="tick"
                )
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
    return {
        "count": len(late),
        "p50": percentile(late, 0.5),
        "p99": percentile(late, 0.99),
        "max": max(late) if late else 0.0,
    }


def plain_bot(server):
    return Bot(server.token, base_url=server.base_url)


def ptb_default_bot(server):
    return ExtBot(server.token, base_url=server.base_url, rate_limiter=AIORateLimiter())


# --- C and D: real processes ---------------------------------------------------------------


def _pg_url() -> str | None:
    for name in ("CAREMAP_TEST_POSTGRES_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgresql", "postgres")):
            return normalize_database_url(url)
    return None


def _pg_schema(base: str):
    return scratch_schema(base, prefix="caremap_bench")


def _seed_due(
    db: Database, server: FakeTelegramServer, chats: int, per_chat: int, first_tid: int, prefix: str
) -> set[str]:
    return set(
        seed_due_followups(
            db,
            server,
            chats=chats,
            per_chat=per_chat,
            first_tid=first_tid,
            prefix=prefix,
            due=clock() - timedelta(minutes=1),
            client_prefix=prefix,
        ).values()
    )


@contextlib.asynccontextmanager
async def _processes(server: FakeTelegramServer, db_url: str, key: str, workers: int, tmp: Path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "CAREMAP_", "DATABASE_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_API_BASE_URL=server.base_url,
        DATABASE_URL=db_url,
        CAREMAP_SECRET_KEY=key,
        CAREMAP_TICK_SECONDS="1",
        CAREMAP_ADMIN_IDS="1",
    )
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(root)
    procs = []
    for module in ["bot"] + ["reminders"] * workers:
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                cwd=tmp,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )
    try:
        await server.wait_for(
            lambda: True if len(server.calls_to("getMe")) >= 1 + workers else None,
            120,
            "the processes up",
        )
        yield procs
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()


async def crisis_behind_backlog(db_url: str, workers: int, crises: int = 10) -> dict:
    """C: 1,000 follow-ups under way, then `crises` PHQ-9s with item 9 > 0, one at a time."""
    key = Cipher.generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        if db_url.startswith("sqlite"):
            db_url = f"sqlite:///{Path(tmp) / 'c.db'}"
        db = Database(db_url, Cipher(key))
        db.migrate()
        async with FakeTelegramServer() as server:
            server.enable_rate_limits()
            async with _processes(server, db_url, key.decode(), workers, Path(tmp)):
                backlog = _seed_due(db, server, 100, 10, 40_000, "backlog")
                _seed_due(db, server, crises, 5, 50_000, "危机")  # their own follow-ups queue too
                await server.wait_for(
                    lambda: True if len(labels_delivered(server, backlog)) >= 20 else None,
                    120,
                    "the backlog under way",
                )
                latencies, behind = [], []
                for n in range(crises):
                    user = server.user(50_000 + n, f"C{n}", started=True)
                    before = sum(labels_delivered(server, backlog).values())
                    start = time.monotonic()
                    await user.send(f"/phq9 危机{n} 1 1 1 1 1 1 1 1 2")

                    def alert(tid: int = 50_000 + n):
                        return next(
                            (
                                c
                                for c in server.calls
                                if c.method == "sendMessage"
                                and c.status == 200
                                and c.params.get("chat_id") in (tid, str(tid))
                                and "CRISIS" in str(c.params.get("text", ""))
                            ),
                            None,
                        )

                    call = await server.wait_for(alert, 60, "the crisis alert")
                    latencies.append(call.t - start)
                    behind.append(
                        sum(
                            1
                            for c in server.calls
                            if c.method == "sendMessage"
                            and c.status == 200
                            and "backlog-" in str(c.params.get("text", ""))
                            and c.t < call.t
                        )
                        - before
                    )
        db.dispose()
    return {
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "behind_max": max(behind),
    }


async def processes_burst(db_url: str, workers: int, due: int = 500) -> dict:
    """D: `due` reminders over 100 chats, delivered by the bot and `workers` workers."""
    key = Cipher.generate_key()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(db_url, Cipher(key))
        db.migrate()
        async with FakeTelegramServer() as server:
            server.enable_rate_limits()
            async with _processes(server, db_url, key.decode(), workers, Path(tmp)):
                labels = _seed_due(db, server, 100, due // 100, 30_000, "due")
                start = time.monotonic()
                await server.wait_for(
                    lambda: True if set(labels_delivered(server, labels)) == labels else None,
                    300,
                    "everything delivered",
                )
                elapsed = time.monotonic() - start
                await server.idle(timeout=60, quiet=2.0)
            sent = labels_delivered(server, labels)
            refused = sum(1 for c in server.calls if c.method == "sendMessage" and c.status == 429)
        db.dispose()
    return {
        "per_second": len(labels) / elapsed,
        "seconds": elapsed,
        "refused_429": refused,
        "lost": len(labels - set(sent)),
        "repeated": sum(n - 1 for n in sent.values()),
    }


async def main() -> None:
    unlimited = SendLimiter(overall_per_second=10_000, per_chat_rate=10_000, per_chat_burst=10_000)
    ours = await burst("caremap", plain_bot, SendLimiter())
    ptb = await burst("ptb-default", ptb_default_bot, unlimited)
    for r in (ours, ptb):
        print(
            f"{r['name']:>12}: {r['accepted']} accepted in {r['seconds']:.2f} s = {r['per_second']:.1f} sends/s; "
            f"429s {r['refused_429']}; lost {r['lost']}"
        )
    print(f"ratio of 429s, ptb-default / caremap: {ptb['refused_429']} / {ours['refused_429']}")
    late = await lateness()
    print(
        f"lateness (real time, tick every 1 s, {late['count']} reminders): p50 {late['p50']:.2f} s, "
        f"p99 {late['p99']:.2f} s, max {late['max']:.2f} s"
    )
    if "--quick" in sys.argv:
        return
    pg = _pg_url()
    one = await crisis_behind_backlog("sqlite", workers=0)
    line = (
        f"crisis alert behind 1,000 follow-ups: one process (SQLite) p50 {one['p50']:.2f} s, "
        f"p99 {one['p99']:.2f} s, max {one['max']:.2f} s, ≤ {one['behind_max']} follow-ups before it"
    )
    if pg is None:
        print(line + "; bot + 2 workers: needs CAREMAP_TEST_POSTGRES_URL")
        return
    with _pg_schema(pg) as url:
        many = await crisis_behind_backlog(url, workers=2)
    print(
        line + f" | bot + 2 workers (PostgreSQL) p50 {many['p50']:.2f} s, p99 {many['p99']:.2f} s, "
        f"max {many['max']:.2f} s, ≤ {many['behind_max']} follow-ups before it"
    )
    with _pg_schema(pg) as url:
        alone = await processes_burst(url, workers=0)
    with _pg_schema(pg) as url:
        three = await processes_burst(url, workers=2)
    print(
        f"500 due on PostgreSQL: the bot alone {alone['per_second']:.1f} sends/s, 429s {alone['refused_429']}, "
        f"lost {alone['lost']}, repeated {alone['repeated']} | bot + 2 workers {three['per_second']:.1f} sends/s, "
        f"429s {three['refused_429']}, lost {three['lost']}, repeated {three['repeated']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
