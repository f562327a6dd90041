"""Shared fixtures: an injected clock, a fresh SQLite database, the running bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bootstrap import assemble
from tests.fakeapi.fixtures import fake_api  # noqa: F401
from tests.fakeapi.server import FakeTelegramServer


class FakeClock:
    """A clock the tests move by hand; no test sleeps to wait for time to pass."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now = self.now + timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    # Saturday 2026-11-28 10:00 in Shanghai.
    return FakeClock(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))


ADMIN_ID = 1001
SECOND_ID = 2002
STRANGER_ID = 3003


#: the send budget of tests that are not about pacing: far above Telegram's (30/s overall,
#: ~1/s per chat), so a test waits for the bot, not for the pace. The order of what is
#: sent (alerts first) is the limiter's logic, kept; tests about pacing, 429s or rate
#: limits keep the real budget: `@pytest.mark.real_pacing` (or build_application's default).
FAST_OVERALL_PER_SECOND = 1000.0
FAST_PER_CHAT_RATE = 50.0
FAST_PER_CHAT_BURST = 5


def fast_limiter():
    """A fresh SendLimiter with the fast test budget (in memory, this process only)."""
    from reminders.ratelimit import SendLimiter

    return SendLimiter(
        overall_per_second=FAST_OVERALL_PER_SECOND,
        per_chat_rate=FAST_PER_CHAT_RATE,
        per_chat_burst=FAST_PER_CHAT_BURST,
    )


def limiter_for_test(request: pytest.FixtureRequest):
    """The fast budget, or None (build_application's production default: Telegram's pace)
    for a test marked `real_pacing`."""
    return None if request.node.get_closest_marker("real_pacing") else fast_limiter()


@dataclass
class BotEnv:
    server: FakeTelegramServer
    db: object
    clock: FakeClock
    db_path: Path
    app: object = None
    extra: dict = field(default_factory=dict)


@pytest_asyncio.fixture
async def bot_env(
    request: pytest.FixtureRequest,
    fake_api: FakeTelegramServer,  # noqa: F811
    tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[BotEnv]:
    from bootstrap.database import open_database
    from bootstrap.settings import Settings
    from bot.app import build_application
    from bot.inbox import serving

    db_path = tmp_path / "caremap.db"
    settings = Settings(
        token=fake_api.token,
        api_base_url=fake_api.base_url,
        database_url=f"sqlite+pysqlite:///{db_path}",
        admin_ids=frozenset({ADMIN_ID}),
        timezone="Asia/Shanghai",
    )
    db = open_database(settings)
    # The reminders tick is driven by the tests (reminders.tick.run_once) with the injected
    # clock, not by the JobQueue's real-time timer.
    app = build_application(
        assemble(settings, db, clock=clock), jobs=False, limiter=limiter_for_test(request)
    )
    env = BotEnv(server=fake_api, db=db, clock=clock, db_path=db_path, app=app)
    try:
        # as `python -m bot` runs: our own getUpdates loop through the inbox table
        async with serving(app, db, clock, poll_timeout=1.0) as inbox:
            env.extra["inbox"] = inbox
            yield env
    finally:
        db.dispose()
