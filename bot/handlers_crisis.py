"""The crisis path (issue 11): risk-phrase prompts, the safety check, the review's reasons.

Callback data (written and read with `domain.buttons`; ≤ 64 bytes, never trusted: every id is
looked up through the counsellor's scoped repositories or pending inputs):
- `sg:<signal_id>:<c|q|n|j|u|h>` — a risk phrase: safety check now / PHQ-9 now / not a risk…,
  then its reason: joke / quoting someone / already handled (kept on record)
- `sc:<client_id>:<trigger>` — start a safety check (after item 9, risk=crisis, from /map …)
- `sk:<pending_id>:<answers>` — one step of the safety check (answers y/n/- so far); `x` cancels
- `rv:l:<client_id>` — Lower at a review: asks why; `rv:r:<client_id>:<reason>` lowers

Every write runs once per Telegram update (`Turn.once` / `Turn.write`): a redelivered or
replayed tap changes nothing and sends nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application

from bot.turn import Turn, button_handler, edit, on_tap, run
from bot.views import question_message
from domain.buttons import (
    Button,
    SafetyCheckStart,
    SafetyCheckStep,
    SignalAction,
    TierLowerReason,
    TierReview,
)
from domain.model import Risk
from domain.tiering import REVIEW_REASONS
from services import crisis as cr
from services import reminders as rem
from services.errors import NotYours

log = logging.getLogger("caremap.bot")

DISMISS = {"j": "joke", "u": "quote", "h": "handled"}


def _label(turn: Turn, key: str) -> str:
    return turn.render("crisis_label", key=key)


def _button(turn: Turn, key: str, data: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(_label(turn, key), callback_data=data.pack())


# --- after a write: prompt on a risk phrase, offer a safety check after item 9 / crisis ---


def _offer_trigger(result: Any) -> str | None:
    item9 = getattr(getattr(result, "result", None), "item9", None)
    if item9:
        return "i9"
    for ch in getattr(result, "changes", None) or ():
        if getattr(ch, "field", None) == "risk" and ch.new == Risk.CRISIS.value:
            return "cr"
    return None


async def after_write(turn: Turn, result: Any) -> None:
    """Called after the reply to /log, a plain note, /goal or /status: a risk phrase gets its
    own message naming it, with the three choices."""
    signal = getattr(result, "risk_signal", None)
    if signal is not None:
        client = getattr(result, "client", None)
        # a PHQ-9 taken in the last two weeks (the period it asks about) is named, not offered;
        # if that read fails, the prompt still goes out, offering PHQ-9 as before
        try:
            recent = await run(
                cr.recent_phq9, turn.app.db, turn.counsellor, signal.client_id, turn.now
            )
        except Exception:  # noqa: BLE001 - the prompt matters more than this detail
            log.exception("risk-phrase prompt: the latest PHQ-9 could not be read")
            recent = None
        first = [_button(turn, "safety_check", SignalAction(signal.id, "c"))]
        if recent is None:
            first.append(_button(turn, "phq9_now", SignalAction(signal.id, "q")))
        markup = InlineKeyboardMarkup(
            [first, [_button(turn, "not_a_risk", SignalAction(signal.id, "n"))]]
        )
        await turn.reply(
            "risk_phrase_prompt",
            markup=markup,
            signal=signal,
            client=client,
            recent_phq9=recent,
        )


def offer_markup(turn: Turn, result: Any) -> InlineKeyboardMarkup | None:
    """After item 9 > 0 or risk=crisis: a safety check button on the reply itself."""
    trigger = _offer_trigger(result)
    client = getattr(result, "client", None)
    if trigger is None or client is None:
        return None
    return InlineKeyboardMarkup(
        [[_button(turn, "safety_check", SafetyCheckStart(client.id, trigger))]]
    )


def safety_check_button(turn: Turn, client_id: int) -> InlineKeyboardButton:
    """🛟 under /map (with issue 13's 记录 / 计划 / 筛查 row)."""
    return _button(turn, "safety_check", SafetyCheckStart(client_id, "mp"))


# --- the safety check, one edited message ------------------------------------------------


def _check_message(turn: Turn, q: cr.SafetyPrompt) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [
            _button(turn, "yes", SafetyCheckStep(q.pending_id, q.yes_code)),
            _button(turn, "no", SafetyCheckStep(q.pending_id, q.no_code)),
        ]
    ]
    nav = []
    if q.code:
        nav.append(
            InlineKeyboardButton(
                turn.render("button_back"),
                callback_data=SafetyCheckStep(q.pending_id, cr.back_code(q.code)).pack(),
            )
        )
    nav.append(
        InlineKeyboardButton(
            turn.render("button_cancel"), callback_data=SafetyCheckStep(q.pending_id, "x").pack()
        )
    )
    rows.append(nav)
    return turn.render("safety_item", q=q), InlineKeyboardMarkup(rows)


@on_tap(SafetyCheckStart)
async def on_start_check(turn: Turn, tap: SafetyCheckStart) -> None:
    query = turn.update.callback_query
    prompt = await turn.once(
        cr.start_check, turn.app.db, turn.counsellor, tap.client_id, tap.trigger, turn.now
    )
    await query.answer()
    text, markup = _check_message(turn, prompt)
    await turn.send_text(text, markup)


@on_tap(SafetyCheckStep)
async def on_check_step(turn: Turn, tap: SafetyCheckStep) -> None:
    query = turn.update.callback_query
    pending_id, code = tap.pending_id, tap.answers
    if code == "x":
        if await turn.once(cr.cancel_check, turn.app.db, turn.counsellor, pending_id, turn.now):
            await query.answer()
            await edit(query, turn.render("cancelled"))
            return
        raise NotYours()
    # once per update: a replayed last step must not store the check twice (nor re-ask)
    step = await turn.once(
        cr.check_step,
        turn.app.db,
        turn.counsellor,
        pending_id,
        code,
        turn.now,
        rules=turn.app.rules,
    )
    if isinstance(step, cr.SafetyDone):
        turn.mark_saved(step.client)
    await query.answer()
    if isinstance(step, cr.SafetyPrompt):
        text, markup = _check_message(turn, step)
        await edit(query, text, markup)
    else:
        await edit(query, turn.render("safety_done", r=step))


# --- risk-phrase prompts -----------------------------------------------------------------


@on_tap(SignalAction)
async def on_signal(turn: Turn, tap: SignalAction) -> None:
    query = turn.update.callback_query
    signal_id, action = tap.signal_id, tap.action
    db, actor = turn.app.db, turn.counsellor
    if action == "c":
        prompt = await turn.once(cr.start_check, db, actor, 0, "ph", turn.now, signal_id=signal_id)
        await query.answer()
        text, markup = _check_message(turn, prompt)
        await edit(query, text, markup)
    elif action == "q":
        q = await turn.once(cr.signal_to_phq9, db, actor, signal_id, turn.now)
        await query.answer()
        text, markup = question_message(turn, q, ())
        await edit(query, text, markup)
    elif action == "n":
        o = await run(cr.signal_subject, db, actor, signal_id)
        await turn.claim()
        await query.answer()
        rows = [
            [_button(turn, f"reason_{reason}", SignalAction(signal_id, code))]
            for code, reason in DISMISS.items()
        ]
        rows.append([_button(turn, "safety_check", SignalAction(signal_id, "c"))])
        await edit(
            query,
            turn.render("signal_why", client=o.client, signal=o.signal),
            InlineKeyboardMarkup(rows),
        )
    else:
        o = await turn.write(cr.dismiss_signal, db, actor, signal_id, DISMISS[action], turn.now)
        await query.answer()
        await edit(query, turn.render("signal_dismissed", o=o))


# --- the review: Lower asks why ------------------------------------------------------------


async def ask_why_lower(turn: Turn, client_id: int) -> None:
    """`rv:l:<client>` (from bot.handlers.on_tier_review): Lower asks for the reason."""
    query = turn.update.callback_query
    subject = await run(rem.review_subject, turn.app.db, turn.counsellor, client_id)
    rows = [
        [_button(turn, f"review_{reason}", TierLowerReason(client_id, reason))]
        for reason in REVIEW_REASONS
    ]
    rows.append([_button(turn, "keep", TierReview("c", client_id))])
    await turn.claim()
    await query.answer()
    await edit(
        query,
        turn.render("review_why", client=subject.client, g=subject.grades),
        InlineKeyboardMarkup(rows),
    )


@on_tap(TierLowerReason)
async def on_lower_reason(turn: Turn, tap: TierLowerReason) -> None:
    """`rv:r:<client>:<reason>`: lowers the tier, for that reason."""
    query = turn.update.callback_query
    out = await turn.write(
        rem.lower_tier,
        turn.app.db,
        turn.counsellor,
        tap.client_id,
        turn.now,
        rules=turn.app.rules,
        reason=tap.reason,
    )
    await query.answer()
    await edit(query, turn.render("review_done", o=out))


def register(application: Application) -> None:
    """Called from bot.routes.register, before the catch-all handlers."""
    for handler in (on_signal, on_start_check, on_check_step, on_lower_reason):
        application.add_handler(button_handler(handler))
