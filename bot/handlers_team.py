"""/team (admins): the counsellors, their supervisors, who receives their unacknowledged
alerts, open crisis alerts and clients past their latest contact date (issue 11).

A module of its own so issue 14 can add deactivate / hand over a caseload beside it.
"""

from __future__ import annotations

from telegram.ext import Application

from bot.handlers import Turn, _guard, _run, command
from services import supervision


@_guard
async def team(turn: Turn) -> None:
    lines = await _run(supervision.team, turn.app.db, turn.counsellor, turn.now)
    text = turn.app.renderer.render_fitting(turn.lang, "team", "lines", lines, total=len(lines),
                                            tz=turn.counsellor.timezone, now=turn.now)
    await turn.send_text(text)


def register(application: Application) -> None:
    application.add_handler(command("team", team))
