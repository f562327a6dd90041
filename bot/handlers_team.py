"""/team (admins): issue 11's overview (supervisors, where alerts go, open crisis alerts,
overdue contact) and, beside it (issue 14), counsellors who come and go — list with caseload
sizes, deactivate, hand over a caseload, reactivate, list and revoke invites; /audit, the
audit trail.

Callback data `tm:<pending id>:y|n` is never trusted: the pending id is looked up for the
admin who tapped, once, and every check is made again at the tap.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application

from bot.turn import Turn, button_handler, command, confirm_or_cancel, guard, on_tap, run
from domain import grammar
from domain.buttons import TeamConfirm
from services import supervision
from services import team as team_service

_USAGE = "team_usage"


def _tid(word: str) -> int | None:
    return int(word) if word.isdigit() and len(word) <= 18 else None


async def team_admin(turn: Turn, words: list[str]) -> bool:
    """`/team <sub-command> …`; False when `words` is not one (the caller shows the team)."""
    if not words:
        return False
    sub = grammar.team_subcommand(words[0]) or words[0].lower()
    ids = [_tid(w) for w in words[1:]]
    if any(i is None for i in ids):
        await turn.reply(_USAGE)
        return True
    if sub == "deactivate" and len(ids) == 1:
        ask = await run(team_service.ask_deactivate, turn.app.db, turn.counsellor, ids[0], turn.now)
    elif sub == "handover" and len(ids) == 2:
        ask = await run(
            team_service.ask_handover, turn.app.db, turn.counsellor, ids[0], ids[1], turn.now
        )
    elif sub == "reactivate" and len(ids) == 1:
        who = await run(team_service.reactivate, turn.app.db, turn.counsellor, ids[0], turn.now)
        await turn.reply("team_reactivated", who=who)
        return True
    elif sub == "invites" and not ids:
        rows = await run(team_service.list_invites, turn.app.db, turn.counsellor, turn.now)
        await turn.reply("team_invites", rows=rows)
        return True
    elif sub == "revoke" and len(ids) == 1:
        ok = await run(team_service.revoke_invite, turn.app.db, turn.counsellor, ids[0], turn.now)
        await turn.reply("invite_revoked", ok=ok, id=ids[0])
        return True
    else:
        await turn.reply(_USAGE)
        return True
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    turn.render("button_team_confirm"),
                    callback_data=TeamConfirm(ask.pending_id, "y").pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    turn.render("button_cancel"),
                    callback_data=TeamConfirm(ask.pending_id, "n").pack(),
                )
            ],
        ]
    )
    await turn.reply("team_confirm", markup=markup, ask=ask)
    return True


@on_tap(TeamConfirm)
async def on_team(turn: Turn, tap: TeamConfirm) -> None:
    await confirm_or_cancel(
        turn,
        tap,
        cancel=team_service.cancel_team,
        cancel_once=True,
        confirm=team_service.confirm_team,
        done=lambda done: turn.render("team_done", done=done),
    )


@guard
async def team(turn: Turn) -> None:
    """`/team`: issue 11's overview (supervisors, where alerts go, open crisis alerts,
    overdue contact); `/team list` and the sub-commands above: counsellors who come and go."""
    words = turn.args_text.split()
    if words and grammar.team_subcommand(words[0]) == "list" and len(words) == 1:
        rows = await run(team_service.team_list, turn.app.db, turn.counsellor)
        await turn.send_text(turn.render("team_list", rows=rows) + "\n\n" + turn.render(_USAGE))
        return
    if await team_admin(turn, words):
        return
    lines = await run(supervision.team, turn.app.db, turn.counsellor, turn.now)
    text = turn.app.renderer.render_fitting(
        turn.lang,
        "team",
        "lines",
        lines,
        total=len(lines),
        tz=turn.counsellor.timezone,
        now=turn.now,
    )
    await turn.send_text(text)


@guard
async def audit(turn: Turn) -> None:
    """`/audit`: your own last 20 actions (admins: the team's)."""
    team_view, lines = await run(team_service.audit, turn.app.db, turn.counsellor)
    await turn.reply("audit", team=team_view, lines=lines)


def register(application: Application) -> None:
    application.add_handler(command("team", team))
    application.add_handler(command("audit", audit))
    application.add_handler(button_handler(on_team))
