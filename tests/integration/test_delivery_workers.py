"""Two delivery workers on PostgreSQL, 1,000 due reminders: each delivered exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot

from domain.model import PlanKind
from reminders.delivery import Deliverer
from reminders.planner import plan_due_work
from reminders.ratelimit import SendLimiter
from rendering.render import default_renderer
from storage import Cipher, Database

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
CHATS = 100
PER_CHAT = 10


async def test_two_workers_deliver_1000_reminders_exactly_once(pg_schema_url, fake_api):
    db = Database(pg_schema_url, Cipher(Cipher.generate_key()))
    db.migrate()
    users = {}
    with db.uow(write=True) as uow:
        for n in range(CHATS):
            tid = 70_000 + n
            users[tid] = fake_api.user(tid, f"C{n}", started=True)
            counsellor = uow.counsellors.add(
                telegram_id=tid, display_name=f"C{n}", is_admin=False, now=NOW
            )
            uow.counsellors.set_settings(counsellor.id, agenda_at=None)
            repo = uow.clients_of(counsellor.id)
            records = uow.records_of(counsellor.id)
            client = repo.add(name=f"学生{n}", tags=(), sid=None, major=None, grade=None, now=NOW)
            for k in range(PER_CHAT):
                records.add_plan(
                    client.id,
                    kind=PlanKind.SHORT,
                    text=f"item {n}-{k}",
                    due_at=NOW + timedelta(minutes=k),
                    now=NOW,
                )
    later = NOW + timedelta(hours=1)
    planned = plan_due_work(db, later)
    assert planned["plan"] == CHATS * PER_CHAT

    moment = [later]

    def clock() -> datetime:
        return moment[0]

    # Two workers, two database engines, two Bot clients: as two processes would be.
    db2 = Database(pg_schema_url, db.cipher)
    fast = dict(overall_per_second=2000, per_chat_rate=500, per_chat_burst=50)
    async with (
        Bot(fake_api.token, base_url=fake_api.base_url) as bot1,
        Bot(fake_api.token, base_url=fake_api.base_url) as bot2,
    ):
        w1 = Deliverer(db, bot1, default_renderer(), clock, SendLimiter(**fast), worker="w1")
        w2 = Deliverer(db2, bot2, default_renderer(), clock, SendLimiter(**fast), worker="w2")
        # A message refused with 429 more often than the inline retries allow waits for its
        # retry_after, as it would for the next tick: move the clock on, as the ticks would.
        sent1 = sent2 = 0
        for _ in range(20):
            s1, s2 = await asyncio.gather(w1.run(), w2.run())
            sent1, sent2 = sent1 + s1.sent, sent2 + s2.sent
            if sent1 + sent2 >= CHATS * PER_CHAT:
                break
            moment[0] += timedelta(minutes=1)
    assert sent1 + sent2 == CHATS * PER_CHAT
    assert sent1 > 0 and sent2 > 0, (sent1, sent2)
    delivered = Counter()
    for user in users.values():
        for message in user.messages:
            delivered[message.text.split("\n")[1]] += 1
    assert len(delivered) == CHATS * PER_CHAT
    assert set(delivered.values()) == {1}
    with db.uow(write=False) as uow:
        assert uow.outbox.counts()["sent"] == CHATS * PER_CHAT
        workers = Counter(item.claimed_by for item in uow.outbox.list(status="sent"))
    assert set(workers) == {"w1", "w2"}
    db2.dispose()
    db.dispose()
