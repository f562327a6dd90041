"""The bot adapter's assembly: the one python-telegram-bot Application, from the parts the
composition root (`bootstrap`) built."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder

from bootstrap import Container, file_url_for
from bot.context import BotContext
from rendering.render import LANGS, Renderer

if TYPE_CHECKING:
    from reminders.ratelimit import SendLimiter

log = logging.getLogger("caremap.bot")


def build_application(
    container: Container, *, jobs: bool = True, limiter: SendLimiter | None = None
) -> Application:
    """The one python-telegram-bot Application, from the composition root's parts.

    `limiter` replaces the send budget (tests inject a fast one); by default it is
    Telegram's pace, `limiter_for(db)` (shared through PostgreSQL with the workers)."""
    from bot import routes
    from reminders.ratelimit import ReplyRateLimiter, limiter_for
    from reminders.tick import LIMITER_KEY, install_urgent_path

    # ONE send budget for replies, reminders and alerts (on PostgreSQL shared with the
    # `python -m reminders` workers through the database)
    settings, db = container.settings, container.db
    if limiter is None:
        limiter = limiter_for(db)
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .base_file_url(file_url_for(settings.api_base_url))
        .rate_limiter(ReplyRateLimiter(limiter))
        .post_init(set_command_menus)
        .build()
    )
    application.bot_data["ctx"] = BotContext(
        settings=settings,
        db=db,
        clock=container.clock,
        renderer=container.renderer,
        rules=container.rules,
        catalogue=container.catalogue,
    )
    application.bot_data[LIMITER_KEY] = limiter
    routes.register(application)
    install_urgent_path(application, db)  # a new crisis/high alert is sent at once
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
            tick_job,
            interval=settings.tick_seconds,
            first=1,
            name="reminders-tick",
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


async def set_command_menus(application: Application) -> None:
    """At start-up (PTB's post_init): the command menu in every language, for private chats.
    A refused menu is logged and the bot runs on without it."""
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
