"""Telegram handlers: thin. Parse → call a service → render a template → reply.

Access control happens here once, in `_guard`: private chats only, invited counsellors
only. Everything a counsellor reads is rendered from templates/<lang>/.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
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

from bot.app import BotContext
from domain import buttons, grammar, schedule
from domain.errors import CommandError
from domain.model import Counsellor
from domain.screening import ANSWER_LABELS, SPECS, Instrument
from rendering import alerts
from rendering.agenda import AGENDA_SECTIONS, LIST_PAGE, agenda_message
from rendering.render import fit_message, language_of, pick_language
from services import core, supervision
from services import reminders as rem
from storage.errors import AlreadyProcessed
from storage.once import Once

log = logging.getLogger("caremap.bot")

PAGE_SIZE = 10

COMMANDS = ("new", "log", "map", "clients", "status", "goal", "plan", "lang", "help", "invite")


# --- plumbing ----------------------------------------------------------------------------


def _ctx(context: ContextTypes.DEFAULT_TYPE) -> BotContext:
    return context.application.bot_data["ctx"]


async def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Database work runs in a worker thread, one unit of work per call."""
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


def _display_name(user: User) -> str:
    return (user.full_name or user.username or str(user.id))[:64]


@dataclass
class Turn:
    """One update being handled for one counsellor."""

    update: Update
    context: ContextTypes.DEFAULT_TYPE
    app: BotContext
    counsellor: Counsellor
    lang: str
    args: str | None = None  # set when the command came from `／log …` text or a button
    # Set once a use case has committed something for this update: from then on a failure
    # (a reply Telegram refuses, a network error) must not be reported as "nothing saved".
    saved: bool = False
    saved_client: Any = None
    _once: Once | None = None  # this handling's claim of the update id (see `once`)

    @property
    def args_text(self) -> str:
        """The command's arguments, exactly as typed."""
        if self.args is not None:
            return self.args
        return _args_text(self.update.effective_message)

    @property
    def now(self):
        return self.app.clock()

    @property
    def update_id(self) -> int:
        return self.update.update_id

    def render(self, template: str, /, **kw: Any) -> str:
        return self.app.renderer.render(self.lang, template, tz=self.counsellor.timezone, **kw)

    async def reply(
        self, template: str, /, *, markup: InlineKeyboardMarkup | None = None, **kw: Any
    ) -> Message:
        return await self.send_text(self.render(template, **kw), markup)

    async def send_text(self, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
        chat_id = self.update.effective_chat.id
        return await self.context.bot.send_message(
            chat_id, fit_message(text), parse_mode=ParseMode.HTML, reply_markup=markup,
            disable_web_page_preview=True,
        )

    async def once(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run a use case that writes, once per Telegram update: its first write unit of
        work records the update id in the same transaction, so a redelivered or replayed
        update raises `AlreadyProcessed` (answered in `_answering`) and writes nothing."""
        db, update_id, now = self.app.db, self.update_id, self.now
        if self._once is None:
            self._once = Once(update_id, now)
        state = self._once

        def once() -> Any:
            with db.once(update_id, now, state=state):
                return fn(*args, **kwargs)

        return await _run(once)

    async def claim(self) -> None:
        """Record this update as handled, for a button that only shows something (a question
        with its choices): handled again, it is answered "already done" like a write, rather
        than answering a query Telegram no longer takes and reporting an error."""
        await self.once(_claim_only, self.app.db)

    async def write(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`once`, for a use case that stores the counsellor's data: when it has returned,
        that is committed, and the turn remembers so (see `_answering`)."""
        result = await self.once(fn, *args, **kwargs)
        if _stored_something(result):
            self.mark_saved(getattr(result, "client", None))
        return result

    def mark_saved(self, client: Any = None) -> None:
        self.saved = True
        if client is not None and hasattr(client, "number"):
            self.saved_client = client


def _claim_only(db: Any) -> None:
    with db.uow(write=True):  # inside `Database.once`: records the update id, nothing else
        pass


def _stored_something(result: Any) -> bool:
    from services.core import AlreadyHandled, Choice, Questionnaire, Resumed
    from services.referrals import Suggestions

    if result is None or result is False or isinstance(
        result, (AlreadyHandled, Choice, Questionnaire, Suggestions)
    ):
        return False
    if isinstance(result, Resumed):
        return result.command in SAVING_RESUMES
    return bool(getattr(result, "changed", True))


# a parked command resumed by a button: these store something; the others only show or ask
SAVING_RESUMES = frozenset({"log", "status", "goal", "plan", "screening"})


def _args_text(message: Message) -> str:
    """The text after `/command` (or `/command@bot`), exactly as typed: newlines kept."""
    text = message.text or ""
    for entity in message.entities or ():
        if entity.type == "bot_command" and entity.offset == 0:
            return text[entity.length:].strip()
    typed = grammar.split_command(text.strip())  # `／log …`: Telegram marks no command
    if typed is not None:
        return typed[1]
    return text.strip()


async def _refuse(update: Update, app: BotContext, name: str = "refusal") -> None:
    user = update.effective_user
    lang = pick_language(None, user.language_code if user else None)
    text = app.renderer.render(lang, name)
    if update.callback_query is not None:
        await update.callback_query.answer(text[:190], show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)


async def _identify(update: Update, app: BotContext) -> Counsellor | None:
    user = update.effective_user
    counsellor = await _run(core.find_counsellor, app.db, user.id)
    if counsellor is not None and not counsellor.active:
        return counsellor  # refused by the caller; nothing about them is written
    if counsellor is None and user.id in app.settings.admin_ids:
        counsellor = await _run(
            core.ensure_admin, app.db, user.id, _display_name(user), app.clock(), app.settings.timezone
        )
    if counsellor is not None and user.language_code:
        seen = pick_language(None, user.language_code)
        if counsellor.telegram_language != seen:
            counsellor = await _run(core.remember_telegram_language, app.db, counsellor, seen)
    return counsellor


Handler = Callable[[Turn], Awaitable[None]]


def _guard(fn: Handler) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """Private chats and invited counsellors only; errors become clear replies."""

    @functools.wraps(fn)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        app = _ctx(context)
        chat = update.effective_chat
        if update.effective_user is None or chat is None:
            return
        if chat.type != ChatType.PRIVATE:
            if update.callback_query is None:
                await _refuse(update, app, "private_only")
            return
        counsellor = await _identify(update, app)
        if counsellor is None:
            await _refuse(update, app)
            return
        if not counsellor.active:  # an admin ended their access (issue 14): nothing at all
            await _refuse(update, app, "deactivated")
            return
        turn = Turn(update, context, app, counsellor,
                    pick_language(counsellor.language, update.effective_user.language_code))
        await _answering(turn, fn)

    return wrapper


def _clip_param(value: object, limit: int = 120) -> object:
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


async def _answering(turn: Turn, fn: Handler) -> None:
    try:
        await _answering_inner(turn, fn)
    except Exception as exc:
        if not turn.saved:
            raise  # rolled back: on_error says so
        # The transaction committed; only the reply failed. Say so, or the counsellor
        # sends it again and it is stored twice.
        log.error("reply failed after a committed change: %s", type(exc).__name__,
                  exc_info=(type(exc), exc, exc.__traceback__))
        await _tell_saved(turn)


async def _tell_saved(turn: Turn) -> None:
    query = turn.update.callback_query
    if query is not None:
        try:
            await query.answer(turn.render("saved_toast")[:190])
        except Exception:  # noqa: BLE001 - already answered, or gone: the message below says it
            pass
    try:
        await turn.send_text(turn.render("saved_reply_failed", client=turn.saved_client))
    except Exception:  # noqa: BLE001 - the error path must not raise
        log.warning("could not tell the user that the change was saved")


async def _answering_inner(turn: Turn, fn: Handler) -> None:
    try:
        await fn(turn)
    except CommandError as exc:
        # Echoed input is clipped, so a reply about a 4000-character word still fits.
        params = {k: _clip_param(v) for k, v in exc.params.items()}
        await turn.reply(f"errors/{exc.code}", **params)
    except core.UnknownClient as exc:
        await turn.reply("client_not_found", ref=_clip_param(exc.ref), suggestions=exc.suggestions)
    except buttons.BadButton:
        await _stale_button(turn.update, turn.app, turn.lang)
    except AlreadyProcessed:
        # The same update again (Telegram redelivered it, or it is replayed from the inbox
        # after a restart): it was handled and committed before; do nothing twice.
        log.info("update %s was handled before; skipped", turn.update_id)
        if turn.update.callback_query is not None:
            try:
                await turn.update.callback_query.answer(turn.render("toast_already")[:190])
            except Exception:  # noqa: BLE001 - an old query may no longer be answerable
                pass
    except core.NotYours:
        if turn.update.callback_query is not None:
            await turn.update.callback_query.answer(turn.render("not_yours"), show_alert=True)
        else:
            await turn.reply("not_yours")


# --- /start, /help, /invite, /lang ------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    app = _ctx(context)
    chat = update.effective_chat
    user = update.effective_user
    if user is None or chat is None:
        return
    if chat.type != ChatType.PRIVATE:
        await _refuse(update, app, "private_only")
        return
    counsellor = await _identify(update, app)
    message = update.effective_message
    code = _args_text(message) if message else ""
    fresh = False
    if counsellor is None and code:
        counsellor = await _run(
            core.redeem_invite, app.db, code, user.id, _display_name(user), app.clock(), app.settings.timezone
        )
        fresh = counsellor is not None
        if fresh and user.language_code:  # pushed alerts follow it from the first one on
            counsellor = await _run(core.remember_telegram_language, app.db, counsellor,
                                    pick_language(None, user.language_code))
    if counsellor is None:
        await _refuse(update, app, "invite_invalid" if code else "refusal")
        return
    if not counsellor.active:
        await _refuse(update, app, "deactivated")
        return
    if fresh and user.language_code:
        # from the very first /start, pushes (agendas, reminders) speak the colleague's language
        counsellor = await _run(core.remember_telegram_language, app.db, counsellor,
                                pick_language(None, user.language_code))
    turn = Turn(update, context, app, counsellor, pick_language(counsellor.language, user.language_code))
    if fresh:
        turn.mark_saved()
    unsupervised = await _run(supervision.unsupervised, app.db, counsellor, app.clock())

    async def welcome(turn: Turn) -> None:
        await turn.reply("welcome", counsellor=counsellor, fresh=fresh, unsupervised=unsupervised)
        if fresh:
            await _tell_inviter(turn, counsellor)

    await _answering(turn, welcome)


async def _tell_inviter(turn: Turn, colleague: Counsellor) -> None:
    """The admin who sent the invite hears that the colleague has joined."""
    inviter = await _run(core.inviter_of, turn.app.db, colleague)
    if inviter is None:
        return
    lang = language_of(inviter)
    text = turn.app.renderer.render(lang, "colleague_joined", colleague=colleague, tz=inviter.timezone)
    try:
        await turn.context.bot.send_message(inviter.telegram_id, text, parse_mode=ParseMode.HTML)
    except TelegramError:
        log.warning("could not tell the inviter that a colleague joined")


@_guard
async def help_(turn: Turn) -> None:
    await turn.reply("help", is_admin=turn.counsellor.is_admin)


@_guard
async def invite(turn: Turn) -> None:
    code, expires = await turn.write(core.create_invite, turn.app.db, turn.counsellor, turn.now)
    username = turn.context.bot.username
    await turn.reply("invite_created", code=code, expires=expires, link=f"https://t.me/{username}?start={code}")


@_guard
async def lang(turn: Turn) -> None:
    choice = grammar.parse_lang(turn.args_text)
    if choice is None:  # no argument: show the current language and how to change it
        await turn.reply("lang_usage", current=turn.lang)
        return
    await turn.write(core.set_language, turn.app.db, turn.counsellor, choice)
    turn.mark_saved()
    turn.lang = choice
    await turn.reply("lang_set")


# --- clients -----------------------------------------------------------------------------


@_guard
async def new(turn: Turn) -> None:
    spec = grammar.parse_new(turn.args_text)
    result = await turn.write(core.add_client, turn.app.db, turn.counsellor, spec, turn.now, turn.update_id, rules=turn.app.rules)
    if isinstance(result, core.AlreadyHandled):
        return
    await turn.reply("client_added", client=result.client, same_name=result.same_name)


async def _show_logged(turn: Turn, result: core.Logged) -> None:
    await turn.reply("logged", r=result, markup=_offer(turn, result))
    await _after_write(turn, result)


async def _after_write(turn: Turn, result: Any) -> None:
    """A risk phrase → its prompt, in a message of its own (issue 11)."""
    from bot.handlers_crisis import after_write

    await after_write(turn, result)


def _offer(turn: Turn, result: Any) -> InlineKeyboardMarkup | None:
    """Item 9 > 0 or risk=crisis → a safety check button on the reply (issue 11)."""
    from bot.handlers_crisis import offer_markup

    return offer_markup(turn, result)


async def _choose(turn: Turn, choice: core.Choice, prefix: str = "p") -> None:
    """Buttons to pick one of several matching clients for a parked command
    (`<prefix>:<pending_id>:<client_id>`, `x` cancels; checked against who taps)."""
    rows = [
        [InlineKeyboardButton(f"#{c.number} {c.name}"[:60], callback_data=buttons.data(prefix, choice.pending_id, c.id))]
        for c in choice.candidates[:8]
    ]
    rows.append([InlineKeyboardButton(turn.render("button_cancel"),
                                      callback_data=buttons.data(prefix, choice.pending_id, "x"))])
    await turn.reply("choose_client", markup=InlineKeyboardMarkup(rows), ref=_clip_param(choice.ref),
                     candidates=choice.candidates)


async def _write_command(turn: Turn, use_case: Callable[..., Any], template: str, **kw: Any) -> None:
    """/log, /status, /goal, /plan: run the use case on the arguments; an ambiguous client
    gets choice buttons (the command waits, parked); a repeated update does nothing."""
    args = turn.args_text
    result = await turn.write(use_case, turn.app.db, turn.counsellor, args, turn.now, turn.update_id, **kw)
    if isinstance(result, core.AlreadyHandled):
        return
    if isinstance(result, core.Choice):
        await _choose(turn, result)
        return
    await turn.reply(template, r=result, markup=_join(_logged_markup(turn, result), _offer(turn, result)))
    await _after_write(turn, result)


def _join(*markups: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """The rows of several keyboards under one message (None when there are none)."""
    rows = [list(row) for m in markups if m is not None for row in m.inline_keyboard]
    return InlineKeyboardMarkup(rows) if rows else None


def _logged_markup(turn: Turn, result: object) -> InlineKeyboardMarkup | None:
    """Under a log whose `next=` date could not be read: 明天 / 下周一 / 两周后 / no follow-up."""
    pending_id = getattr(result, "next_pending_id", None)
    if not isinstance(result, core.Logged) or pending_id is None:
        return None
    row = [InlineKeyboardButton(turn.render(f"button_when_{key}"), callback_data=buttons.data("nx", pending_id, key))
           for key in core.FOLLOW_UP_CHOICES]
    return InlineKeyboardMarkup([row, [InlineKeyboardButton(turn.render("button_no_follow_up"),
                                                            callback_data=buttons.data("nx", pending_id, "x"))]])


@_guard
async def on_follow_up_date(turn: Turn) -> None:
    """`nx:<pending>:<t|m|2w|x>`: the date for a log whose `next=` could not be read."""
    query = turn.update.callback_query
    pending_id, choice = buttons.fields(query.data, "nx")
    added = await turn.write(core.set_follow_up, turn.app.db, turn.counsellor, pending_id, choice, turn.now,
                             rules=turn.app.rules)
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


@_guard
async def log_(turn: Turn) -> None:
    await _write_command(turn, core.log_conversation, "logged", rules=turn.app.rules)


async def _show_map(turn: Turn, view: core.MapView) -> None:
    from bot.handlers_crisis import safety_check_button

    interactions = list(view.map.interactions)[:3]
    text = turn.app.renderer.render_fitting(
        turn.lang, "map", "interactions", interactions, m=view.map, v=view, tz=turn.counsellor.timezone,
        now=turn.now,
    )
    cid = view.map.client.id
    rows = [[InlineKeyboardButton(turn.render("button_map_log"), callback_data=buttons.data("mx", "l", cid)),
             InlineKeyboardButton(turn.render("button_map_plan"), callback_data=buttons.data("mx", "p", cid)),
             InlineKeyboardButton(turn.render("button_map_screen"), callback_data=buttons.data("mx", "s", cid))],
            [safety_check_button(turn, cid)]]  # issue 11: a safety check from the map
    if view.map.interaction_count > 3:
        rows.append([InlineKeyboardButton(turn.render("button_map_more", n=view.map.interaction_count),
                                          callback_data=buttons.data("mx", "m", cid))])
    await turn.send_text(text, InlineKeyboardMarkup(rows))


@_guard
async def on_map_button(turn: Turn) -> None:
    """Buttons under a map and on /clients and reminders, for one client of the tapper:
    `mp:<id>` the map; `mx:l|p:<id>` the next message is a log / a plan for them;
    `mx:s:<id>` choose a screening, `mx:9|7:<id>` start it; `mx:m:<id>` all conversations."""
    query = turn.update.callback_query
    kind, values = buttons.parse(query.data)
    if kind == "mp":
        view = await turn.once(core.map_of, turn.app.db, turn.counsellor, values[0])
        await query.answer()
        await _show_map(turn, view)
        return
    if kind != "mx":
        raise buttons.BadButton(query.data or "")
    action, client_id = values
    if action in ("l", "p"):
        client = await turn.once(core.await_text_for, turn.app.db, turn.counsellor, client_id,
                                 "log" if action == "l" else "plan", turn.now)
        await query.answer()
        await turn.reply("awaiting_text", client=client, command="log" if action == "l" else "plan")
    elif action == "s":
        client = await _run(core.client_of, turn.app.db, turn.counsellor, client_id)
        await query.answer()
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("PHQ-9", callback_data=buttons.data("mx", "9", client.id)),
                                        InlineKeyboardButton("GAD-7", callback_data=buttons.data("mx", "7", client.id))]])
        await turn.reply("choose_screening", markup=markup, client=client)
    elif action in ("9", "7"):
        client = await _run(core.client_of, turn.app.db, turn.counsellor, client_id)
        await query.answer()
        turn.args = str(client.number)
        await _screening(turn, "phq9" if action == "9" else "gad7")
    elif action == "m":
        view = await _run(core.map_of, turn.app.db, turn.counsellor, client_id, interactions=200)
        await query.answer()
        text = turn.app.renderer.render_fitting(
            turn.lang, "interactions", "interactions", list(view.map.interactions), client=view.map.client,
            total=view.map.interaction_count, tz=turn.counsellor.timezone)
        await turn.send_text(text)
    else:
        raise core.NotYours()


@_guard
async def map_(turn: Turn) -> None:
    args = turn.args_text
    words = args.split()
    if len(words) > 1 and words[-1].lower() in ("chart", "图", "图表", "趋势"):  # issue 15
        from bot.handlers_overview import client_chart

        await client_chart(turn, args[: args.rstrip().rfind(words[-1])].strip())
        return
    result = await turn.once(core.relationship_map, turn.app.db, turn.counsellor, args, turn.now)
    if isinstance(result, core.Choice):
        await _choose(turn, result)
        return
    await _show_map(turn, result)


def _clients_page(turn: Turn, clients: list[core.CaseloadRow], page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    pages = max(1, -(-len(clients) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    chunk = clients[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    text = turn.render("clients", clients=chunk, total=len(clients), page=page, pages=pages,
                       start=page * PAGE_SIZE, now=turn.now)
    # each row opens the map with one tap (two to a line, short enough for a phone)
    names = [InlineKeyboardButton(f"{_icon(row)} {row.client.number} {row.client.name}"[:40],
                                  callback_data=buttons.data("mp", row.client.id)) for row in chunk]
    rows = [names[i:i + 2] for i in range(0, len(names), 2)]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=buttons.data("cl", page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("›", callback_data=buttons.data("cl", page + 1)))
    if nav:
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows) if rows else None


def _icon(row: core.CaseloadRow) -> str:
    return {"crisis": "🔴", "high": "🟠", "medium": "🟡", "low": "🟢"}.get(row.risk.value, "")


@_guard
async def clients(turn: Turn) -> None:
    caseload = await _run(core.caseload, turn.app.db, turn.counsellor, turn.now)
    text, markup = _clients_page(turn, caseload, 0)
    await turn.send_text(text, markup)


@_guard
async def status(turn: Turn) -> None:
    await _write_command(turn, core.set_status, "status", rules=turn.app.rules)


@_guard
async def goal(turn: Turn) -> None:
    await _write_command(turn, core.add_goal, "goal_added", rules=turn.app.rules)


@_guard
async def plan(turn: Turn) -> None:
    await _write_command(turn, core.add_plan, "plan_added", rules=turn.app.rules)


# --- screenings: by arguments or one item per step in one edited message -----------------


def _question(
    turn: Turn, q: core.Questionnaire, answers: tuple[int, ...]
) -> tuple[str, InlineKeyboardMarkup]:
    spec = SPECS[Instrument(q.instrument)]
    index = len(answers)
    text = turn.render("screening_item", client=q.client, name=spec.name, stem=spec.stem(turn.lang),
                       item=spec.items(turn.lang)[index], index=index + 1, count=spec.item_count)
    rows = [
        [InlineKeyboardButton(f"{value} · {label}", callback_data=buttons.data("s", q.pending_id, (*answers, value)))]
        for value, label in enumerate(ANSWER_LABELS[turn.lang])
    ]
    nav = []
    if answers:
        nav.append(InlineKeyboardButton(turn.render("button_back"),
                                        callback_data=buttons.data("s", q.pending_id, answers[:-1])))
    nav.append(InlineKeyboardButton(turn.render("button_cancel"), callback_data=buttons.data("s", q.pending_id, "x")))
    rows.append(nav)
    return text, InlineKeyboardMarkup(rows)


async def _screening(turn: Turn, instrument: str) -> None:
    args = turn.args_text
    result = await turn.write(core.screening, turn.app.db, turn.counsellor, instrument, args, turn.now,
                        turn.update_id, rules=turn.app.rules)
    if isinstance(result, core.AlreadyHandled):
        return
    if isinstance(result, core.Choice):
        await _choose(turn, result)
    elif isinstance(result, core.Questionnaire):
        text, markup = _question(turn, result, ())
        await turn.send_text(text, markup)
    else:
        await turn.reply("screening_saved", r=result, markup=_offer(turn, result))


@_guard
async def phq9(turn: Turn) -> None:
    await _screening(turn, "phq9")


@_guard
async def gad7(turn: Turn) -> None:
    await _screening(turn, "gad7")


@_guard
async def on_questionnaire(turn: Turn) -> None:
    query = turn.update.callback_query
    pending_id, answers = buttons.fields(query.data, "s")
    if answers == "x":
        if await turn.once(core.cancel_pending, turn.app.db, turn.counsellor, pending_id, turn.now):
            await query.answer()
            await _edit(query, turn.render("cancelled"))
            return
        raise core.NotYours()
    step = await turn.write(core.questionnaire_step, turn.app.db, turn.counsellor, pending_id, answers, turn.now,
                      rules=turn.app.rules)
    await query.answer()
    if isinstance(step, core.Questionnaire):
        text, markup = _question(turn, step, answers)
        await _edit(query, text, markup)
    else:
        await _edit(query, turn.render("screening_saved", r=step), _offer(turn, step))


# --- reminders, alerts, agenda, settings ---------------------------------------------------


@_guard
async def today(turn: Turn) -> None:
    data = await _run(rem.today, turn.app.db, turn.counsellor, turn.now)
    text, rows = agenda_message(turn.app.renderer, turn.lang, data, tz=turn.counsellor.timezone,
                                now=turn.now, pushed=False)
    await turn.send_text(text, _markup(rows))


def _markup(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])


@_guard
async def on_agenda(turn: Turn) -> None:
    """`ra`: confirm every quiet low-risk review of today; `al:<section>:<page>` (a new
    message) / `alp:<section>:<page>` (that message, paged): a whole agenda list."""
    query = turn.update.callback_query
    data = query.data or ""
    if data == "ra":
        confirmed = await turn.write(rem.confirm_quiet_reviews, turn.app.db, turn.counsellor, turn.now,
                               rules=turn.app.rules)
        await query.answer()
        try:
            await query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        await turn.reply("reviews_confirmed", clients=confirmed)
        return
    kind, (code, asked) = buttons.parse(data)
    if kind not in ("al", "alp"):
        raise buttons.BadButton(data)
    section = AGENDA_SECTIONS[code]
    lists = await _run(rem.agenda_lists, turn.app.db, turn.counsellor, turn.now)
    rows = lists[section]
    pages = max(1, -(-len(rows) // LIST_PAGE))
    page = min(asked, pages - 1)
    text = turn.render("agenda_list", section=section, rows=rows[page * LIST_PAGE:(page + 1) * LIST_PAGE],
                       total=len(rows), page=page, pages=pages, start=page * LIST_PAGE, now=turn.now)
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=buttons.data("alp", code, page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("›", callback_data=buttons.data("alp", code, page + 1)))
    markup = InlineKeyboardMarkup([nav]) if nav else None
    await query.answer()
    if kind == "al":
        await turn.send_text(text, markup)
    else:
        await _edit(query, text, markup)


@_guard
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
    unsupervised = await _run(supervision.unsupervised, turn.app.db, turn.counsellor, turn.now)
    mine = await _run(supervision.escalation_of, turn.app.db, turn.counsellor, turn.now)
    await turn.reply("settings", c=turn.counsellor, now=turn.now, changed=changed, unsupervised=unsupervised,
                     mine=mine)


@_guard
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
    result = await turn.write(rem.set_supervisor, turn.app.db, turn.counsellor, counsellor_tid, supervisor_tid,
                              turn.now)
    if result is None:
        await turn.reply("supervisor_unknown")
        return
    counsellor, supervisor = result
    await turn.reply("supervisor_set", counsellor=counsellor, supervisor=supervisor)


@_guard
async def on_reminder(turn: Turn) -> None:
    """Done (rd:<plan>), Snooze (rs:<plan>:<1h|1d|1w>), Acknowledge (ak:<alert>),
    tier review Confirm (rv:c:<client>) / Lower (rv:l:<client>, then rv:r:<client>:<reason>)."""
    query = turn.update.callback_query
    kind, parts = buttons.parse(query.data)
    if kind == "rd":
        out = await turn.write(rem.complete_plan, turn.app.db, turn.counsellor, parts[0], turn.now)
        await query.answer(turn.render("toast_done" if out.changed else "toast_already"))
        await _edit(query, turn.render("plan_done", o=out))
    elif kind == "rs":
        out = await turn.write(rem.snooze_plan, turn.app.db, turn.counsellor, parts[0], parts[1], turn.now)
        await query.answer(turn.render("toast_snoozed" if out.changed else "toast_already"))
        await _edit(query, turn.render("plan_snoozed", o=out))
    elif kind == "rx":
        out = await turn.write(rem.stop_series, turn.app.db, turn.counsellor, parts[0], turn.now)
        await query.answer(turn.render("toast_stopped"))
        await _edit(query, turn.render("plan_added", r=out))
    elif kind == "ak":
        out = await turn.write(rem.acknowledge_alert, turn.app.db, turn.counsellor, parts[0], turn.now)
        await query.answer(turn.render("toast_acknowledged" if out.changed else "toast_already_acknowledged"))
        await _acknowledge_copies(turn, query, out)
    elif kind == "rv" and parts[0] == "c":
        out = await turn.write(rem.confirm_review, turn.app.db, turn.counsellor, parts[1], turn.now,
                               rules=turn.app.rules)
        await query.answer()
        await _edit(query, turn.render("review_done", o=out))
    elif kind in ("rv", "rv:r"):
        from bot.handlers_crisis import on_review  # Lower asks why, then lowers (issue 11)

        await on_review(turn, kind, parts)
    else:
        raise buttons.BadButton(kind)


async def _acknowledge_copies(turn: Turn, query: CallbackQuery, out: rem.AlertOutcome) -> None:
    """Every copy of the alert (the tapped one, the repeats, the escalations a supervisor or
    the admins received) keeps its text, says when it was acknowledged and loses its buttons."""
    tapped = query.message.message_id if query.message is not None else None
    views = alerts.acknowledged_views(out, tapped)
    edits = alerts.acknowledged_edits(turn.app.renderer, views, out.alert.acknowledged_at, turn.now)
    for edit in edits:
        try:
            await turn.context.bot.edit_message_text(
                edit.text, chat_id=edit.chat_id, message_id=edit.message_id, parse_mode=ParseMode.HTML,
                reply_markup=None, disable_web_page_preview=True)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning("could not update a copy of alert %s: %s", out.alert.id, type(exc).__name__)
        except Forbidden:
            log.warning("could not update a copy of alert %s: the recipient blocked the bot", out.alert.id)


def _dispatch(turn: Turn) -> dict[str, Handler]:
    """Command name → the guarded handler's inner function (filled by `register`)."""
    return turn.context.application.bot_data.get("dispatch", {})


@_guard
async def on_cadence_snooze(turn: Turn) -> None:
    """`cz:<client>`: "该联系" put off by a day (a new reminder row, unless contacted meanwhile)."""
    query = turn.update.callback_query
    (client_id,) = buttons.fields(query.data, "cz")
    client, until = await turn.write(rem.snooze_cadence, turn.app.db, turn.counsellor, client_id, turn.now)
    await query.answer(turn.render("toast_snoozed"))
    await _edit(query, turn.render("cadence_snoozed", client=client, until=until))


@_guard
async def unknown_command(turn: Turn) -> None:
    text = (turn.update.effective_message.text or "").strip()
    typed = grammar.split_command(text)
    if typed is None:
        await turn.reply("unknown_command", command=text.split()[0][:40] if text.split() else "", meant=None)
        return
    await _unknown(turn, typed[0], typed[1], text.split()[0][:40])


async def _unknown(turn: Turn, name: str, args: str, shown: str) -> None:
    """`/lgo 学生B …`: "did you mean /log?" with a button that runs it on the same text."""
    meant = grammar.suggest_command(name, sorted(_dispatch(turn)))
    if meant is None:
        await turn.reply("unknown_command", command=shown, meant=None)
        return
    pending_id = await turn.once(core.park_command, turn.app.db, turn.counsellor, meant, args, turn.now)
    markup = InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.render("button_run", command=meant), callback_data=buttons.data("rc", pending_id, "y")),
        InlineKeyboardButton(turn.render("button_cancel"), callback_data=buttons.data("rc", pending_id, "x")),
    ]])
    await turn.reply("unknown_command", markup=markup, command=shown, meant=meant, args=_clip_param(args, 60))


@_guard
async def on_run_suggested(turn: Turn) -> None:
    """`rc:<pending>:y|x`: run (or drop) the command a typo was taken for, on the same text."""
    query = turn.update.callback_query
    pending_id, answer = buttons.fields(query.data, "rc")
    command, args = await turn.once(core.take_parked_command, turn.app.db, turn.counsellor, pending_id, turn.now)
    await query.answer()
    if answer == "x":
        await _edit(query, turn.render("cancelled"))
        return
    await _edit(query, turn.render("running", command=command))
    handler = _dispatch(turn).get(command)
    if handler is None:
        raise core.NotYours()
    turn.args = args
    await handler(turn)


async def _typed_command(turn: Turn, text: str) -> bool:
    """`／log 学生B …`, `／ｍａｐ 学生B`, `、log …`: a command typed with a full-width slash.
    True when handled as a command (run, or answered with "did you mean")."""
    typed = grammar.split_command(text)
    if typed is None:
        return False
    name, args, _ = typed
    handler = _dispatch(turn).get(name)
    if handler is not None:
        turn.args = args
        await handler(turn)
        return True
    if text[0] == "、":  # "、" starts ordinary Chinese text far more often than a command
        return False
    await _unknown(turn, name, args, text.split()[0][:40])
    return True


# --- plain text: one message, one tap ---------------------------------------------------


@_guard
async def plain_text(turn: Turn) -> None:
    message = turn.update.effective_message
    text = (message.text or "").strip()
    if not text:
        return
    if await _typed_command(turn, text):
        return
    awaited = await _run(core.take_awaited_text, turn.app.db, turn.counsellor, turn.now)
    if awaited is not None:  # after 📝 记录 / ⏰ 计划 under a map or a reminder
        command, number = awaited
        handler = _dispatch(turn).get(command)
        if handler is not None:
            turn.args = f"{number} {text}"
            await handler(turn)
            return
    waiting = await _run(core.pending_new_client_note, turn.app.db, turn.counsellor, turn.now)
    if waiting is not None:
        spec = grammar.parse_new(text)
        result = await turn.write(core.new_client_with_note, turn.app.db, turn.counsellor, waiting, spec,
                                  turn.now, turn.update_id, rules=turn.app.rules, new_args=text)
        await _after_new_with_note(turn, result)
        return
    if len(text) > 8000:
        raise CommandError("notes_too_long", length=len(text), max=8000)
    found = await _run(core.find_for_note, turn.app.db, turn.counsellor, text, turn.now)
    if found is not None:  # after 🔍: this message names the student of the parked note
        await turn.claim()  # handled twice: the choice is not asked twice
        note_id, clients_found = found
        parked = core.ParkedNote(pending_id=note_id, recent=clients_found, named=clients_found)
        await turn.reply("which_client", markup=_note_picker(turn, parked), recent=parked.recent,
                         named=parked.named, searched=text, same=_same_names(parked.recent))
        return
    parked = await turn.once(core.park_note, turn.app.db, turn.counsellor, text, turn.now)
    await turn.reply("which_client", markup=_note_picker(turn, parked), recent=parked.recent,
                     named=parked.named, searched=None, same=_same_names(parked.recent))


async def _after_new_with_note(turn: Turn, result: object) -> None:
    if isinstance(result, core.AlreadyHandled):
        return
    if isinstance(result, core.SameName):  # 周晓雯 exists: the same person, or a namesake?
        rows = [[InlineKeyboardButton(_client_label(c, {c.name}) if c.sid or c.major else f"#{c.number} {c.name}",
                                      callback_data=buttons.data("p", result.pending_id, c.id))] for c in result.existing]
        rows.append([InlineKeyboardButton(turn.render("button_new_anyway", name=result.name),
                                          callback_data=buttons.data("p", result.pending_id, "N"))])
        await turn.reply("same_name_ask", markup=InlineKeyboardMarkup(rows), name=result.name,
                         existing=result.existing)
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


def _note_picker(turn: Turn, parked: core.ParkedNote) -> InlineKeyboardMarkup:
    """Who is this note about: the students named at its start first (⭐), recent ones, then
    ➕ new / 🔍 search / cancel (which asks before throwing the note away)."""
    pid = parked.pending_id
    same = _same_names(parked.recent)
    rows = [[InlineKeyboardButton(("⭐ " if c in parked.named else "") + _client_label(c, same),
                                  callback_data=buttons.data("p", pid, c.id))] for c in parked.recent]
    rows.append([
        InlineKeyboardButton(turn.render("button_new_client"), callback_data=buttons.data("p", pid, "n")),
        InlineKeyboardButton(turn.render("button_search"), callback_data=buttons.data("p", pid, "s")),
        InlineKeyboardButton(turn.render("button_cancel"), callback_data=buttons.data("p", pid, "x")),
    ])
    return InlineKeyboardMarkup(rows)


# --- buttons -----------------------------------------------------------------------------


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    try:
        await query.edit_message_text(fit_message(text), parse_mode=ParseMode.HTML, reply_markup=markup,
                                      disable_web_page_preview=True)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


@_guard
async def on_choice(turn: Turn) -> None:
    query = turn.update.callback_query
    pending_id, target = buttons.fields(query.data, "p")
    if target == "x" and await _run(core.pending_kind, turn.app.db, turn.counsellor, pending_id, turn.now) != "note":
        target = "xx"  # a parked command's choice: nothing typed is lost that the chat does not show
    if target == "x":  # ask before a typed note is thrown away
        await query.answer()
        await _edit(query, turn.render("discard_confirm"), InlineKeyboardMarkup([[
            InlineKeyboardButton(turn.render("button_discard"), callback_data=buttons.data("p", pending_id, "xx")),
            InlineKeyboardButton(turn.render("button_keep"), callback_data=buttons.data("p", pending_id, "b")),
        ]]))
        return
    if target == "xx":
        if await turn.once(core.cancel_pending, turn.app.db, turn.counsellor, pending_id, turn.now):
            await query.answer()
            await _edit(query, turn.render("cancelled"))
            return
        raise core.NotYours()
    if target == "b":
        await turn.claim()
        parked = await _run(core.parked_note, turn.app.db, turn.counsellor, pending_id, turn.now)
        await query.answer()
        await _edit(query, turn.render("which_client", recent=parked.recent, named=parked.named, searched=None,
                                       same=_same_names(parked.recent)), _note_picker(turn, parked))
        return
    if target == "N":
        result = await turn.write(core.new_anyway, turn.app.db, turn.counsellor, pending_id, turn.now,
                                  turn.update_id, rules=turn.app.rules)
        await query.answer()
        await _edit(query, turn.render("chosen_new"))
        await _after_new_with_note(turn, result)
        return
    if target == "s":
        await turn.once(core.search_for_note, turn.app.db, turn.counsellor, pending_id, turn.now)
        await query.answer()
        await _edit(query, turn.render("search_prompt"))
        return
    client_id = None if target == "n" else target
    resumed = await turn.write(core.resume_pending, turn.app.db, turn.counsellor, pending_id, client_id, turn.now, rules=turn.app.rules)
    await query.answer()
    if resumed.command == "ask_name":
        await _edit(query, turn.render("ask_new_client_name"))
        return
    if resumed.command == "log":
        await _edit(query, turn.render("logged", r=resumed.result),
                    _join(_logged_markup(turn, resumed.result), _offer(turn, resumed.result)))
        await _after_write(turn, resumed.result)
    elif resumed.command == "status":
        await _edit(query, turn.render("status", r=resumed.result), _offer(turn, resumed.result))
    elif resumed.command == "goal":
        await _edit(query, turn.render("goal_added", r=resumed.result))
        await _after_write(turn, resumed.result)
    elif resumed.command == "plan":
        await _edit(query, turn.render("plan_added", r=resumed.result))
    elif resumed.command == "map":
        await _edit(query, turn.render("chosen", client=resumed.result.map.client))
        await _show_map(turn, resumed.result)
    elif resumed.command == "screening":
        await _edit(query, turn.render("screening_saved", r=resumed.result), _offer(turn, resumed.result))
    elif resumed.command == "ask_screening":
        await _edit(query, turn.render("chosen", client=resumed.result.client))
        text, markup = _question(turn, resumed.result, ())
        await turn.send_text(text, markup)


@_guard
async def on_clients_page(turn: Turn) -> None:
    query = turn.update.callback_query
    (page,) = buttons.fields(query.data, "cl")
    await turn.claim()  # handled twice: "already done", never an error on the old query
    caseload = await _run(core.caseload, turn.app.db, turn.counsellor, turn.now)
    text, markup = _clients_page(turn, caseload, page)
    await query.answer()
    await _edit(query, text, markup)


@_guard
async def on_unknown_button(turn: Turn) -> None:
    raise buttons.BadButton(turn.update.callback_query.data or "")


async def _stale_button(update: Update, app: BotContext, lang: str) -> None:
    """A button whose data is not (or no longer) one of ours: answered, never an error."""
    await update.callback_query.answer(app.renderer.render(lang, "button_stale")[:190], show_alert=True)


# --- errors ------------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    # Never log the update itself: it may carry a counsellor's notes.
    error = context.error
    log.error("error while handling an update: %s", type(error).__name__,
              exc_info=(type(error), error, error.__traceback__) if error else None)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
        app = _ctx(context)
        user = update.effective_user
        lang = pick_language(None, user.language_code if user else None)
        try:
            await context.bot.send_message(update.effective_chat.id, app.renderer.render(lang, "internal_error"),
                                           parse_mode=ParseMode.HTML)
        except Exception:  # noqa: BLE001 - the error handler must not raise
            log.warning("could not tell the user about the error")


def command(name: str, callback: Callable[..., Awaitable[None]]) -> CommandHandler:
    """A command handler for new messages only: an edited /log must not log twice."""
    return CommandHandler(name, callback, filters=filters.UpdateType.MESSAGE)


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(
        MessageHandler(filters.ChatType.GROUPS & filters.COMMAND & filters.UpdateType.MESSAGE, _group_refusal)
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
    # Further command groups live in their own modules (they import this one).
    from bot import (
        handlers_caseload,
        handlers_crisis,
        handlers_media,
        handlers_overview,
        handlers_referrals,
        handlers_roster,
        handlers_team,
    )

    handlers_referrals.register(application)
    handlers_caseload.register(application)
    handlers_team.register(application)
    handlers_roster.register(application)
    handlers_media.register(application)  # after the roster: a roster file is taken there
    handlers_overview.register(application)
    handlers_crisis.register(application)
    application.add_handler(
        MessageHandler(private & filters.COMMAND & filters.UpdateType.MESSAGE, unknown_command)
    )
    application.add_handler(
        MessageHandler(private & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, plain_text)
    )
    application.add_handler(CallbackQueryHandler(on_choice, pattern=r"^p:"))
    application.add_handler(CallbackQueryHandler(on_clients_page, pattern=r"^cl:"))
    application.add_handler(CallbackQueryHandler(on_questionnaire, pattern=r"^s:"))
    application.add_handler(CallbackQueryHandler(on_reminder, pattern=r"^(rd|rs|rx|ak|rv):"))
    application.add_handler(CallbackQueryHandler(on_follow_up_date, pattern=r"^nx:"))
    application.add_handler(CallbackQueryHandler(on_map_button, pattern=r"^(mp|mx):"))
    application.add_handler(CallbackQueryHandler(on_cadence_snooze, pattern=r"^cz:"))
    application.add_handler(CallbackQueryHandler(on_agenda, pattern=r"^(ra$|al:|alp:)"))
    application.add_handler(CallbackQueryHandler(on_run_suggested, pattern=r"^rc:"))
    application.add_handler(CallbackQueryHandler(on_unknown_button))
    application.add_error_handler(on_error)
    # `／log …` typed with a full-width slash, and "did you mean /log?" buttons, run the same
    # handlers: name → the guarded function's body (the guard already ran for that update).
    dispatch: dict[str, Handler] = {}
    for group in application.handlers.values():
        for handler in group:
            inner = getattr(handler.callback, "__wrapped__", None)
            if isinstance(handler, CommandHandler) and inner is not None:
                for name in handler.commands:
                    dispatch.setdefault(name, inner)
    application.bot_data["dispatch"] = dispatch


async def _group_refusal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _refuse(update, _ctx(context), "private_only")
