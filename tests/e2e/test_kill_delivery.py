"""kill -9 during a burst of 300 due reminders, 5 times: everything is delivered within 30 s
of the last restart, and only messages actually in flight at a kill (sent, not yet marked)
are repeated — at most 5 per kill.

`python -m bot` runs as a real subprocess (SQLite, tick every second) against the fake Bot
API with Telegram's limits, served from this test process. The burst is killed five times
at random moments (after a random number of new deliveries), so the five trials share one
burst and the test stays short.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from storage import Cipher, Database
from tests.seeding import seed_due_followups

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHATS = 50
PER_CHAT = 6
KILLS = 5


def _seed(db: Database, server) -> dict[int, str]:
    """300 follow-ups already due, 6 for each of 50 counsellors; plan id → its label."""
    return seed_due_followups(
        db,
        server,
        chats=CHATS,
        per_chat=PER_CHAT,
        first_tid=60_000,
        prefix="burst",
        due=datetime.now(UTC) - timedelta(minutes=5),
    )


def _delivered(server, labels: dict[int, str]) -> Counter:
    wanted = set(labels.values())
    counts: Counter = Counter()
    for call in server.calls:
        if call.method == "sendMessage" and call.status == 200:
            text = str(call.params.get("text", ""))
            for word in text.replace("<", " ").replace(">", " ").split():
                if word in wanted:
                    counts[word] += 1
    return counts


def _unsent_rows(db_path) -> dict[int, str]:
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute("select payload, status from outbox where kind = 'plan'").fetchall()
    finally:
        con.close()
    import json

    return {json.loads(p)["plan_id"]: s for p, s in rows if s != "sent"}


async def test_kill_9_during_a_300_push_burst_loses_nothing_and_repeats_only_what_was_in_flight(
    fake_api, tmp_path
):
    fake_api.enable_rate_limits()
    key = Cipher.generate_key()
    db_path = tmp_path / "caremap.db"
    db = Database(f"sqlite:///{db_path}", Cipher(key))
    db.migrate()
    labels = _seed(db, fake_api)
    db.dispose()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "CAREMAP_", "DATABASE_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=fake_api.token,
        TELEGRAM_API_BASE_URL=fake_api.base_url,
        DATABASE_URL=f"sqlite:///{db_path}",
        CAREMAP_SECRET_KEY=key.decode() if isinstance(key, bytes) else key,
        CAREMAP_TICK_SECONDS="1",
    )
    rng = random.Random(20261201)
    in_flight: set[str] = set()
    per_kill: list[int] = []
    lives: list[str] = []

    async def start(n: int):
        log = open(tmp_path / f"bot-{n}.log", "wb")  # noqa: SIM115 - closed below
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        return proc, log

    def count() -> int:
        return sum(_delivered(fake_api, labels).values())

    for trial in range(KILLS):
        started = time.monotonic()
        proc, log = await start(trial)
        before_counts = _delivered(fake_api, labels)
        before = count()
        target = before + rng.randint(3, 15)  # a random moment of the burst
        try:
            await fake_api.wait_for(
                lambda target=target: True if count() >= target else None,
                60,
                f"{target - before} deliveries after start {trial}",
            )
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            log.close()
        # in flight: delivered by Telegram during this life but not marked sent
        delivered = _delivered(fake_api, labels)
        unsent = _unsent_rows(db_path)
        flying = {
            labels[pid] for pid in unsent if delivered[labels[pid]] > before_counts[labels[pid]]
        }
        per_kill.append(len(flying))
        in_flight |= flying
        lives.append(f"{time.monotonic() - started:.1f}s:{count() - before}")

    calls_before = len(fake_api.calls)
    proc, log = await start(KILLS)
    try:
        # "restart" = the new process is up and talks to Telegram (its getMe), so that the
        # time Python takes to import on a loaded machine is not counted as delivery time
        await fake_api.wait_for(
            lambda: True if len(fake_api.calls) > calls_before else None,
            60,
            "the restarted bot's first call",
        )
        restarted = fake_api.calls[calls_before].t
        await fake_api.wait_for(
            lambda: True if set(_delivered(fake_api, labels)) == set(labels.values()) else None,
            30,
            "every reminder delivered after the last restart",
        )
        took = time.monotonic() - restarted
        await fake_api.wait_for(
            lambda: True if not _unsent_rows(db_path) else None, 30, "every row marked sent"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
        log.close()

    delivered = _delivered(fake_api, labels)
    repeated = {label for label, n in delivered.items() if n > 1}
    assert set(delivered) == set(labels.values())  # nothing lost
    assert took < 30
    assert all(n <= 5 for n in per_kill), per_kill
    assert repeated <= in_flight, (
        sorted(repeated - in_flight),
        per_kill,
    )  # only what was in flight
    extra = sum(n - 1 for n in delivered.values())
    assert extra <= sum(per_kill), (extra, per_kill)
    print(
        f"kill -9 ×{KILLS} (life: seconds:deliveries {lives}): in flight per kill {per_kill}, "
        f"repeated sends {extra}, the rest delivered {took:.1f} s after the last restart"
    )
