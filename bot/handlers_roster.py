"""Roster import: `/import` explains and sends a template; an XLSX or CSV file sent to the
bot is read, what was understood is shown (columns, rows to add, rows already there by 学号,
rows with problems and why), and one tap imports it. Callback data `im:<pending id>:y|n`
is looked up for the counsellor who taps, once.

Documents: when bot.handlers_media (issue 10) offers documents to DOCUMENT_HANDLERS, the
roster reader is one of them; without it, this module handles documents itself.
"""

from __future__ import annotations

import io

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.handlers import Turn, _edit, _guard, _run, command
from domain.errors import CommandError
from services import core, roster

MAX_LISTED = 12  # rows listed by name in each part of the preview


@_guard
async def import_(turn: Turn) -> None:
    data, name = roster.template_file(turn.lang)
    await turn.context.bot.send_document(
        turn.update.effective_chat.id, document=InputFile(io.BytesIO(data), filename=name),
        caption=turn.render("import_help"), parse_mode=ParseMode.HTML,
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
    result = await _run(roster.preview, turn.app.db, turn.counsellor, doc.file_name, data, turn.now)
    markup = None
    if result.pending_id is not None:
        markup = InlineKeyboardMarkup([
            [InlineKeyboardButton(turn.render("button_import", n=len(result.plan.to_add)),
                                  callback_data=f"im:{result.pending_id}:y")],
            [InlineKeyboardButton(turn.render("button_cancel"), callback_data=f"im:{result.pending_id}:n")],
        ])
    await turn.reply("import_preview", markup=markup, p=result.plan, file_name=result.file_name,
                     listed=MAX_LISTED)
    return True


@_guard
async def on_document(turn: Turn) -> None:
    if not await take_roster(turn):
        await turn.reply("import_not_a_roster")


@_guard
async def on_import(turn: Turn) -> None:
    query = turn.update.callback_query
    parts = (query.data or "").split(":")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 18 or parts[2] not in ("y", "n"):
        raise core.NotYours()
    pending_id = int(parts[1])
    if parts[2] == "n":
        if not await _run(roster.cancel, turn.app.db, turn.counsellor, pending_id, turn.now):
            raise core.NotYours()
        await query.answer()
        await _edit(query, turn.render("cancelled"))
        return
    done = await _run(roster.confirm, turn.app.db, turn.counsellor, pending_id, turn.now,
                      rules=turn.app.rules)
    if done is None:
        raise core.NotYours()
    await query.answer()
    await _edit(query, turn.render("import_done", r=done, listed=MAX_LISTED))


def register(application: Application) -> None:
    application.add_handler(command("import", import_))
    application.add_handler(CallbackQueryHandler(on_import, pattern=r"^im:"))
    try:
        from bot.handlers_media import DOCUMENT_HANDLERS  # issue 10's media handler
    except ImportError:
        application.add_handler(MessageHandler(
            filters.ChatType.PRIVATE & filters.Document.ALL & filters.UpdateType.MESSAGE, on_document))
    else:
        if take_roster not in DOCUMENT_HANDLERS:
            DOCUMENT_HANDLERS.append(take_roster)
