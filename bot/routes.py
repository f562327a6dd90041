"""Every handler, registered in order: the core commands (`bot.handlers`), each command
group's module, then the fallbacks (unknown commands, plain text, the core buttons, the
catch-all for stale buttons, the error handler). The only module that imports them all."""

from __future__ import annotations

from telegram.ext import Application

from bot import (
    handlers,
    handlers_caseload,
    handlers_crisis,
    handlers_media,
    handlers_overview,
    handlers_referrals,
    handlers_roster,
    handlers_team,
)


def register(application: Application) -> None:
    handlers.register(application)
    handlers_referrals.register(application)
    handlers_caseload.register(application)
    handlers_team.register(application)
    handlers_roster.register(application)
    handlers_media.register(application)  # after the roster: a roster file is taken there
    handlers_overview.register(application)
    handlers_crisis.register(application)
    handlers.register_fallbacks(application)
