"""Messages that are not text: photos, voice, files, stickers, locations, …

CareMap keeps text only (notes are encrypted text; a photo of a student or a voice message
is not stored anywhere). A counsellor who sends one gets a short reply saying what the bot
can take — unless its caption is a command (`/log 学生B …` under a photo), which is run as
that command on the caption's text.

Documents go through `DOCUMENT_HANDLERS` first: a later feature (a roster file for
`/import`) appends a function `(turn) -> bool` that returns True when it took the file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Message
from telegram.ext import Application, MessageHandler, filters

from bot.turn import Turn, dispatch, guard
from domain import grammar

# the kinds, in the order they are recognised; each has a word in templates/*/media_unsupported
KINDS = (
    "photo",
    "voice",
    "audio",
    "video_note",
    "video",
    "animation",
    "sticker",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)

DocumentHandler = Callable[[Turn], Awaitable[bool]]
DOCUMENT_HANDLERS: list[DocumentHandler] = []

_MEDIA = (
    filters.PHOTO
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.Sticker.ALL
    | filters.Document.ALL
    | filters.LOCATION
    | filters.VENUE
    | filters.CONTACT
    | filters.POLL
    | filters.Dice.ALL
)


def media_kind(message: Message) -> str:
    # a venue carries a location too, and an animation a document: the first match wins
    for kind in ("venue", "animation", *KINDS):
        if getattr(message, kind, None):
            return kind
    return "other"


@guard
async def on_media(turn: Turn) -> None:
    message = turn.update.effective_message
    kind = media_kind(message)
    caption = (message.caption or "").strip()
    typed = grammar.split_command(caption) if caption else None
    if typed is not None:
        handler = dispatch(turn).get(typed[0])
        if handler is not None:
            turn.args = typed[1]
            await handler(turn)
            return
    if kind == "document":
        for take in DOCUMENT_HANDLERS:
            if await take(turn):
                return
        if DOCUMENT_HANDLERS and turn.app.renderer.exists(turn.lang, "import_not_a_roster"):
            # files the bot can read exist (class rosters): say which
            await turn.reply("import_not_a_roster")
            return
    await turn.reply("media_unsupported", kind=kind, caption=bool(caption))


def register(application: Application) -> None:
    """Called from bot.routes.register, before the catch-all handlers."""
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & _MEDIA & filters.UpdateType.MESSAGE, on_media)
    )
