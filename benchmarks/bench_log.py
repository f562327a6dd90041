"""`/log` end to end (issue 12, "Speed"): CareMap beside a bare python-telegram-bot echo
bot, in one run, on the same fake Bot API (bot.fakeapi).

- **CareMap**: the real Application from `bot.app.build_application`, served as
  `python -m bot` serves it (`bot.inbox.serving`: getUpdates → inbox row → handler → reply),
  on a fresh SQLite file (WAL, migrated), with `CHATS` counsellors of 20 clients each
  seeded through the storage layer. Each `/log <client> <notes> via=微信 trust=4` writes an
  interaction and re-grades the client, as in use.
- **echo**: `ApplicationBuilder()…build()` + one `CommandHandler("log")` that replies the
  text, polled by PTB's own Updater.

Workload, the same for both: `CHATS` chats at once (closed loop), each sending `/log`, waiting
for the reply, sending the next; latency = from the user's message reaching the fake to the
reply reaching it. Rate = replies / wall time. Both bots process updates one at a time
(CareMap's inbox worker; PTB's default `concurrent_updates=False`).

The send limiter: CareMap's replies draw on its `SendLimiter` (25/s overall at Telegram's
pace; replies are not held by the per-chat pace). Left as shipped it would cap the rate at 25/s
and measure Telegram's limit, not the bot. So BOTH bots run with the same limiter object in the
path (`ReplyRateLimiter(SendLimiter(overall 100,000/s, per chat 100,000/s))`): its cost is
counted, its pacing is not. The fake enforces no rate limits (its default).

With `--bound`, a third bot in each round: **caremap, database cost removed** — the same
Application, inbox loop, handlers, templates and replies, but the inbox's store and mark, the
counsellor lookup and the `/log` use case answer from results captured once (nothing is
written). Not a usable bot: the rate CareMap would reach if its database work cost nothing,
which bounds what any storage layer can bring the ratio to.

    nice -n 5 .venv/bin/python benchmarks/bench_log.py [--chats 8] [--per-chat 40] [--rounds 1]
                                                       [--bound]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes  # noqa: E402

from bootstrap import assemble  # noqa: E402
from bootstrap.database import open_database  # noqa: E402
from bootstrap.settings import Settings  # noqa: E402
from bot.app import build_application  # noqa: E402
from bot.fakeapi.server import FakeTelegramServer  # noqa: E402
from bot.inbox import Inbox, serving  # noqa: E402
from reminders.ratelimit import ReplyRateLimiter, SendLimiter  # noqa: E402
from reminders.tick import LIMITER_KEY  # noqa: E402
from services import invites, logs  # noqa: E402
from tests.e2e.harness import running_bot  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)
logging.getLogger("telegram").setLevel(logging.CRITICAL)
logging.getLogger("httpx").setLevel(logging.WARNING)

CPU: list[float] = []  # process CPU seconds of each measured phase (this process: bot + fake)
FIRST_ID = 50_000
CLIENTS_EACH = 20


def bench_limiter() -> SendLimiter:
    return SendLimiter(overall_per_second=100_000, per_chat_rate=100_000, per_chat_burst=100)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def drive(
    server: FakeTelegramServer, chats: int, per_chat: int, warmup: int
) -> tuple[float, list[float]]:
    """Each chat: `/log`, wait for the reply, the next. Returns (wall seconds, latencies)."""
    users = [
        server.user(FIRST_ID + k, f"C{k}", language_code="zh", started=True) for k in range(chats)
    ]
    latencies: list[float] = []

    async def one(user, k: int, n: int, record: bool) -> None:
        text = f"/log 学生{n % CLIENTS_EACH} 谈了近况，第{n}次，约了下次 via=微信 trust=4"
        t = time.perf_counter()
        await user.send(text)
        await user.expect_message(timeout=60)
        if record:
            latencies.append(time.perf_counter() - t)

    async def chat(user, k: int) -> None:
        for n in range(per_chat):
            await one(user, k, n + warmup, True)

    # warm up (connections, template cache, first-statement compilation), not counted
    await asyncio.gather(*(one(u, k, n, False) for k, u in enumerate(users) for n in range(1)))
    for n in range(1, warmup):
        await asyncio.gather(*(one(u, k, n, False) for k, u in enumerate(users)))
    t, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(chat(u, k) for k, u in enumerate(users)))
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - t, latencies


def seed(db, chats: int) -> None:
    now = datetime.now(UTC) - timedelta(days=30)
    with db.uow(write=True) as uow:
        for k in range(chats):
            c = uow.counsellors.add(FIRST_ID + k, f"C{k}", False, now)
            uow.counsellors.set_settings(c.id, agenda_at=None)
            repo = uow.clients_of(c.id)
            for n in range(CLIENTS_EACH):
                repo.add(name=f"学生{n}", tags=(), sid=None, major=None, grade=None, now=now)


@contextlib.contextmanager
def database_free():
    """The `--bound` bot: the database work of a `/log` update answers from a result captured
    at its first call (per counsellor), so everything else runs as in use."""
    real_log, real_find = logs.log_conversation, invites.find_counsellor
    logged: dict[int, object] = {}
    found: dict[int, Any] = {}

    def log_conversation(db, actor, args, now, update_id, **kw):
        if actor.id not in logged:
            logged[actor.id] = real_log(db, actor, args, now, update_id, **kw)
        return logged[actor.id]

    def find_counsellor(db, telegram_id):
        if telegram_id not in found:
            found[telegram_id] = real_find(db, telegram_id)
        return found[telegram_id]

    def remember_telegram_language(db, actor, lang):
        found[actor.telegram_id] = dataclasses.replace(actor, telegram_language=lang)
        return found[actor.telegram_id]

    with contextlib.ExitStack() as stack:
        stack.enter_context(patch.object(logs, "log_conversation", log_conversation))
        stack.enter_context(patch.object(invites, "find_counsellor", find_counsellor))
        stack.enter_context(
            patch.object(invites, "remember_telegram_language", remember_telegram_language)
        )
        stack.enter_context(
            patch.object(Inbox, "_store", lambda self, batch: [row[0] for row in batch])
        )
        stack.enter_context(patch.object(Inbox, "_mark", lambda self, update_id: None))
        yield


async def caremap(
    chats: int, per_chat: int, warmup: int, trace: bool = False, bound: bool = False
) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory(prefix="caremap-bench-log-") as tmp:
        async with FakeTelegramServer() as server:
            settings = Settings(
                token=server.token,
                api_base_url=server.base_url,
                database_url=f"sqlite+pysqlite:///{Path(tmp) / 'caremap.db'}",
                admin_ids=frozenset({1}),
                timezone="Asia/Shanghai",
            )
            db = open_database(settings)
            try:
                seed(db, chats)
                counts = {"statements": 0, "commits": 0}
                statements: list[str] = []

                def _stmt(_conn, _cur, sql, *_a) -> None:
                    counts["statements"] += 1
                    if trace:
                        statements.append(sql.split("\n")[0][:110])

                def _commit(_conn) -> None:
                    counts["commits"] += 1

                event.listen(db.engine, "before_cursor_execute", _stmt)
                event.listen(db.engine, "commit", _commit)
                clock = lambda: datetime.now(UTC)  # noqa: E731
                app = build_application(assemble(settings, db, clock=clock), jobs=False)
                limiter = bench_limiter()
                app.bot.rate_limiter.limiter = limiter
                app.bot_data[LIMITER_KEY] = limiter
                async with serving(app, db, clock, poll_timeout=1.0):
                    with database_free() if bound else contextlib.nullcontext():
                        wall, lat = await drive(server, chats, per_chat, warmup)
                    reply = server.user(FIRST_ID).last
                    if reply is None or "学生" not in (reply.text or ""):
                        raise SystemExit(f"unexpected reply to /log: {reply and reply.text!r}")
                    if bound:
                        return wall, lat
                    n = chats * (per_chat + warmup)
                    print(
                        f"caremap: {counts['statements'] / n:.1f} SQL statements and "
                        f"{counts['commits'] / n:.1f} commits per /log (incl. the inbox's)",
                        flush=True,
                    )
                    if trace:
                        for sql in statements[-len(statements) // n :]:
                            print("   ", sql)
                    return wall, lat
            finally:
                db.dispose()


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(update.effective_message.text)


async def echo(chats: int, per_chat: int, warmup: int) -> tuple[float, list[float]]:
    async with FakeTelegramServer() as server:
        app = (
            ApplicationBuilder()
            .token(server.token)
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .rate_limiter(ReplyRateLimiter(bench_limiter()))
            .build()
        )
        app.add_handler(CommandHandler("log", _echo))
        async with running_bot(app, server):
            return await drive(server, chats, per_chat, warmup)


def summary(name: str, wall: float, lat: list[float]) -> dict[str, float]:
    rate = len(lat) / wall
    row = {
        "rate": rate,
        "p50": percentile(lat, 0.5) * 1000,
        "p95": percentile(lat, 0.95) * 1000,
        "mean": statistics.fmean(lat) * 1000,
    }
    row["cpu"] = CPU[-1] / len(lat) * 1000
    print(
        f"{name:8s} {len(lat):5d} updates in {wall:6.2f} s: {rate:7.1f} updates/s  "
        f"p50 {row['p50']:6.1f} ms  p95 {row['p95']:6.1f} ms  CPU {row['cpu']:5.1f} ms/update "
        "(bot + fake)",
        flush=True,
    )
    return row


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"/log, {args.chats} chats at once × {args.per_chat} each (+{args.warmup} warm-up), "
        f"{args.rounds} round(s), alternating"
    )
    ratios, costs, bounds = [], [], []
    for r in range(args.rounds):
        e = summary("echo", *await echo(args.chats, args.per_chat, args.warmup))
        c = summary("caremap", *await caremap(args.chats, args.per_chat, args.warmup, args.trace))
        ratios.append(c["rate"] / e["rate"])
        costs.append(e["cpu"] / c["cpu"])
        print(
            f"round {r + 1}: ratio caremap/echo = {ratios[-1]:.2f}  "
            f"(p50 {c['p50']:.1f} vs {e['p50']:.1f} ms; CPU per update echo/caremap {costs[-1]:.2f})",
            flush=True,
        )
        if args.bound:
            b = summary("no-db", *await caremap(args.chats, args.per_chat, args.warmup, bound=True))
            bounds.append(b["rate"] / e["rate"])
            print(f"round {r + 1}: ratio caremap without its database/echo = {bounds[-1]:.2f}")
    print(
        f"ratio (caremap rate / echo rate): {statistics.median(ratios):.2f}"
        + (f" median of {[round(x, 2) for x in ratios]}" if len(ratios) > 1 else "")
        + "  (floor: 0.5)"
    )
    if bounds:
        print(
            f"bound (caremap with its database cost removed / echo): {statistics.median(bounds):.2f}"
            + (f" median of {[round(x, 2) for x in bounds]}" if len(bounds) > 1 else "")
            + "  (what any storage layer could reach at best)"
        )
    # On a shared machine the rates follow how much CPU each phase happened to get; the CPU
    # spent per update does not, and bounds the rate ratio on an idle machine.
    print(
        f"CPU-cost ratio (echo CPU per update / caremap CPU per update): {statistics.median(costs):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=8)
    parser.add_argument("--per-chat", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--trace", action="store_true", help="print one /log's SQL statements")
    parser.add_argument(
        "--bound",
        action="store_true",
        help="also run caremap with its database cost removed (an upper bound, not a bot)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
