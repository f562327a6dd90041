"""`python -m bot`: start CareMap (polling Telegram)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys


class _StartupNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "Bootstrap" in record.getMessage():
            record.exc_info = None
            record.exc_text = None
        return True


async def _serve(application, db) -> None:
    """Poll Telegram (or take its webhook POSTs) through the inbox (bot/inbox.py) until
    SIGINT or SIGTERM."""
    from bot.inbox import serving

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ctx = application.bot_data["ctx"]
    settings = ctx.settings
    webhook = None
    if settings.webhook_url:
        from bot.inbox import Webhook, webhook_secret

        webhook = Webhook(
            settings.webhook_url,
            settings.webhook_listen,
            webhook_secret(settings.webhook_secret, settings.token),
        )
    async with serving(application, db, ctx.clock, webhook=webhook) as inbox:
        await inbox.until(stop)
    logging.getLogger("caremap").info("CareMap stopped")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Everything this process creates (the database, its -wal, the key file, backups,
    # exports) is owner-only.
    os.umask(0o077)
    if args and args[0] == "demo":  # the local chat page; builds its own settings
        from bot.demo.__main__ import main as demo_main

        return demo_main(args[1:])

    from bootstrap.settings import ConfigError, load_settings

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL at INFO, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # A failed start (no network, bad token) is reported below in one line, not a traceback.
    logging.getLogger("telegram.ext").addFilter(_StartupNoise())
    log = logging.getLogger("caremap")

    if args and args[0] in ("-h", "--help"):
        print("usage: python -m bot    (configuration from environment variables; see README.md)")
        print("       python -m bot demo [--port 8080]    (try it in a local chat page, no token)")
        print("       python -m bot backup PATH    (a consistent copy of the SQLite database)")
        print("       python -m bot rotate-key    (re-encrypt everything under a new key)")
        return 0
    if args and args[0] in ("backup", "rotate-key"):
        from bot.maintenance import main as maintenance_main

        return maintenance_main(args)
    if args:
        print(f"caremap: unknown argument {args[0]!r}; usage: python -m bot", file=sys.stderr)
        return 2

    try:
        from bootstrap import bootstrap

        settings = load_settings()
        container = bootstrap(settings, log=log)
    except ConfigError as exc:
        print(f"caremap: configuration error: {exc}", file=sys.stderr)
        return 2

    from bot.app import build_application

    db = container.db
    application = build_application(container)
    log.info("CareMap starting (database: %s)", db.display_url)
    from telegram.error import InvalidToken, NetworkError, TelegramError

    try:
        asyncio.run(_serve(application, db))
    except InvalidToken:
        print(
            "caremap: TELEGRAM_BOT_TOKEN was rejected by the Bot API: check the token from @BotFather",
            file=sys.stderr,
        )
        return 2
    except NetworkError as exc:
        print(
            f"caremap: cannot reach the Telegram Bot API at {settings.api_base_url} ({exc}); "
            "check the network or TELEGRAM_API_BASE_URL",
            file=sys.stderr,
        )
        return 1
    except TelegramError as exc:
        print(
            f"caremap: the Telegram Bot API refused: {exc}"
            + (" (check CAREMAP_WEBHOOK_URL)" if settings.webhook_url else ""),
            file=sys.stderr,
        )
        return 1
    except OSError as exc:  # the webhook's port is taken, …
        if not settings.webhook_url:
            raise
        print(
            f"caremap: cannot listen for the webhook on {settings.webhook_listen[0]}:"
            f"{settings.webhook_listen[1]} ({exc.strerror or exc}); check CAREMAP_WEBHOOK_LISTEN",
            file=sys.stderr,
        )
        return 1
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
