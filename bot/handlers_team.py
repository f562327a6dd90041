"""/team (admins): issue 11's overview (supervisors, where alerts go, open crisis alerts,
overdue contact) and, beside it (issue 14), counsellors who come and go — list with caseload
sizes, deactivate, hand over a caseload, reactivate, list and revoke invites; /audit, the
audit trail.

Callback data `tm:<pending id>:y|n` is never trusted: the pending id is looked up for the
admin who tapped, once, and every check is made again at the tap.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CallbackQueryHandler

from bot.handlers import Turn, _edit, _guard, _run, command
from domain import buttons, grammar
from services import core, supervision
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
        ask = await _run(team_service.ask_deactivate, turn.app.db, turn.counsellor, ids[0], turn.now)
    elif sub == "handover" and len(ids) == 2:
        ask = await _run(team_service.ask_handover, turn.app.db, turn.counsellor, ids[0], ids[1], turn.now)
    elif sub == "reactivate" and len(ids) == 1:
        who = await _run(team_service.reactivate, turn.app.db, turn.counsellor, ids[0], turn.now)
        await turn.reply("team_reactivated", who=who)
        return True
    elif sub == "invites" and not ids:
        rows = await _run(team_service.list_invites, turn.app.db, turn.counsellor, turn.now)
        await turn.reply("team_invites", rows=rows)
        return True
    elif sub == "revoke" and len(ids) == 1:
        ok = await _run(team_service.revoke_invite, turn.app.db, turn.counsellor, ids[0], turn.now)
        await turn.reply("invite_revoked", ok=ok, id=ids[0])
        return True
    else:
        await turn.reply(_USAGE)
        return True
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(turn.render("button_team_confirm"), callback_data=buttons.data("tm", ask.pending_id, "y"))],
        [InlineKeyboardButton(turn.render("button_cancel"), callback_data=buttons.data("tm", ask.pending_id, "n"))],
    ])
    await turn.reply("team_confirm", markup=markup, ask=ask)
    return True


@_guard
async def on_team(turn: Turn) -> None:
    query = turn.update.callback_query
    pending_id, answer = buttons.fields(query.data, "tm")
    if answer == "n":
        if not await turn.once(team_service.cancel_team, turn.app.db, turn.counsellor, pending_id, turn.now):
            raise core.NotYours()
        await query.answer()
        await _edit(query, turn.render("cancelled"))
        return
    done = await turn.write(team_service.confirm_team, turn.app.db, turn.counsellor, pending_id, turn.now)
    if done is None:
        raise core.NotYours()
    await query.answer()
    await _edit(query, turn.render("team_done", done=done))


@_guard
async def team(turn: Turn) -> None:
    """`/team`: issue 11's overview (supervisors, where alerts go, open crisis alerts,
    overdue contact); `/team list` and the sub-commands above: counsellors who come and go."""
    words = turn.args_text.split()
    if words and grammar.team_subcommand(words[0]) == "list" and len(words) == 1:
        rows = await _run(team_service.team_list, turn.app.db, turn.counsellor)
        await turn.send_text(turn.render("team_list", rows=rows) + "\n\n" + turn.render(_USAGE))
        return
    if await team_admin(turn, words):
        return
    lines = await _run(supervision.team, turn.app.db, turn.counsellor, turn.now)
    text = turn.app.renderer.render_fitting(turn.lang, "team", "lines", lines, total=len(lines),
                                            tz=turn.counsellor.timezone, now=turn.now)
    await turn.send_text(text)


@_guard
async def audit(turn: Turn) -> None:
    """`/audit`: your own last 20 actions (admins: the team's)."""
    team_view, lines = await _run(team_service.audit, turn.app.db, turn.counsellor)
    await turn.reply("audit", team=team_view, lines=lines)


def register(application: Application) -> None:
    application.add_handler(command("team", team))
    application.add_handler(command("audit", audit))
    application.add_handler(CallbackQueryHandler(on_team, pattern=r"^tm:"))
