"""`python -m bot`: start CareMap (polling Telegram)."""

from __future__ import annotations

import logging
import os
import sys


class _StartupNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "Bootstrap" in record.getMessage():
            record.exc_info = None
            record.exc_text = None
        return True


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Everything this process creates (the database, its -wal, the key file, backups,
    # exports) is owner-only.
    os.umask(0o077)
    if args and args[0] == "demo":  # the local chat page; builds its own settings
        from bot.demo.__main__ import main as demo_main

        return demo_main(args[1:])

    from bot.settings import ConfigError, load_settings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
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
        settings = load_settings()
        from bot.runtime import open_database
        from domain.rules import RulesError, load_rules

        try:
            rules = load_rules(settings.rules_path)
        except RulesError as exc:
            raise ConfigError(f"CAREMAP_RULES: {exc}") from None
        db = open_database(settings, log)
    except ConfigError as exc:
        print(f"caremap: configuration error: {exc}", file=sys.stderr)
        return 2

    from bot.app import build_application

    application = build_application(settings, db, rules=rules)
    log.info("CareMap starting (database: %s)", db.display_url)
    from telegram.error import InvalidToken, NetworkError

    try:
        application.run_polling(allowed_updates=["message", "callback_query"])
    except InvalidToken:
        print("caremap: TELEGRAM_BOT_TOKEN was rejected by the Bot API: check the token from @BotFather",
              file=sys.stderr)
        return 2
    except NetworkError as exc:
        print(f"caremap: cannot reach the Telegram Bot API at {settings.api_base_url} ({exc}); "
              "check the network or TELEGRAM_API_BASE_URL", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
