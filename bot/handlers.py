"""Telegram handlers: thin. Parse → call a service → render a template → reply.

Access control happens once, in `bot.turn.guard`: private chats only, invited counsellors
only. Everything a counsellor reads is rendered from templates/<lang>/.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.handlers_crisis import after_write, ask_why_lower, offer_markup, safety_check_button
from bot.handlers_overview import client_chart
from bot.turn import (
    Handler,
    Turn,
    answering,
    bot_context,
    button_handler,
    clip,
    command,
    command_args,
    dispatch,
    display_name,
    edit,
    guard,
    identify,
    on_tap,
    refuse,
    run,
)
from bot.views import choose_client, question_message
from domain import grammar, schedule
from domain.buttons import (
    AckAlert,
    AgendaList,
    AgendaListPage,
    BadButton,
    CadenceSnooze,
    ClientsPage,
    ConfirmQuietReviews,
    FollowUpDate,
    MapAction,
    OpenMap,
    ParkedChoice,
    PlanDone,
    PlanSnooze,
    QuestionnaireStep,
    RunSuggested,
    SeriesStop,
    TierReview,
)
from domain.errors import CommandError
from domain.model import Counsellor
from rendering import alerts
from rendering.agenda import AGENDA_SECTIONS, LIST_PAGE, agenda_message
from rendering.render import language_of, pick_language
from services import clients as clients_service
from services import invites, logs, records, screenings, supervision
from services import parked as parked_service
from services import reminders as rem
from services.errors import AlertWithdrawn, NotYours

log = logging.getLogger("caremap.bot")

PAGE_SIZE = 10

COMMANDS = ("new", "log", "map", "clients", "status", "goal", "plan", "lang", "help", "invite")


# --- /start, /help, /invite, /lang ------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    app = bot_context(context)
    chat = update.effective_chat
    user = update.effective_user
    if user is None or chat is None:
        return
    if chat.type != ChatType.PRIVATE:
        await refuse(update, app, "private_only")
        return
    counsellor = await identify(update, app)
    message = update.effective_message
    code = command_args(message) if message else ""
    fresh = False
    if counsellor is None and code:
        counsellor = await run(
            invites.redeem_invite,
            app.db,
            code,
            user.id,
            display_name(user),
            app.clock(),
            app.settings.timezone,
        )
        fresh = counsellor is not None
        if fresh and user.language_code:  # pushed alerts follow it from the first one on
            counsellor = await run(
                invites.remember_telegram_language,
                app.db,
                counsellor,
                pick_language(None, user.language_code),
            )
    if counsellor is None:
        await refuse(update, app, "invite_invalid" if code else "refusal")
        return
    if not counsellor.active:
        await refuse(update, app, "deactivated")
        return
    if fresh and user.language_code:
        # from the very first /start, pushes (agendas, reminders) speak the colleague's language
        counsellor = await run(
            invites.remember_telegram_language,
            app.db,
            counsellor,
            pick_language(None, user.language_code),
        )
    turn = Turn(
        update, context, app, counsellor, pick_language(counsellor.language, user.language_code)
    )
    if fresh:
        turn.mark_saved()
    unsupervised = await run(supervision.unsupervised, app.db, counsellor, app.clock())

    async def welcome(turn: Turn) -> None:
        await turn.reply("welcome", counsellor=counsellor, fresh=fresh, unsupervised=unsupervised)
        if fresh:
            await _tell_inviter(turn, counsellor)

    await answering(turn, welcome)


async def _tell_inviter(turn: Turn, colleague: Counsellor) -> None:
    """The admin who sent the invite hears that the colleague has joined."""
    inviter = await run(invites.inviter_of, turn.app.db, colleague)
    if inviter is None:
        return
    lang = language_of(inviter)
    text = turn.app.renderer.render(
        lang, "colleague_joined", colleague=colleague, tz=inviter.timezone
    )
    try:
        await turn.context.bot.send_message(inviter.telegram_id, text, parse_mode=ParseMode.HTML)
    except TelegramError:
        log.warning("could not tell the inviter that a colleague joined")


@guard
async def help_(turn: Turn) -> None:
    await turn.reply("help", is_admin=turn.counsellor.is_admin)


@guard
async def invite(turn: Turn) -> None:
    code, expires = await turn.write(invites.create_invite, turn.app.db, turn.counsellor, turn.now)
    username = turn.context.bot.username
    await turn.reply(
        "invite_created", code=code, expires=expires, link=f"https://t.me/{username}?start={code}"
    )


@guard
async def lang(turn: Turn) -> None:
    choice = grammar.parse_lang(turn.args_text)
    if choice is None:  # no argument: show the current language and how to change it
        await turn.reply("lang_usage", current=turn.lang)
        return
    await turn.write(invites.set_language, turn.app.db, turn.counsellor, choice)
    turn.mark_saved()
    turn.lang = choice
    await turn.reply("lang_set")


# --- clients -----------------------------------------------------------------------------


@guard
async def new(turn: Turn) -> None:
    spec = grammar.parse_new(turn.args_text)
    result = await turn.write(
        clients_service.add_client,
        turn.app.db,
        turn.counsellor,
        spec,
        turn.now,
        turn.update_id,
        rules=turn.app.rules,
    )
    if isinstance(result, clients_service.AlreadyHandled):
        return
    await turn.reply("client_added", client=result.client, same_name=result.same_name)


async def _show_logged(turn: Turn, result: logs.Logged) -> None:
    await turn.reply("logged", r=result, markup=_offer(turn, result))
    await _after_write(turn, result)


async def _after_write(turn: Turn, result: Any) -> None:
    """A risk phrase → its prompt, in a message of its own (issue 11)."""

    await after_write(turn, result)


def _offer(turn: Turn, result: Any) -> InlineKeyboardMarkup | None:
    """Item 9 > 0 or risk=crisis → a safety check button on the reply (issue 11)."""

    return offer_markup(turn, result)


async def _write_command(
    turn: Turn, use_case: Callable[..., Any], template: str, **kw: Any
) -> None:
    """/log, /status, /goal, /plan: run the use case on the arguments; an ambiguous client
    gets choice buttons (the command waits, parked); a repeated update does nothing."""
    args = turn.args_text
    result = await turn.write(
        use_case, turn.app.db, turn.counsellor, args, turn.now, turn.update_id, **kw
    )
    if isinstance(result, clients_service.AlreadyHandled):
        return
    if isinstance(result, clients_service.Choice):
        await choose_client(turn, result)
        return
    await turn.reply(
        template, r=result, markup=_join(_logged_markup(turn, result), _offer(turn, result))
    )
    await _after_write(turn, result)


def _join(*markups: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """The rows of several keyboards under one message (None when there are none)."""
    rows = [list(row) for m in markups if m is not None for row in m.inline_keyboard]
    return InlineKeyboardMarkup(rows) if rows else None


def _logged_markup(turn: Turn, result: object) -> InlineKeyboardMarkup | None:
    """Under a log whose `next=` date could not be read: 明天 / 下周一 / 两周后 / no follow-up."""
    pending_id = getattr(result, "next_pending_id", None)
    if not isinstance(result, logs.Logged) or pending_id is None:
        return None
    row = [
        InlineKeyboardButton(
            turn.render(f"button_when_{key}"), callback_data=FollowUpDate(pending_id, key).pack()
        )
        for key in logs.FOLLOW_UP_CHOICES
    ]
    return InlineKeyboardMarkup(
        [
            row,
            [
                InlineKeyboardButton(
                    turn.render("button_no_follow_up"),
                    callback_data=FollowUpDate(pending_id, "x").pack(),
                )
            ],
        ]
    )


@on_tap(FollowUpDate)
async def on_follow_up_date(turn: Turn, tap: FollowUpDate) -> None:
    """`nx:<pending>:<t|m|2w|x>`: the date for a log whose `next=` could not be read."""
    query = turn.update.callback_query
    added = await turn.write(
        logs.set_follow_up,
        turn.app.db,
        turn.counsellor,
        tap.pending_id,
        tap.choice,
        turn.now,
        rules=turn.app.rules,
    )
    await query.answer()
    try:  # the log stays as it was; only the question's buttons go
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise
    if added is None:
        await turn.reply("follow_up_skipped")
    else:
        await turn.reply("plan_added", r=added)


@guard
async def log_(turn: Turn) -> None:
    await _write_command(turn, logs.log_conversation, "logged", rules=turn.app.rules)


async def _show_map(turn: Turn, view: clients_service.MapView) -> None:

    interactions = list(view.map.interactions)[:3]
    text = turn.app.renderer.render_fitting(
        turn.lang,
        "map",
        "interactions",
        interactions,
        m=view.map,
        v=view,
        tz=turn.counsellor.timezone,
        now=turn.now,
    )
    cid = view.map.client.id
    rows = [
        [
            InlineKeyboardButton(
                turn.render("button_map_log"), callback_data=MapAction("l", cid).pack()
            ),
            InlineKeyboardButton(
                turn.render("button_map_plan"), callback_data=MapAction("p", cid).pack()
            ),
            InlineKeyboardButton(
                turn.render("button_map_screen"), callback_data=MapAction("s", cid).pack()
            ),
        ],
        [safety_check_button(turn, cid)],
    ]  # issue 11: a safety check from the map
    if view.map.interaction_count > 3:
        rows.append(
            [
                InlineKeyboardButton(
                    turn.render("button_map_more", n=view.map.interaction_count),
                    callback_data=MapAction("m", cid).pack(),
                )
            ]
        )
    await turn.send_text(text, InlineKeyboardMarkup(rows))


@on_tap(OpenMap)
async def on_open_map(turn: Turn, tap: OpenMap) -> None:
    """`mp:<id>` on /clients and reminders: the map of one client of the tapper."""
    view = await turn.once(clients_service.map_of, turn.app.db, turn.counsellor, tap.client_id)
    await turn.update.callback_query.answer()
    await _show_map(turn, view)


@on_tap(MapAction)
async def on_map_action(turn: Turn, tap: MapAction) -> None:
    """Buttons under a map and reminders, for one client of the tapper: `mx:l|p:<id>` the
    next message is a log / a plan for them; `mx:s:<id>` choose a screening, `mx:9|7:<id>`
    start it; `mx:m:<id>` all conversations."""
    query = turn.update.callback_query
    action, client_id = tap.action, tap.client_id
    if action in ("l", "p"):
        client = await turn.once(
            clients_service.await_text_for,
            turn.app.db,
            turn.counsellor,
            client_id,
            "log" if action == "l" else "plan",
            turn.now,
        )
        await query.answer()
        await turn.reply("awaiting_text", client=client, command="log" if action == "l" else "plan")
    elif action == "s":
        client = await run(clients_service.client_of, turn.app.db, turn.counsellor, client_id)
        await query.answer()
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("PHQ-9", callback_data=MapAction("9", client.id).pack()),
                    InlineKeyboardButton("GAD-7", callback_data=MapAction("7", client.id).pack()),
                ]
            ]
        )
        await turn.reply("choose_screening", markup=markup, client=client)
    elif action in ("9", "7"):
        client = await run(clients_service.client_of, turn.app.db, turn.counsellor, client_id)
        await query.answer()
        turn.args = str(client.number)
        await _screening(turn, "phq9" if action == "9" else "gad7")
    elif action == "m":
        view = await run(
            clients_service.map_of, turn.app.db, turn.counsellor, client_id, interactions=200
        )
        await query.answer()
        text = turn.app.renderer.render_fitting(
            turn.lang,
            "interactions",
            "interactions",
            list(view.map.interactions),
            client=view.map.client,
            total=view.map.interaction_count,
            tz=turn.counsellor.timezone,
        )
        await turn.send_text(text)


@guard
async def map_(turn: Turn) -> None:
    args = turn.args_text
    words = args.split()
    if len(words) > 1 and words[-1].lower() in ("chart", "图", "图表", "趋势"):  # issue 15
        await client_chart(turn, args[: args.rstrip().rfind(words[-1])].strip())
        return
    result = await turn.once(
        clients_service.relationship_map, turn.app.db, turn.counsellor, args, turn.now
    )
    if isinstance(result, clients_service.Choice):
        await choose_client(turn, result)
        return
    await _show_map(turn, result)


def _clients_page(
    turn: Turn, shown: clients_service.CaseloadPage
) -> tuple[str, InlineKeyboardMarkup | None]:
    page, pages, chunk = shown.page, shown.pages, shown.rows
    text = turn.render(
        "clients",
        clients=chunk,
        total=shown.total,
        page=page,
        pages=pages,
        start=page * PAGE_SIZE,
        now=turn.now,
    )
    # each row opens the map with one tap (two to a line, short enough for a phone)
    names = [
        InlineKeyboardButton(
            f"{_icon(row)} {row.client.number} {row.client.name}"[:40],
            callback_data=OpenMap(row.client.id).pack(),
        )
        for row in chunk
    ]
    rows = [names[i : i + 2] for i in range(0, len(names), 2)]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=ClientsPage(page - 1).pack()))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("›", callback_data=ClientsPage(page + 1).pack()))
    if nav:
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows) if rows else None


def _icon(row: clients_service.CaseloadRow) -> str:
    return {"crisis": "🔴", "high": "🟠", "medium": "🟡", "low": "🟢"}.get(row.risk.value, "")


@guard
async def clients(turn: Turn) -> None:
    shown = await run(
        clients_service.caseload_page, turn.app.db, turn.counsellor, turn.now, 0, PAGE_SIZE
    )
    text, markup = _clients_page(turn, shown)
    await turn.send_text(text, markup)


@guard
async def status(turn: Turn) -> None:
    await _write_command(turn, records.set_status, "status", rules=turn.app.rules)


@guard
async def goal(turn: Turn) -> None:
    await _write_command(turn, records.add_goal, "goal_added", rules=turn.app.rules)


@guard
async def plan(turn: Turn) -> None:
    await _write_command(turn, records.add_plan, "plan_added", rules=turn.app.rules)


# --- screenings: by arguments or one item per step in one edited message -----------------


async def _screening(turn: Turn, instrument: str) -> None:
    args = turn.args_text
    result = await turn.write(
        screenings.screening,
        turn.app.db,
        turn.counsellor,
        instrument,
        args,
        turn.now,
        turn.update_id,
        rules=turn.app.rules,
    )
    if isinstance(result, clients_service.AlreadyHandled):
        return
    if isinstance(result, clients_service.Choice):
        await choose_client(turn, result)
    elif isinstance(result, screenings.Questionnaire):
        text, markup = question_message(turn, result, ())
        await turn.send_text(text, markup)
    else:
        await turn.reply("screening_saved", r=result, markup=_offer(turn, result))


@guard
async def phq9(turn: Turn) -> None:
    await _screening(turn, "phq9")


@guard
async def gad7(turn: Turn) -> None:
    await _screening(turn, "gad7")


@on_tap(QuestionnaireStep)
async def on_questionnaire(turn: Turn, tap: QuestionnaireStep) -> None:
    query = turn.update.callback_query
    pending_id, answers = tap.pending_id, tap.answers
    if answers == "x":
        if await turn.once(
            parked_service.cancel_pending, turn.app.db, turn.counsellor, pending_id, turn.now
        ):
            await query.answer()
            await edit(query, turn.render("cancelled"))
            return
        raise NotYours()
    step = await turn.write(
        screenings.questionnaire_step,
        turn.app.db,
        turn.counsellor,
        pending_id,
        answers,
        turn.now,
        rules=turn.app.rules,
    )
    await query.answer()
    if isinstance(step, screenings.Questionnaire):
        text, markup = question_message(turn, step, answers)
        await edit(query, text, markup)
    else:
        await edit(query, turn.render("screening_saved", r=step), _offer(turn, step))


# --- reminders, alerts, agenda, settings ---------------------------------------------------


@guard
async def today(turn: Turn) -> None:
    data = await run(rem.today, turn.app.db, turn.counsellor, turn.now)
    text, rows = agenda_message(
        turn.app.renderer, turn.lang, data, tz=turn.counsellor.timezone, now=turn.now, pushed=False
    )
    await turn.send_text(text, _markup(rows))


def _markup(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows]
    )


@on_tap(ConfirmQuietReviews)
async def on_confirm_quiet_reviews(turn: Turn, tap: ConfirmQuietReviews) -> None:
    """`ra`: confirm every quiet low-risk review of today."""
    query = turn.update.callback_query
    confirmed = await turn.write(
        rem.confirm_quiet_reviews, turn.app.db, turn.counsellor, turn.now, rules=turn.app.rules
    )
    await query.answer()
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise
    await turn.reply("reviews_confirmed", clients=confirmed)


@on_tap(AgendaList)
async def on_agenda_list(turn: Turn, tap: AgendaList) -> None:
    """`al:<section>:<page>`: a whole agenda list, as a new message."""
    text, markup = await _agenda_list(turn, tap.section, tap.page)
    await turn.update.callback_query.answer()
    await turn.send_text(text, markup)


@on_tap(AgendaListPage)
async def on_agenda_list_page(turn: Turn, tap: AgendaListPage) -> None:
    """`alp:<section>:<page>`: that list, paged in its message."""
    query = turn.update.callback_query
    text, markup = await _agenda_list(turn, tap.section, tap.page)
    await query.answer()
    await edit(query, text, markup)


async def _agenda_list(
    turn: Turn, code: str, asked: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    section = AGENDA_SECTIONS[code]
    lists = await run(rem.agenda_lists, turn.app.db, turn.counsellor, turn.now)
    rows = lists[section]
    pages = max(1, -(-len(rows) // LIST_PAGE))
    page = min(asked, pages - 1)
    text = turn.render(
        "agenda_list",
        section=section,
        rows=rows[page * LIST_PAGE : (page + 1) * LIST_PAGE],
        total=len(rows),
        page=page,
        pages=pages,
        start=page * LIST_PAGE,
        now=turn.now,
    )
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=AgendaListPage(code, page - 1).pack()))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("›", callback_data=AgendaListPage(code, page + 1).pack()))
    return text, InlineKeyboardMarkup([nav]) if nav else None


@guard
async def tz(turn: Turn) -> None:
    args = turn.args_text
    if not args:
        await _show_settings(turn, changed=False)
        return
    change = schedule.SettingsChange(timezone=schedule.parse_timezone(args))
    turn.counsellor = await turn.write(rem.update_settings, turn.app.db, turn.counsellor, change)
    await _show_settings(turn, changed=True)


async def _show_settings(turn: Turn, changed: bool) -> None:
    """The settings; for an admin also who has no supervisor (and where their alerts go)."""
    unsupervised = await run(supervision.unsupervised, turn.app.db, turn.counsellor, turn.now)
    mine = await run(supervision.escalation_of, turn.app.db, turn.counsellor, turn.now)
    await turn.reply(
        "settings",
        c=turn.counsellor,
        now=turn.now,
        changed=changed,
        unsupervised=unsupervised,
        mine=mine,
    )


@guard
async def settings(turn: Turn) -> None:
    args = turn.args_text
    words = args.split()
    if words and words[0].lower() in ("supervisor", "督导"):
        await _supervisor(turn, words[1:])
        return
    change = schedule.parse_settings(args)
    if change.is_empty:
        await _show_settings(turn, changed=False)
        return
    turn.counsellor = await turn.write(rem.update_settings, turn.app.db, turn.counsellor, change)
    await _show_settings(turn, changed=True)


async def _supervisor(turn: Turn, words: list[str]) -> None:
    if not turn.counsellor.is_admin:
        raise CommandError("admin_only")
    ids = [w for w in words if w.lstrip("-").isdigit()]
    if len(ids) not in (1, 2) or len(ids) != len(words):
        await turn.reply("supervisor_usage")
        return
    counsellor_tid = int(ids[0])
    supervisor_tid = int(ids[1]) if len(ids) == 2 else None
    result = await turn.write(
        rem.set_supervisor, turn.app.db, turn.counsellor, counsellor_tid, supervisor_tid, turn.now
    )
    if result is None:
        await turn.reply("supervisor_unknown")
        return
    counsellor, supervisor = result
    await turn.reply("supervisor_set", counsellor=counsellor, supervisor=supervisor)


@on_tap(PlanDone)
async def on_plan_done(turn: Turn, tap: PlanDone) -> None:
    query = turn.update.callback_query
    out = await turn.write(rem.complete_plan, turn.app.db, turn.counsellor, tap.plan_id, turn.now)
    await query.answer(turn.render("toast_done" if out.changed else "toast_already"))
    await edit(query, turn.render("plan_done", o=out))


@on_tap(PlanSnooze)
async def on_plan_snooze(turn: Turn, tap: PlanSnooze) -> None:
    query = turn.update.callback_query
    out = await turn.write(
        rem.snooze_plan, turn.app.db, turn.counsellor, tap.plan_id, tap.span, turn.now
    )
    await query.answer(turn.render("toast_snoozed" if out.changed else "toast_already"))
    await edit(query, turn.render("plan_snoozed", o=out))


@on_tap(SeriesStop)
async def on_series_stop(turn: Turn, tap: SeriesStop) -> None:
    query = turn.update.callback_query
    out = await turn.write(rem.stop_series, turn.app.db, turn.counsellor, tap.plan_id, turn.now)
    await query.answer(turn.render("toast_stopped"))
    await edit(query, turn.render("plan_added", r=out))


@on_tap(AckAlert)
async def on_ack_alert(turn: Turn, tap: AckAlert) -> None:
    query = turn.update.callback_query
    try:
        out = await turn.write(
            rem.acknowledge_alert, turn.app.db, turn.counsellor, tap.alert_id, turn.now
        )
    except AlertWithdrawn:  # undone, or the client forgotten: say so, take the buttons off
        await query.answer(turn.render("toast_alert_withdrawn"), show_alert=True)
        with contextlib.suppress(BadRequest):  # a second tap: the buttons are off already
            await query.edit_message_reply_markup(None)
        return
    await query.answer(
        turn.render("toast_acknowledged" if out.changed else "toast_already_acknowledged")
    )
    await _acknowledge_copies(turn, query, out)


@on_tap(TierReview)
async def on_tier_review(turn: Turn, tap: TierReview) -> None:
    """Tier review Confirm (`rv:c:<client>`) / Lower (`rv:l:<client>`: asks why, then
    `rv:r:<client>:<reason>`, in bot.handlers_crisis)."""
    query = turn.update.callback_query
    if tap.action == "l":
        await ask_why_lower(turn, tap.client_id)
        return
    out = await turn.write(
        rem.confirm_review,
        turn.app.db,
        turn.counsellor,
        tap.client_id,
        turn.now,
        rules=turn.app.rules,
    )
    await query.answer()
    await edit(query, turn.render("review_done", o=out))


async def _acknowledge_copies(turn: Turn, query: CallbackQuery, out: rem.AlertOutcome) -> None:
    """Every copy of the alert (the tapped one, the repeats, the escalations a supervisor or
    the admins received) keeps its text, says when it was acknowledged and loses its buttons."""
    tapped = query.message.message_id if query.message is not None else None
    views = alerts.acknowledged_views(out, tapped)
    edits = alerts.acknowledged_edits(turn.app.renderer, views, out.alert.acknowledged_at, turn.now)
    for copy in edits:
        try:
            await turn.context.bot.edit_message_text(
                copy.text,
                chat_id=copy.chat_id,
                message_id=copy.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=None,
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning(
                    "could not update a copy of alert %s: %s", out.alert.id, type(exc).__name__
                )
        except Forbidden:
            log.warning(
                "could not update a copy of alert %s: the recipient blocked the bot", out.alert.id
            )


@on_tap(CadenceSnooze)
async def on_cadence_snooze(turn: Turn, tap: CadenceSnooze) -> None:
    """`cz:<client>`: "该联系" put off by a day (a new reminder row, unless contacted meanwhile)."""
    query = turn.update.callback_query
    client, until = await turn.write(
        rem.snooze_cadence, turn.app.db, turn.counsellor, tap.client_id, turn.now
    )
    await query.answer(turn.render("toast_snoozed"))
    await edit(query, turn.render("cadence_snoozed", client=client, until=until))


@guard
async def unknown_command(turn: Turn) -> None:
    text = (turn.update.effective_message.text or "").strip()
    typed = grammar.split_command(text)
    if typed is None:
        await turn.reply(
            "unknown_command", command=text.split()[0][:40] if text.split() else "", meant=None
        )
        return
    await _unknown(turn, typed[0], typed[1], text.split()[0][:40])


async def _unknown(turn: Turn, name: str, args: str, shown: str) -> None:
    """`/lgo 学生B …`: "did you mean /log?" with a button that runs it on the same text."""
    meant = grammar.suggest_command(name, sorted(dispatch(turn)))
    if meant is None:
        await turn.reply("unknown_command", command=shown, meant=None)
        return
    pending_id = await turn.once(
        parked_service.park_command, turn.app.db, turn.counsellor, meant, args, turn.now
    )
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    turn.render("button_run", command=meant),
                    callback_data=RunSuggested(pending_id, "y").pack(),
                ),
                InlineKeyboardButton(
                    turn.render("button_cancel"), callback_data=RunSuggested(pending_id, "x").pack()
                ),
            ]
        ]
    )
    await turn.reply(
        "unknown_command", markup=markup, command=shown, meant=meant, args=clip(args, 60)
    )


@on_tap(RunSuggested)
async def on_run_suggested(turn: Turn, tap: RunSuggested) -> None:
    """`rc:<pending>:y|x`: run (or drop) the command a typo was taken for, on the same text."""
    query = turn.update.callback_query
    command, args = await turn.once(
        parked_service.take_parked_command, turn.app.db, turn.counsellor, tap.pending_id, turn.now
    )
    await query.answer()
    if tap.answer == "x":
        await edit(query, turn.render("cancelled"))
        return
    await edit(query, turn.render("running", command=command))
    handler = dispatch(turn).get(command)
    if handler is None:
        raise NotYours()
    turn.args = args
    await handler(turn)


async def _typed_command(turn: Turn, text: str) -> bool:
    """`／log 学生B …`, `／ｍａｐ 学生B`, `、log …`: a command typed with a full-width slash.
    True when handled as a command (run, or answered with "did you mean")."""
    typed = grammar.split_command(text)
    if typed is None:
        return False
    name, args, _ = typed
    handler = dispatch(turn).get(name)
    if handler is not None:
        turn.args = args
        await handler(turn)
        return True
    if text[0] == "、":  # "、" starts ordinary Chinese text far more often than a command
        return False
    await _unknown(turn, name, args, text.split()[0][:40])
    return True


# --- plain text: one message, one tap ---------------------------------------------------


@guard
async def plain_text(turn: Turn) -> None:
    message = turn.update.effective_message
    text = (message.text or "").strip()
    if not text:
        return
    if await _typed_command(turn, text):
        return
    awaited = await run(clients_service.take_awaited_text, turn.app.db, turn.counsellor, turn.now)
    if awaited is not None:  # after 📝 记录 / ⏰ 计划 under a map or a reminder
        command, number = awaited
        handler = dispatch(turn).get(command)
        if handler is not None:
            turn.args = f"{number} {text}"
            await handler(turn)
            return
    waiting = await run(
        parked_service.pending_new_client_note, turn.app.db, turn.counsellor, turn.now
    )
    if waiting is not None:
        spec = grammar.parse_new(text)
        result = await turn.write(
            parked_service.new_client_with_note,
            turn.app.db,
            turn.counsellor,
            waiting,
            spec,
            turn.now,
            turn.update_id,
            rules=turn.app.rules,
            new_args=text,
        )
        await _after_new_with_note(turn, result)
        return
    if len(text) > 8000:
        raise CommandError("notes_too_long", length=len(text), max=8000)
    found = await run(parked_service.find_for_note, turn.app.db, turn.counsellor, text, turn.now)
    if found is not None:  # after 🔍: this message names the student of the parked note
        await turn.claim()  # handled twice: the choice is not asked twice
        note_id, clients_found = found
        parked = parked_service.ParkedNote(
            pending_id=note_id, recent=clients_found, named=clients_found
        )
        await turn.reply(
            "which_client",
            markup=_note_picker(turn, parked),
            recent=parked.recent,
            named=parked.named,
            searched=text,
            same=_same_names(parked.recent),
        )
        return
    parked = await turn.once(parked_service.park_note, turn.app.db, turn.counsellor, text, turn.now)
    await turn.reply(
        "which_client",
        markup=_note_picker(turn, parked),
        recent=parked.recent,
        named=parked.named,
        searched=None,
        same=_same_names(parked.recent),
    )


async def _after_new_with_note(turn: Turn, result: object) -> None:
    if isinstance(result, clients_service.AlreadyHandled):
        return
    if isinstance(
        result, parked_service.SameName
    ):  # 周晓雯 exists: the same person, or a namesake?
        rows = [
            [
                InlineKeyboardButton(
                    _client_label(c, {c.name}) if c.sid or c.major else f"#{c.number} {c.name}",
                    callback_data=ParkedChoice(result.pending_id, c.id).pack(),
                )
            ]
            for c in result.existing
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    turn.render("button_new_anyway", name=result.name),
                    callback_data=ParkedChoice(result.pending_id, "N").pack(),
                )
            ]
        )
        await turn.reply(
            "same_name_ask",
            markup=InlineKeyboardMarkup(rows),
            name=result.name,
            existing=result.existing,
        )
        return
    added, logged = result
    turn.mark_saved(added.client)
    await turn.reply("client_added", client=added.client, same_name=added.same_name)
    await _show_logged(turn, logged)


def _same_names(clients: list) -> set[str]:
    names = [c.name for c in clients]
    return {n for n in names if names.count(n) > 1}


def _client_label(c, same: set[str]) -> str:
    """`#27 周晓雯`, or with the student number / major when two share the name."""
    label = f"#{c.number} {c.name}"
    if c.name in same:
        label += f" · {c.sid or c.major or ''}".rstrip(" ·")
    return label[:60]


def _note_picker(turn: Turn, parked: parked_service.ParkedNote) -> InlineKeyboardMarkup:
    """Who is this note about: the students named at its start first (⭐), recent ones, then
    ➕ new / 🔍 search / cancel (which asks before throwing the note away)."""
    pid = parked.pending_id
    same = _same_names(parked.recent)
    rows = [
        [
            InlineKeyboardButton(
                ("⭐ " if c in parked.named else "") + _client_label(c, same),
                callback_data=ParkedChoice(pid, c.id).pack(),
            )
        ]
        for c in parked.recent
    ]
    rows.append(
        [
            InlineKeyboardButton(
                turn.render("button_new_client"), callback_data=ParkedChoice(pid, "n").pack()
            ),
            InlineKeyboardButton(
                turn.render("button_search"), callback_data=ParkedChoice(pid, "s").pack()
            ),
            InlineKeyboardButton(
                turn.render("button_cancel"), callback_data=ParkedChoice(pid, "x").pack()
            ),
        ]
    )
    return InlineKeyboardMarkup(rows)


# --- buttons -----------------------------------------------------------------------------


@on_tap(ParkedChoice)
async def on_choice(turn: Turn, tap: ParkedChoice) -> None:
    query = turn.update.callback_query
    pending_id, target = tap.pending_id, tap.target
    if (
        target == "x"
        and await run(
            parked_service.pending_kind, turn.app.db, turn.counsellor, pending_id, turn.now
        )
        != "note"
    ):
        target = (
            "xx"  # a parked command's choice: nothing typed is lost that the chat does not show
        )
    if target == "x":  # ask before a typed note is thrown away
        await query.answer()
        await edit(
            query,
            turn.render("discard_confirm"),
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            turn.render("button_discard"),
                            callback_data=ParkedChoice(pending_id, "xx").pack(),
                        ),
                        InlineKeyboardButton(
                            turn.render("button_keep"),
                            callback_data=ParkedChoice(pending_id, "b").pack(),
                        ),
                    ]
                ]
            ),
        )
        return
    if target == "xx":
        if await turn.once(
            parked_service.cancel_pending, turn.app.db, turn.counsellor, pending_id, turn.now
        ):
            await query.answer()
            await edit(query, turn.render("cancelled"))
            return
        raise NotYours()
    if target == "b":
        await turn.claim()
        parked = await run(
            parked_service.parked_note, turn.app.db, turn.counsellor, pending_id, turn.now
        )
        await query.answer()
        await edit(
            query,
            turn.render(
                "which_client",
                recent=parked.recent,
                named=parked.named,
                searched=None,
                same=_same_names(parked.recent),
            ),
            _note_picker(turn, parked),
        )
        return
    if target == "N":
        result = await turn.write(
            parked_service.new_anyway,
            turn.app.db,
            turn.counsellor,
            pending_id,
            turn.now,
            turn.update_id,
            rules=turn.app.rules,
        )
        await query.answer()
        await edit(query, turn.render("chosen_new"))
        await _after_new_with_note(turn, result)
        return
    if target == "s":
        await turn.once(
            parked_service.search_for_note, turn.app.db, turn.counsellor, pending_id, turn.now
        )
        await query.answer()
        await edit(query, turn.render("search_prompt"))
        return
    client_id = None if target == "n" else target
    resumed = await turn.write(
        parked_service.resume_pending,
        turn.app.db,
        turn.counsellor,
        pending_id,
        client_id,
        turn.now,
        rules=turn.app.rules,
    )
    await query.answer()
    show = RESUMED.get(resumed.command)
    if show is not None:
        await show(turn, query, resumed.result)


# --- a parked command resumed by the client's button: what it shows ---------------------

Resumed = Callable[[Turn, CallbackQuery, Any], Awaitable[None]]


async def _resumed_ask_name(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(query, turn.render("ask_new_client_name"))


async def _resumed_log(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(
        query,
        turn.render("logged", r=result),
        _join(_logged_markup(turn, result), _offer(turn, result)),
    )
    await _after_write(turn, result)


async def _resumed_status(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(query, turn.render("status", r=result), _offer(turn, result))


async def _resumed_goal(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(query, turn.render("goal_added", r=result))
    await _after_write(turn, result)


async def _resumed_plan(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(query, turn.render("plan_added", r=result))


async def _resumed_map(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(query, turn.render("chosen", client=result.map.client))
    await _show_map(turn, result)


async def _resumed_screening(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(query, turn.render("screening_saved", r=result), _offer(turn, result))


async def _resumed_ask_screening(turn: Turn, query: CallbackQuery, result: Any) -> None:
    await edit(query, turn.render("chosen", client=result.client))
    text, markup = question_message(turn, result, ())
    await turn.send_text(text, markup)


#: `parked_service.Resumed.command` → what the tapped message becomes (and what follows it)
RESUMED: dict[str, Resumed] = {
    "ask_name": _resumed_ask_name,
    "log": _resumed_log,
    "status": _resumed_status,
    "goal": _resumed_goal,
    "plan": _resumed_plan,
    "map": _resumed_map,
    "screening": _resumed_screening,
    "ask_screening": _resumed_ask_screening,
}


@on_tap(ClientsPage)
async def on_clients_page(turn: Turn, tap: ClientsPage) -> None:
    query = turn.update.callback_query
    await turn.claim()  # handled twice: "already done", never an error on the old query
    shown = await run(
        clients_service.caseload_page, turn.app.db, turn.counsellor, turn.now, tap.page, PAGE_SIZE
    )
    text, markup = _clients_page(turn, shown)
    await query.answer()
    await edit(query, text, markup)


@guard
async def on_unknown_button(turn: Turn) -> None:
    raise BadButton(turn.update.callback_query.data or "")


# --- errors ------------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    # Never log the update itself: it may carry a counsellor's notes.
    error = context.error
    log.error(
        "error while handling an update: %s",
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if (
        isinstance(update, Update)
        and update.effective_chat
        and update.effective_chat.type == ChatType.PRIVATE
    ):
        app = bot_context(context)
        user = update.effective_user
        lang = pick_language(None, user.language_code if user else None)
        try:
            await context.bot.send_message(
                update.effective_chat.id,
                app.renderer.render(lang, "internal_error"),
                parse_mode=ParseMode.HTML,
            )
        except Exception:  # noqa: BLE001 - the error handler must not raise
            log.warning("could not tell the user about the error")


def register(application: Application) -> None:
    """This module's commands (first: the group refusal and the core commands)."""
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & filters.COMMAND & filters.UpdateType.MESSAGE, _group_refusal
        )
    )
    application.add_handler(command("start", start))
    application.add_handler(command("help", help_))
    application.add_handler(command("invite", invite))
    application.add_handler(command("lang", lang))
    application.add_handler(command("new", new))
    application.add_handler(command("log", log_))
    application.add_handler(command("map", map_))
    application.add_handler(command("clients", clients))
    application.add_handler(command("status", status))
    application.add_handler(command("goal", goal))
    application.add_handler(command("plan", plan))
    application.add_handler(command("phq9", phq9))
    application.add_handler(command("gad7", gad7))
    application.add_handler(command("today", today))
    application.add_handler(command("tz", tz))
    application.add_handler(command("settings", settings))


@guard
async def edited(turn: Turn) -> None:
    """A message edited after it was sent: Telegram shows the new text, but what was saved
    from it stays as it was. Say so, so the counsellor does not believe the record fixed."""
    await turn.reply("edited_not_applied")


def register_fallbacks(application: Application) -> None:
    """After every module's commands and buttons: unknown commands, plain text, the core
    buttons, the catch-all for stale or forged buttons, the error handler, and the table
    of commands that typed `／log …` and "did you mean" buttons run."""
    private = filters.ChatType.PRIVATE
    application.add_handler(
        MessageHandler(
            private & filters.UpdateType.EDITED_MESSAGE & (filters.TEXT | filters.CAPTION), edited
        )
    )
    application.add_handler(
        MessageHandler(private & filters.COMMAND & filters.UpdateType.MESSAGE, unknown_command)
    )
    application.add_handler(
        MessageHandler(
            private & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, plain_text
        )
    )
    # each button kind to its handler, by the codec (`domain.buttons`); data of no kind,
    # forged or stale, to the catch-all: "this button no longer works"
    for handler in (
        on_choice,
        on_clients_page,
        on_questionnaire,
        on_plan_done,
        on_plan_snooze,
        on_series_stop,
        on_ack_alert,
        on_tier_review,
        on_follow_up_date,
        on_open_map,
        on_map_action,
        on_cadence_snooze,
        on_confirm_quiet_reviews,
        on_agenda_list,
        on_agenda_list_page,
        on_run_suggested,
    ):
        application.add_handler(button_handler(handler))
    application.add_handler(CallbackQueryHandler(on_unknown_button))
    application.add_error_handler(on_error)
    # `／log …` typed with a full-width slash, and "did you mean /log?" buttons, run the same
    # handlers: name → the guarded function's body (the guard already ran for that update).
    table: dict[str, Handler] = {}
    for group in application.handlers.values():
        for handler in group:
            inner = getattr(handler.callback, "__wrapped__", None)
            if isinstance(handler, CommandHandler) and inner is not None:
                for name in handler.commands:
                    table.setdefault(name, inner)
    application.bot_data["dispatch"] = table


async def _group_refusal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await refuse(update, bot_context(context), "private_only")
