"""One limit for all processes: `python -m bot` and two `python -m reminders` workers on one
PostgreSQL deliver 500 due reminders against the fake Bot API with Telegram's real limits
(30/s overall, 1/s per chat with bursts of 3, 429 with retry_after beyond them).

Each process alone paces itself below the limits; three pacing alone would send 75/s and
meet hundreds of 429s. Sharing the budget through the database, they must stay under the
limits together: 0 lost, 0 repeated, and only a handful of 429s.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from storage import Cipher, Database
from tests.seeding import labels_delivered, seed_due_followups

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CHATS = 100
PER_CHAT = 5  # 500 due


def _seed(db: Database, server) -> set[str]:
    return set(
        seed_due_followups(
            db,
            server,
            chats=CHATS,
            per_chat=PER_CHAT,
            first_tid=90_000,
            prefix="mp",
            due=datetime.now(UTC) - timedelta(minutes=1),
        ).values()
    )


async def test_bot_and_two_workers_share_one_limit(pg_schema_url, fake_api, tmp_path):
    key = Cipher.generate_key()
    key_text = key.decode() if isinstance(key, bytes) else key
    db = Database(pg_schema_url, Cipher(key))
    db.migrate()
    fake_api.enable_rate_limits()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "CAREMAP_", "DATABASE_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=fake_api.token,
        TELEGRAM_API_BASE_URL=fake_api.base_url,
        DATABASE_URL=pg_schema_url,
        CAREMAP_SECRET_KEY=key_text,
        CAREMAP_TICK_SECONDS="1",
    )
    procs = []
    logs = []
    try:
        for n, module in enumerate(("bot", "reminders", "reminders")):
            log = open(tmp_path / f"{module}-{n}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", module, cwd=tmp_path, env=env, stdout=log, stderr=log
                )
            )
        # all three are up (each asked getMe) before anything is due, so all three compete
        await fake_api.wait_for(
            lambda: True if len(fake_api.calls_to("getMe")) >= 3 else None, 90, "three processes up"
        )
        labels = _seed(db, fake_api)
        started = time.monotonic()
        await fake_api.wait_for(
            lambda: True if set(labels_delivered(fake_api, labels)) == labels else None,
            90,
            "every reminder delivered",
        )
        took = time.monotonic() - started

        def all_marked():
            with db.engine.connect() as conn:
                left = conn.execute(
                    text("select count(*) from outbox where status <> 'sent'")
                ).scalar()
            return True if left == 0 else None

        await fake_api.wait_for(all_marked, 30, "every row marked sent")
        await fake_api.idle(timeout=30, quiet=1.5)  # nothing more is sent after that
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM if proc is not procs[0] else signal.SIGINT)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
        for log in logs:
            log.close()
    with db.engine.connect() as conn:
        workers = Counter(
            r[0].split(":")[2].split("-")[0] + ":" + r[0].split(":")[1]
            for r in conn.execute(text("select claimed_by from outbox where status = 'sent'"))
        )
        payloads = [json.loads(r[0]) for r in conn.execute(text("select payload from outbox"))]
    db.dispose()
    delivered = labels_delivered(fake_api, labels)
    refused = [c for c in fake_api.calls if c.method == "sendMessage" and c.status == 429]
    print(
        f"bot + 2 workers on PostgreSQL: {sum(delivered.values())} sends for {len(labels)} due in {took:.1f} s "
        f"({len(labels) / took:.1f}/s); 429s {len(refused)}; sent by {dict(workers)}"
    )
    assert len(payloads) == CHATS * PER_CHAT
    assert set(delivered) == labels  # 0 lost
    assert set(delivered.values()) == {1}  # 0 repeated
    assert len(refused) < 10, len(refused)
    assert len(workers) >= 2, workers  # the budget really was shared between processes
