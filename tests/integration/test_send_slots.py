"""One send budget for all processes: the GCRA slots in `send_slots` (PostgreSQL), and the
same arithmetic in memory (SQLite, one process)."""

from __future__ import annotations

import asyncio
import time

import pytest

from reminders.ratelimit import MemorySlots, SendLimiter, limiter_for
from storage import Cipher, Database
from storage.sendslots import PgSlots


def _check_gcra(a, b) -> None:
    """Two stores (two processes) over one budget: a burst of 3, then one every 10 s (long
    enough that the time the calls themselves take does not matter)."""
    waits = [a.reserve("chat:7", 10, 3), b.reserve("chat:7", 10, 3), a.reserve("chat:7", 10, 3)]
    assert waits == [0.0, 0.0, 0.0], waits  # the burst
    fourth, fifth = b.reserve("chat:7", 10, 3), a.reserve("chat:7", 10, 3)
    assert 9 < fourth <= 10 and 19 < fifth <= 20, (fourth, fifth)
    assert a.reserve("chat:8", 10, 3) == 0.0  # another chat has its own budget
    a.hold("chat:8", 50.0, 10, 3)  # a 429 seen by one process holds the others back too
    assert 49 < b.reserve("chat:8", 10, 3) <= 50


@pytest.mark.postgres
def test_the_postgres_budget_is_shared_between_processes(pg_schema_url):
    key = Cipher.generate_key()
    one, two = Database(pg_schema_url, Cipher(key)), Database(pg_schema_url, Cipher(key))
    one.migrate()
    try:
        _check_gcra(PgSlots(one), PgSlots(two))
        assert limiter_for(one).shared
    finally:
        one.dispose()
        two.dispose()


def test_the_memory_budget_does_the_same_in_one_process(tmp_path):
    store = MemorySlots()
    _check_gcra(store, store)
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", Cipher(Cipher.generate_key()))
    assert not limiter_for(db).shared
    with pytest.raises(ValueError):
        PgSlots(db)
    db.dispose()


async def test_an_alert_goes_ahead_of_queued_follow_ups_and_takes_a_waiting_slot():
    """20 follow-ups for one chat queue at ~10/s; an alert for the same chat arriving later
    is sent at the next free slot, not after the twenty."""
    limiter = SendLimiter(overall_per_second=100, per_chat_rate=10, per_chat_burst=1)
    order: list[str] = []

    async def send(name: str, priority: int) -> None:
        await limiter.acquire(42, priority)
        order.append(name)

    follow_ups = [asyncio.create_task(send(f"f{i}", 5)) for i in range(20)]
    await asyncio.sleep(0)  # they queue (event-driven: the first takes the slot at once)
    while len(order) < 3:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await send("alert", 0)
    took = time.monotonic() - started
    await asyncio.gather(*follow_ups)
    assert order.index("alert") <= 4, order
    assert took < 0.25, took
    assert sorted(order) == sorted([*(f"f{i}" for i in range(20)), "alert"])  # nobody lost


async def test_replies_count_against_the_chat_only_when_they_add_a_message():
    """Edits and answers to button taps are not messages Telegram paces per chat: charging
    them held a crisis alert back by a second per tap of a safety check."""
    from reminders.ratelimit import ReplyRateLimiter

    limiter = SendLimiter(overall_per_second=1000, per_chat_rate=1.0, per_chat_burst=3)
    replies = ReplyRateLimiter(limiter)

    async def call():
        return True

    for endpoint in ["editMessageText", "answerCallbackQuery", "editMessageReplyMarkup"] * 5:
        await replies.process_request(call, (), {}, endpoint, {"chat_id": 7}, None)
    started = time.monotonic()
    await limiter.acquire(7, priority=0)  # 15 edits and taps later, the alert goes at once
    assert time.monotonic() - started < 0.5
    for _ in range(3):
        await replies.process_request(call, (), {}, "sendMessage", {"chat_id": 8}, None)
    assert limiter.store.reserve("chat:8", 1.0, 3) > 0.5  # three new messages do count


async def test_the_bot_takes_an_injected_budget_and_keeps_telegrams_pace_by_default(
    tmp_path, clock
):
    """Tests inject a fast budget (tests/conftest.py); without one the bot paces replies,
    reminders and alerts at Telegram's limits: bursts of 3, then under 1/s per chat."""
    from bootstrap import assemble
    from bootstrap.database import open_database
    from bootstrap.settings import Settings
    from bot.app import build_application
    from reminders.ratelimit import ReplyRateLimiter
    from reminders.tick import LIMITER_KEY
    from tests.conftest import fast_limiter

    settings = Settings(
        token="123456789:AAFakeToken",
        database_url=f"sqlite+pysqlite:///{tmp_path / 'c.db'}",
        admin_ids=frozenset({1}),
    )
    db = open_database(settings)
    try:
        fast = fast_limiter()
        app = build_application(assemble(settings, db, clock=clock), jobs=False, limiter=fast)
        assert app.bot_data[LIMITER_KEY] is fast
        assert (
            isinstance(app.bot.rate_limiter, ReplyRateLimiter)
            and app.bot.rate_limiter.limiter is fast
        )
        default = build_application(assemble(settings, db, clock=clock), jobs=False).bot_data[
            LIMITER_KEY
        ]
        assert default is not fast and default.rate == 25.0
        assert isinstance(default.store, MemorySlots)  # SQLite: one process
        started = time.monotonic()
        for _ in range(4):  # the burst of 3, then the chat's next slot ~1.1 s on
            await default.acquire(42)
        assert time.monotonic() - started >= 1.0
        started = time.monotonic()
        for _ in range(20):
            await fast.acquire(42)
        assert time.monotonic() - started < 2.0  # the test budget: ~50/s per chat (0.3 s here)
    finally:
        db.dispose()
