"""One update being handled for one counsellor: `Turn`, and the plumbing every handler
module shares.

`guard` admits private chats and invited counsellors only, once, and turns errors into
clear replies (a forged or stale button: "this button no longer works"); `run` does
database work in a worker thread; `edit` edits the tapped message; `on_tap` and
`button_handler` route each button kind (`domain.buttons`) to its handler;
`confirm_or_cancel` answers a y/n confirmation.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.context import BotContext
from bot.inbox import fingerprint
from domain import buttons, grammar
from domain.errors import CommandError
from domain.model import Counsellor
from rendering.render import fit_message, pick_language
from services import invites
from services.clients import AlreadyHandled, Choice
from services.errors import NotYours, UnknownClient
from services.parked import Resumed
from services.referrals import Suggestions
from services.screenings import Questionnaire
from storage import Database
from storage.errors import AlreadyProcessed
from storage.once import Once

log = logging.getLogger("caremap.bot")

B = TypeVar("B", bound=buttons.Button)


def bot_context(context: ContextTypes.DEFAULT_TYPE) -> BotContext:
    return context.application.bot_data["ctx"]


async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Database work runs in a worker thread, one unit of work per call."""
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


def display_name(user: User) -> str:
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
        return command_args(self.update.effective_message)

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
            chat_id,
            fit_message(text),
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            disable_web_page_preview=True,
        )

    async def once(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run a use case that writes, once per Telegram update: its first write unit of
        work records the update id in the same transaction, so a redelivered or replayed
        update raises `AlreadyProcessed` (answered in `answering`) and writes nothing."""
        db, update_id, now = self.app.db, self.update_id, self.now
        if self._once is None:
            self._once = Once(update_id, now, fingerprint(self.update))
        state = self._once

        def once() -> Any:
            with db.once(update_id, now, state=state):
                return fn(*args, **kwargs)

        return await run(once)

    async def claim(self) -> None:
        """Record this update as handled, for a button that only shows something (a question
        with its choices): handled again, it is answered "already done" like a write, rather
        than answering a query Telegram no longer takes and reporting an error."""
        await self.once(_claim_only, self.app.db)

    async def write(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`once`, for a use case that stores the counsellor's data: when it has returned,
        that is committed, and the turn remembers so (see `answering`)."""
        result = await self.once(fn, *args, **kwargs)
        if _stored_something(result):
            self.mark_saved(getattr(result, "client", None))
        return result

    def mark_saved(self, client: Any = None) -> None:
        self.saved = True
        if client is not None and hasattr(client, "number"):
            self.saved_client = client


def _claim_only(db: Database) -> None:
    with db.uow(write=True):  # inside `Database.once`: records the update id, nothing else
        pass


def _stored_something(result: Any) -> bool:
    if (
        result is None
        or result is False
        or isinstance(result, (AlreadyHandled, Choice, Questionnaire, Suggestions))
    ):
        return False
    if isinstance(result, Resumed):
        return result.command in SAVING_RESUMES
    return bool(getattr(result, "changed", True))


# a parked command resumed by a button: these store something; the others only show or ask
SAVING_RESUMES = frozenset({"log", "status", "goal", "plan", "screening"})


def command_args(message: Message) -> str:
    """The text after `/command` (or `/command@bot`), exactly as typed: newlines kept."""
    text = message.text or ""
    for entity in message.entities or ():
        if entity.type == "bot_command" and entity.offset == 0:
            return text[entity.length :].strip()
    typed = grammar.split_command(text.strip())  # `／log …`: Telegram marks no command
    if typed is not None:
        return typed[1]
    return text.strip()


async def refuse(update: Update, app: BotContext, name: str = "refusal") -> None:
    user = update.effective_user
    lang = pick_language(None, user.language_code if user else None)
    text = app.renderer.render(lang, name)
    if update.callback_query is not None:
        await update.callback_query.answer(text[:190], show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)


async def identify(update: Update, app: BotContext) -> Counsellor | None:
    user = update.effective_user
    counsellor = await run(invites.find_counsellor, app.db, user.id)
    if counsellor is not None and not counsellor.active:
        return counsellor  # refused by the caller; nothing about them is written
    if counsellor is None and user.id in app.settings.admin_ids:
        counsellor = await run(
            invites.ensure_admin,
            app.db,
            user.id,
            display_name(user),
            app.clock(),
            app.settings.timezone,
        )
    if counsellor is not None and user.language_code:
        seen = pick_language(None, user.language_code)
        if counsellor.telegram_language != seen:
            counsellor = await run(invites.remember_telegram_language, app.db, counsellor, seen)
    return counsellor


Handler = Callable[[Turn], Awaitable[None]]


def guard(fn: Handler) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """Private chats and invited counsellors only; errors become clear replies."""

    @functools.wraps(fn)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        app = bot_context(context)
        chat = update.effective_chat
        if update.effective_user is None or chat is None:
            return
        if chat.type != ChatType.PRIVATE:
            if update.callback_query is None:
                await refuse(update, app, "private_only")
            return
        counsellor = await identify(update, app)
        if counsellor is None:
            await refuse(update, app)
            return
        if not counsellor.active:  # an admin ended their access (issue 14): nothing at all
            await refuse(update, app, "deactivated")
            return
        turn = Turn(
            update,
            context,
            app,
            counsellor,
            pick_language(counsellor.language, update.effective_user.language_code),
        )
        await answering(turn, fn)

    return wrapper


def clip(value: object, limit: int = 120) -> object:
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


async def answering(turn: Turn, fn: Handler) -> None:
    try:
        await _answering_inner(turn, fn)
    except Exception as exc:
        if not turn.saved:
            raise  # rolled back: on_error says so
        # The transaction committed; only the reply failed. Say so, or the counsellor
        # sends it again and it is stored twice.
        log.error(
            "reply failed after a committed change: %s",
            type(exc).__name__,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
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
        params = {k: clip(v) for k, v in exc.params.items()}
        await turn.reply(f"errors/{exc.code}", **params)
    except UnknownClient as exc:
        await turn.reply("client_not_found", ref=clip(exc.ref), suggestions=exc.suggestions)
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
    except NotYours:
        if turn.update.callback_query is not None:
            await turn.update.callback_query.answer(turn.render("not_yours"), show_alert=True)
        else:
            await turn.reply("not_yours")


async def edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    try:
        await query.edit_message_text(
            fit_message(text),
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            disable_web_page_preview=True,
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def _stale_button(update: Update, app: BotContext, lang: str) -> None:
    """A button whose data is not (or no longer) one of ours: answered, never an error."""
    await update.callback_query.answer(
        app.renderer.render(lang, "button_stale")[:190], show_alert=True
    )


def dispatch(turn: Turn) -> dict[str, Handler]:
    """Command name → the guarded handler's inner function (filled by `register`)."""
    return turn.context.application.bot_data.get("dispatch", {})


def command(name: str, callback: Callable[..., Awaitable[None]]) -> CommandHandler:
    """A command handler for new messages only: an edited /log must not log twice."""
    return CommandHandler(name, callback, filters=filters.UpdateType.MESSAGE)


# --- buttons: one handler per kind, routed by the codec ------------------------------------

TapHandler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def on_tap(kind: type[B]) -> Callable[[Callable[[Turn, B], Awaitable[None]]], TapHandler]:
    """A guarded handler for one button kind, given the tapped button already read:

        @on_tap(PlanDone)
        async def on_plan_done(turn: Turn, tap: PlanDone) -> None: ...

    registered with `button_handler(on_plan_done)`. Data of no kind goes to the catch-all,
    which answers "this button no longer works"."""

    def decorate(fn: Callable[[Turn, B], Awaitable[None]]) -> TapHandler:
        @functools.wraps(fn)
        async def read(turn: Turn) -> None:
            await fn(turn, kind.parse(turn.update.callback_query.data))

        handler = guard(read)
        handler.button = kind  # type: ignore[attr-defined]
        return handler

    return decorate


def button_handler(handler: TapHandler) -> CallbackQueryHandler:
    """The handler of an `on_tap` function: it takes the taps its button kind matches."""
    kind: type[buttons.Button] = handler.button  # type: ignore[attr-defined]
    return CallbackQueryHandler(handler, pattern=kind.matches)


async def confirm_or_cancel(
    turn: Turn,
    tap: buttons.YesNo,
    *,
    cancel: Callable[..., Any],
    confirm: Callable[..., Any],
    done: Callable[[Any], str],
    cancelled: str = "cancelled",
    cancel_once: bool = False,
) -> None:
    """`<kind>:<pending id>:y|n` under a question (/forget, /import, /team handover …): `n`
    drops the pending action (`cancel(db, counsellor, pending_id, now)`, once per update when
    `cancel_once`) and says `cancelled`; `y` runs `confirm(db, counsellor, pending_id, now)`
    once, as a write, and shows `done(result)`. Nothing pending for this counsellor: not
    theirs."""
    query = turn.update.callback_query
    db, counsellor, now = turn.app.db, turn.counsellor, turn.now
    if not tap.confirmed:
        drop = turn.once if cancel_once else run
        if not await drop(cancel, db, counsellor, tap.pending_id, now):
            raise NotYours()
        await query.answer()
        await edit(query, turn.render(cancelled))
        return
    result = await turn.write(confirm, db, counsellor, tap.pending_id, now)
    if result is None:
        raise NotYours()
    await query.answer()
    await edit(query, done(result))
