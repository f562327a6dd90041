"""`python -m reminders`: extra delivery workers beside the bot (PostgreSQL only).

Only the bot process polls Telegram; workers only plan and deliver due reminders and
alerts, claiming outbox rows with FOR UPDATE SKIP LOCKED so that N workers never send the
same row twice.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bootstrap import Container


async def _serve(container: Container) -> None:
    from telegram import Bot

    from bootstrap import file_url_for
    from reminders.delivery import Deliverer
    from reminders.planner import plan_due_work
    from reminders.ratelimit import limiter_for
    from reminders.worker import new_worker_id

    log = logging.getLogger("caremap.reminders")
    settings, db, clock = container.settings, container.db, container.clock
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = new_worker_id("worker")
    async with Bot(
        settings.token,
        base_url=settings.api_base_url,
        base_file_url=file_url_for(settings.api_base_url),
    ) as bot:
        deliverer = Deliverer(db, bot, container.renderer, clock, limiter_for(db), worker=worker)
        await asyncio.to_thread(deliverer.take_back)
        log.info("reminders worker %s started (tick %.0f s)", worker, settings.tick_seconds)
        while not stop.is_set():
            try:
                await asyncio.to_thread(plan_due_work, db, clock())
                stats = await deliverer.run()
                if stats.sent or stats.failed:
                    log.info("delivered: %s", stats.as_dict())
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("tick failed; retrying on the next tick")
            try:
                await asyncio.wait_for(stop.wait(), timeout=settings.tick_seconds)
            except TimeoutError:
                pass
    log.info("reminders worker %s stopped", worker)


def main() -> int:
    from bootstrap import ConfigError, bootstrap, load_settings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpcore", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings()
        if not settings.database_url.startswith("postgresql"):
            raise ConfigError(
                "DATABASE_URL: extra reminder workers need PostgreSQL; with SQLite the bot "
                "(python -m bot) delivers reminders by itself"
            )
        container = bootstrap(settings)
    except ConfigError as exc:
        print(f"caremap-reminders: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(container))
    finally:
        container.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
