"""The composition root: builds the one python-telegram-bot Application."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.render import LANGS, Renderer, default_renderer
from bot.settings import Settings
from domain.rules import RuleBase
from services.grading import default_rules, practice_rules
from storage.db import Database

log = logging.getLogger("caremap.bot")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class BotContext:
    """What every handler needs, built once here and kept in `application.bot_data`."""

    settings: Settings
    db: Database
    clock: Clock
    renderer: Renderer
    rules: RuleBase


def file_url_for(base_url: str) -> str:
    """`https://api.telegram.org/bot` → `https://api.telegram.org/file/bot`."""
    if base_url.endswith("/bot"):
        return base_url[: -len("/bot")] + "/file/bot"
    return base_url.rstrip("/") + "/file/bot"


def make_rate_limiter() -> AIORateLimiter:
    # Telegram: ~30 messages/s overall, ~1/s per chat (short bursts allowed), 20/min per group.
    # PTB's defaults retry nothing; a reply that meets a 429 waits retry_after and tries again.
    return AIORateLimiter(
        overall_max_rate=25,
        overall_time_period=1,
        group_max_rate=20,
        group_time_period=60,
        max_retries=5,
    )


def build_application(
    settings: Settings,
    db: Database,
    *,
    clock: Clock | None = None,
    renderer: Renderer | None = None,
    rules: RuleBase | None = None,
    jobs: bool = True,
) -> Application:
    from bot import handlers

    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .base_file_url(file_url_for(settings.api_base_url))
        .rate_limiter(make_rate_limiter())
        .post_init(_post_init)
        .build()
    )
    application.bot_data["ctx"] = BotContext(
        settings=settings, db=db, clock=clock or system_clock, renderer=renderer or default_renderer(),
        rules=practice_rules(rules or default_rules()) if settings.mode == "practice" else (rules or default_rules()),
    )
    handlers.register(application)
    if jobs and application.job_queue is not None:
        # The passage of time changes tiers (lost contact, stale screenings): re-grade
        # everyone soon after start and then every few hours. The grades live in the
        # database, so a restart loses nothing; the job only drives the work.
        application.job_queue.run_repeating(
            _regrade_job, interval=REGRADE_INTERVAL_SECONDS, first=60, name="regrade-everyone"
        )
        from reminders.tick import tick_job

        # The tick looks for due work in the database; first=1 s, so work that came due
        # while the bot was down goes out right after start.
        application.job_queue.run_repeating(
            tick_job, interval=settings.tick_seconds, first=1, name="reminders-tick",
            job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
    return application


REGRADE_INTERVAL_SECONDS = 6 * 3600


async def _regrade_job(context) -> None:
    import asyncio

    from services.grading import regrade_everyone

    ctx: BotContext = context.application.bot_data["ctx"]
    counts = await asyncio.to_thread(regrade_everyone, ctx.db, ctx.clock(), ctx.rules)
    log.info("re-graded %(clients)d clients: %(changed)d changed, %(alerts)d alerts", counts)


def command_menu(renderer: Renderer, lang: str) -> list[BotCommand]:
    """The command menu, from templates/<lang>/commands.j2 (`name - description` lines)."""
    commands = []
    for line in renderer.render(lang, "commands").splitlines():
        name, sep, description = line.partition(" - ")
        if sep and name.strip():
            commands.append(BotCommand(name.strip(), description.strip()))
    return commands


async def _post_init(application: Application) -> None:
    ctx: BotContext = application.bot_data["ctx"]
    scope = BotCommandScopeAllPrivateChats()
    for lang in LANGS:
        try:
            await application.bot.set_my_commands(
                command_menu(ctx.renderer, lang),
                scope=scope,
                language_code=None if lang == "en" else lang,
            )
        except TelegramError as exc:
            log.warning("could not set the %s command menu (%s); running on without it", lang, exc)
