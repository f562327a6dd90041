"""Dimension 4 (价值匹配): /resources, /refer and the referral buttons.

Callback data (≤ 64 bytes, never trusted: every id is looked up through the counsellor's
scoped repository or pending inputs):
- `rf:<referral_id>:<a|c|d>` — Accepted / Completed / Declined
- `rr:<pending_id>:<code>` — refer to a suggested resource (`-` cancels)
- `rp:<pending_id>:<client_id>` — which client a parked /refer is about (`x` cancels)
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application

from bot.turn import Turn, button_handler, command, edit, guard, on_tap, run
from bot.views import choose_client
from domain.buttons import ReferralClientChoice, ReferralPick, ReferralStatus
from services import clients, parked
from services import referrals as rf
from services.errors import NotYours


def _status_markup(turn: Turn, referral_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    turn.render("button_referral", s=status),
                    callback_data=ReferralStatus(referral_id, code).pack(),
                )
                for code, status in rf.ACTIONS.items()
            ]
        ]
    )


def _referred(turn: Turn, result: rf.Referred) -> tuple[str, InlineKeyboardMarkup]:
    return turn.render("referred", r=result), _status_markup(turn, result.referral.id)


def _suggestions(turn: Turn, s: rf.Suggestions) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [
            InlineKeyboardButton(
                r.name(turn.lang)[:60], callback_data=ReferralPick(s.pending_id, r.code).pack()
            )
        ]
        for r in s.resources
    ]
    rows.append(
        [
            InlineKeyboardButton(
                turn.render("button_cancel"), callback_data=ReferralPick(s.pending_id, "-").pack()
            )
        ]
    )
    return turn.render("referral_suggest", s=s), InlineKeyboardMarkup(rows)


@guard
async def resources(turn: Turn) -> None:
    await turn.reply("resources", groups=turn.app.catalogue.by_kind())


@guard
async def refer(turn: Turn) -> None:
    args = turn.args_text
    result = await turn.write(
        rf.refer,
        turn.app.db,
        turn.counsellor,
        args,
        turn.now,
        turn.update_id,
        rules=turn.app.rules,
        cat=turn.app.catalogue,
    )
    if isinstance(result, clients.AlreadyHandled):
        return
    if isinstance(result, clients.Choice):
        await choose_client(turn, result, ReferralClientChoice)
        return
    text, markup = (
        _referred(turn, result) if isinstance(result, rf.Referred) else _suggestions(turn, result)
    )
    await turn.send_text(text, markup)


@on_tap(ReferralStatus)
async def on_status(turn: Turn, tap: ReferralStatus) -> None:
    query = turn.update.callback_query
    result = await turn.write(
        rf.set_status,
        turn.app.db,
        turn.counsellor,
        tap.referral_id,
        tap.action,
        turn.now,
        cat=turn.app.catalogue,
    )
    await query.answer(turn.render("toast_referral", changed=result.changed))
    text, markup = _referred(turn, result)
    await edit(query, text, markup)


async def _cancel(turn: Turn, pending_id: int) -> None:
    query = turn.update.callback_query
    if not await run(parked.cancel_pending, turn.app.db, turn.counsellor, pending_id, turn.now):
        raise NotYours()
    await query.answer()
    await edit(query, turn.render("cancelled"))


@on_tap(ReferralPick)
async def on_suggestion(turn: Turn, tap: ReferralPick) -> None:
    query = turn.update.callback_query
    pending_id, code = tap.pending_id, tap.code
    if code == "-":
        await _cancel(turn, pending_id)
        return
    result = await turn.write(
        rf.pick_suggestion,
        turn.app.db,
        turn.counsellor,
        pending_id,
        code,
        turn.now,
        cat=turn.app.catalogue,
    )
    await query.answer()
    text, markup = _referred(turn, result)
    await edit(query, text, markup)


@on_tap(ReferralClientChoice)
async def on_client_choice(turn: Turn, tap: ReferralClientChoice) -> None:
    query = turn.update.callback_query
    pending_id, target = tap.pending_id, tap.target
    if target == "x":
        await _cancel(turn, pending_id)
        return
    result = await turn.write(
        rf.resume_choice,
        turn.app.db,
        turn.counsellor,
        pending_id,
        target,
        turn.now,
        rules=turn.app.rules,
        cat=turn.app.catalogue,
    )
    await query.answer()
    text, markup = (
        _referred(turn, result) if isinstance(result, rf.Referred) else _suggestions(turn, result)
    )
    await edit(query, text, markup)


def register(application: Application) -> None:
    """Called from bot.routes.register, before the catch-all handlers."""
    # /map section 4 names catalogue resources in the reader's language.
    application.add_handler(command("resources", resources))
    application.add_handler(command("refer", refer))
    for handler in (on_status, on_suggestion, on_client_choice):
        application.add_handler(button_handler(handler))
