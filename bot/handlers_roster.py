"""Roster import: `/import` explains and sends a template; an XLSX or CSV file sent to the
bot is read, what was understood is shown (columns, rows to add, rows already there by 学号,
rows with problems and why), and one tap imports it. Callback data `im:<pending id>:y|n`
is looked up for the counsellor who taps, once.

Documents: when bot.handlers_media (issue 10) offers documents to DOCUMENT_HANDLERS, the
roster reader is one of them; without it, this module handles documents itself.
"""

from __future__ import annotations

import functools
import io

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application, MessageHandler, filters

from bot.turn import Turn, button_handler, command, confirm_or_cancel, guard, on_tap
from domain.buttons import ImportConfirm
from domain.errors import CommandError
from services import roster

MAX_LISTED = 12  # rows listed by name in each part of the preview


@guard
async def import_(turn: Turn) -> None:
    data, name = roster.template_file(turn.lang)
    await turn.context.bot.send_document(
        turn.update.effective_chat.id,
        document=InputFile(io.BytesIO(data), filename=name),
        caption=turn.render("import_help"),
        parse_mode=ParseMode.HTML,
    )


async def take_roster(turn: Turn) -> bool:
    """A document: read it as a roster if it is an XLSX or CSV file; False otherwise."""
    doc = turn.update.effective_message.document
    if doc is None or not roster.is_roster_file(doc.file_name, doc.mime_type):
        return False
    if doc.file_size and doc.file_size > roster.MAX_BYTES:
        raise CommandError("roster_too_big", max_mb=roster.MAX_BYTES // (1024 * 1024))
    await turn.context.bot.send_chat_action(turn.update.effective_chat.id, ChatAction.TYPING)
    file = await doc.get_file()
    data = bytes(await file.download_as_bytearray())
    result = await turn.once(
        roster.preview, turn.app.db, turn.counsellor, doc.file_name, data, turn.now
    )
    markup = None
    if result.pending_id is not None:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        turn.render("button_import", n=len(result.plan.to_add)),
                        callback_data=ImportConfirm(result.pending_id, "y").pack(),
                    )
                ],
                [
                    InlineKeyboardButton(
                        turn.render("button_cancel"),
                        callback_data=ImportConfirm(result.pending_id, "n").pack(),
                    )
                ],
            ]
        )
    await turn.reply(
        "import_preview",
        markup=markup,
        p=result.plan,
        file_name=result.file_name,
        listed=MAX_LISTED,
    )
    return True


@guard
async def on_document(turn: Turn) -> None:
    if not await take_roster(turn):
        await turn.reply("import_not_a_roster")


@on_tap(ImportConfirm)
async def on_import(turn: Turn, tap: ImportConfirm) -> None:
    await confirm_or_cancel(
        turn,
        tap,
        cancel=roster.cancel,
        confirm=functools.partial(roster.confirm, rules=turn.app.rules),
        done=lambda done: turn.render("import_done", r=done, listed=MAX_LISTED),
    )


def register(application: Application) -> None:
    application.add_handler(command("import", import_))
    application.add_handler(button_handler(on_import))
    try:
        from bot.handlers_media import DOCUMENT_HANDLERS  # issue 10's media handler
    except ImportError:
        application.add_handler(
            MessageHandler(
                filters.ChatType.PRIVATE & filters.Document.ALL & filters.UpdateType.MESSAGE,
                on_document,
            )
        )
    else:
        if take_roster not in DOCUMENT_HANDLERS:
            DOCUMENT_HANDLERS.append(take_roster)
