"""The demo's moving parts: the fake Bot API, the real CareMap application, a movable clock.

The application is the production one (`build_application`), talking to the fake through
python-telegram-bot over HTTP exactly as it would talk to api.telegram.org. Only the clock
differs: real time plus an offset the page can move forward. That offset exists here only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bootstrap.settings import Settings
from bot.demo import seed
from bot.fakeapi import FakeTelegramServer, FakeUser, ServerEvent
from bot.inbox import ALLOWED_UPDATES

log = logging.getLogger("caremap.demo")

DB_FILE = "caremap-demo.db"
STEPS = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1w": timedelta(weeks=1)}
POLL_TIMEOUT = 10


class DemoClock:
    """Real time plus an offset that only moves forward (the demo's time travel)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if delta <= timedelta(0):
            raise ValueError("the demo clock only moves forward")
        self.offset += delta
        return self()

    def reset(self) -> None:
        self.offset = timedelta(0)


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    role: str  # "admin" | "counsellor" | "stranger"
    language_code: str


PEOPLE = (
    Person(seed.ADMIN_ID, seed.ADMIN_NAME, "admin", "zh"),
    Person(seed.SECOND_ID, seed.SECOND_NAME, "counsellor", "zh"),
    Person(seed.STRANGER_ID, seed.STRANGER_NAME, "stranger", "en"),
)


class DemoRuntime:
    """Start, stop and reset the fake Bot API + the CareMap application + the seed data."""

    def __init__(
        self, workdir: Path, *, on_event: Callable[[ServerEvent], None] | None = None
    ) -> None:
        self.workdir = Path(workdir)
        self.db_path = self.workdir / DB_FILE
        self.clock = DemoClock()
        self.on_event = on_event
        self.server: FakeTelegramServer | None = None
        self.app: Application | None = None
        self.db: Any = None
        self.seeded_at: datetime | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        from bootstrap import bootstrap
        from bot.app import build_application
        from services import invites

        server = FakeTelegramServer(bot_username="caremap_demo_bot", bot_first_name="CareMap")
        await server.start()
        self.server = server
        if self.on_event is not None:
            self._unsubscribe = server.subscribe(self.on_event)
        for person in PEOPLE:
            # The counsellors have talked to the bot before, so it may write to them
            # (reminders); the stranger's chat opens when they first send something.
            server.user(
                person.id,
                person.name,
                language_code=person.language_code,
                started=person.role != "stranger",
            )
        settings = Settings(
            token=server.token,
            api_base_url=server.base_url,
            database_url=f"sqlite+pysqlite:///{self.db_path}",
            admin_ids=frozenset({seed.ADMIN_ID}),
            timezone=seed.TIMEZONE,
        )
        container = await asyncio.to_thread(lambda: bootstrap(settings, clock=self.clock, log=log))
        self.db = container.db
        fresh = await asyncio.to_thread(invites.find_counsellor, self.db, seed.ADMIN_ID) is None
        if fresh:
            await asyncio.to_thread(
                seed.seed_class, self.db, self.clock(), container.rules, container.catalogue
            )
        app = build_application(container)
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0.0,
            timeout=POLL_TIMEOUT,
            drop_pending_updates=False,
            allowed_updates=ALLOWED_UPDATES,
        )
        self.app = app
        if fresh:
            await self._chat_seed()
            self.seeded_at = self.clock()

    async def _chat_seed(self) -> None:
        """What 小李 and 王老师 did in their chats: /start, /invite, /start <code>, /clients."""
        admin, second = self.user(seed.ADMIN_ID), self.user(seed.SECOND_ID)
        await admin.send("/start")
        await admin.expect_message(timeout=15)
        await admin.send("/invite")
        reply = await admin.expect_message(timeout=15)
        code = seed.invite_code_from(reply.text or "")
        await second.send(f"/start {code}")
        await second.expect_message(timeout=15)
        await admin.expect_message(timeout=15)  # 小李 is told that 王老师 joined
        await admin.send("/clients")
        await admin.expect_message(timeout=15)

    async def stop(self) -> None:
        app, self.app = self.app, None
        if app is not None:
            try:
                if app.updater is not None and app.updater.running:
                    await asyncio.wait_for(app.updater.stop(), 10)
                if app.running:
                    await asyncio.wait_for(app.stop(), 10)
            finally:
                await asyncio.wait_for(app.shutdown(), 10)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        server, self.server = self.server, None
        if server is not None:
            await server.close()
        db, self.db = self.db, None
        if db is not None:
            db.dispose()

    async def reset(self) -> None:
        """Forget everything (database and chats) and seed again from scratch."""
        async with self._lock:
            await self.stop()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
            self.clock.reset()
            await self.start()

    # --- actions from the page -----------------------------------------------------------
    def user(self, user_id: int) -> FakeUser:
        if self.server is None:
            raise RuntimeError("the demo is not running")
        person = next(p for p in PEOPLE if p.id == user_id)
        return self.server.user(person.id, person.name)

    async def advance(
        self, step: str, on_moved: Callable[[], None] | None = None
    ) -> tuple[datetime, dict[str, int], str | None]:
        """Move the bot's clock by `step` (1h, 1d, 1w) and let the reminders catch up.

        Returns the new time, what `reminders.tick.run_once` reported, and an error text
        if the tick failed (the demo goes on; the log has the traceback)."""
        from reminders import tick

        async with self._lock:
            now = self.clock.advance(STEPS[step])
            if on_moved is not None:
                on_moved()
            try:
                result = await tick.run_once(self.app)
            except Exception as exc:  # noqa: BLE001 - the page says so, the log has the rest
                log.exception("reminders tick failed after moving the clock")
                return now, {}, f"{type(exc).__name__}: {exc}"[:200]
        return now, dict(result or {}), None
