"""/find, /export, /forget (with a confirmation button) and /undo.

Written like bot/handlers.py: `guard` admits invited counsellors in private chats,
services.caseload does the work (scoped to the counsellor), templates render every word.
Callback data `fg:<pending id>:y|n` is never trusted: the pending id is looked up for the
counsellor who tapped, once.
"""

from __future__ import annotations

import html
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application

from bot.turn import Turn, button_handler, command, confirm_or_cancel, edit, guard, on_tap, run
from domain.buttons import ForgetConfirm, OpenMap, UndoChoice
from domain.errors import CommandError
from domain.model import Counsellor
from rendering.render import Renderer
from services import caseload
from services import undo as undo_service
from storage.db import Database


@guard
async def find(turn: Turn) -> None:
    args = turn.args_text
    if not args.strip():
        await turn.reply("find_usage", too_long=False, max=caseload.FIND_MAX)
        return
    if len(args) > caseload.FIND_MAX:
        await turn.reply("find_usage", too_long=True, max=caseload.FIND_MAX)
        return
    rows = await run(caseload.find, turn.app.db, turn.counsellor, args)
    text = turn.app.renderer.render_fitting(
        turn.lang,
        "find_results",
        "rows",
        rows,
        query=" ".join(args.split()),
        total=len(rows),
        tz=turn.counsellor.timezone,
        buttons=FIND_BUTTONS,
    )
    await turn.send_text(text, _open_map_buttons(rows))


FIND_BUTTONS = 10


def _open_map_buttons(rows: list[caseload.FindRow]) -> InlineKeyboardMarkup | None:
    """One button per client found (the first ten, two to a line) opening the map."""
    names = [
        InlineKeyboardButton(
            f"#{row.client.number} {row.client.name}"[:40],
            callback_data=OpenMap(row.client.id).pack(),
        )
        for row in rows[:FIND_BUTTONS]
    ]
    lines = [names[i : i + 2] for i in range(0, len(names), 2)]
    return InlineKeyboardMarkup(lines) if lines else None


def _no_args(turn: Turn, command: str) -> None:
    if turn.args_text:
        raise CommandError("no_args", command=command)


@guard
async def export(turn: Turn) -> None:
    """`/export`: an Excel workbook (one sheet per dimension); `/export csv`: the zip of CSVs."""
    choice = turn.args_text.strip().lower()
    if choice in ("", "xlsx", "excel"):
        await _export_xlsx(turn)
        return
    if choice != "csv":
        _no_args(turn, "export")
    renderer, lang = turn.app.renderer, turn.lang

    def words(kind: str, value: object) -> str:  # codes and JSON → the counsellor's words
        return html.unescape(renderer.render(lang, "export_csv_word", kind=kind, value=value))

    with tempfile.TemporaryDirectory(prefix="caremap-export-") as tmp:
        result = await turn.once(
            caseload.export, turn.app.db, turn.counsellor, turn.now, words, directory=Path(tmp)
        )
        await _send_file(turn, result.path, result.filename, "export_caption", result.counts)


async def _send_file(
    turn: Turn, path: Path, filename: str, caption: str, counts: dict[str, int]
) -> None:
    """Send a file from disk as a document, read as it is uploaded (not into memory)."""
    with path.open("rb") as data:
        await turn.context.bot.send_document(
            turn.update.effective_chat.id,
            document=InputFile(data, filename=filename, read_file_handle=False),
            caption=turn.render(caption, counts=counts),
            parse_mode=ParseMode.HTML,
        )


def _write_xlsx(
    db: Database, actor: Counsellor, renderer: Renderer, lang: str, now: datetime, path: Path
) -> dict[str, int]:
    """The workbook, streamed: each batch of the caseload read (one read transaction)
    goes to the file on disk before the next is read."""
    from bot.export_xlsx import write_workbook
    from services.export_data import caseload_batches

    batches = caseload_batches(db, actor)
    try:
        return write_workbook(renderer, lang, actor.timezone, batches, now, path)
    finally:
        batches.close()  # ends the read transaction if the writing failed half-way


async def _export_xlsx(turn: Turn) -> None:
    await turn.context.bot.send_chat_action(
        turn.update.effective_chat.id, ChatAction.UPLOAD_DOCUMENT
    )
    local = turn.now.astimezone(ZoneInfo(turn.counsellor.timezone))
    filename = f"caremap-{local.strftime('%Y-%m-%d')}.xlsx"
    with tempfile.TemporaryDirectory(prefix="caremap-export-") as tmp:
        path = Path(tmp) / filename
        counts = await run(
            _write_xlsx,
            turn.app.db,
            turn.counsellor,
            turn.app.renderer,
            turn.lang,
            turn.now,
            path,
        )
        await turn.once(caseload.record_export, turn.app.db, turn.counsellor, turn.now)
        await _send_file(turn, path, filename, "export_xlsx_caption", counts)


@guard
async def forget(turn: Turn) -> None:
    args = turn.args_text
    ask = await turn.once(caseload.ask_forget, turn.app.db, turn.counsellor, args, turn.now)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    turn.render("button_forget"),
                    callback_data=ForgetConfirm(ask.pending_id, "y").pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    turn.render("button_cancel"),
                    callback_data=ForgetConfirm(ask.pending_id, "n").pack(),
                )
            ],
        ]
    )
    await turn.reply("forget_confirm", markup=markup, client=ask.client, counts=ask.counts)


@on_tap(ForgetConfirm)
async def on_forget(turn: Turn, tap: ForgetConfirm) -> None:
    await confirm_or_cancel(
        turn,
        tap,
        cancel=caseload.cancel_forget,
        cancelled="forget_cancelled",
        confirm=caseload.confirm_forget,
        done=lambda done: turn.render("forget_done", client=done.client, counts=done.counts),
    )


@guard
async def undo(turn: Turn) -> None:
    """`/undo`: say what would be taken back, and ask (↩️ 撤销 / 取消)."""
    _no_args(turn, "undo")
    await turn.claim()  # handled twice: asked once
    preview = await run(undo_service.peek_undo, turn.app.db, turn.counsellor, turn.now)
    if preview is None:
        await turn.reply(
            "undo_nothing", minutes=int(undo_service.UNDO_WINDOW.total_seconds() // 60)
        )
        return
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    turn.render("button_undo"), callback_data=UndoChoice(preview.entry_id).pack()
                ),
                InlineKeyboardButton(
                    turn.render("button_cancel"), callback_data=UndoChoice("x").pack()
                ),
            ]
        ]
    )
    await turn.reply("undo_confirm", markup=markup, p=preview)


@on_tap(UndoChoice)
async def on_undo(turn: Turn, tap: UndoChoice) -> None:
    query = turn.update.callback_query
    entry = tap.entry
    if entry == "x":
        await turn.claim()
        await query.answer()
        await edit(query, turn.render("undo_kept"))
        return
    result = await turn.write(
        undo_service.undo_entry, turn.app.db, turn.counsellor, entry, turn.now, rules=turn.app.rules
    )
    await query.answer()
    if result is None:
        await edit(query, turn.render("undo_gone"))
        return
    await edit(query, turn.render("undone", u=result))


def register(application: Application) -> None:
    application.add_handler(command("find", find))
    application.add_handler(command("export", export))
    application.add_handler(command("forget", forget))
    application.add_handler(command("undo", undo))
    application.add_handler(button_handler(on_forget))
    application.add_handler(button_handler(on_undo))
