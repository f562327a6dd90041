"""`/overview`: the caseload as a picture (counts only, no names), sent as a photo with the
"uploading photo" chat action and a short caption."""

from __future__ import annotations

import io

from telegram import InputFile
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application

from bot.turn import Turn, command, guard, run
from bot.views import choose_client
from services.overview import overview as overview_data


@guard
async def overview(turn: Turn) -> None:
    from bot.charts import overview_png  # matplotlib is loaded on first use only

    chat_id = turn.update.effective_chat.id
    await turn.context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
    data = await run(overview_data, turn.app.db, turn.counsellor, turn.now)
    png = await run(overview_png, turn.app.renderer, turn.lang, data)
    await turn.context.bot.send_photo(
        chat_id,
        photo=InputFile(io.BytesIO(png), filename="overview.png"),
        caption=turn.render("overview_caption", d=data),
        parse_mode=ParseMode.HTML,
    )


def register(application: Application) -> None:
    application.add_handler(command("overview", overview))


async def client_chart(turn: Turn, args: str) -> None:
    """`/map <client> chart` (called by bot.handlers.map_, already guarded)."""
    from bot.charts import client_png
    from services import clients
    from services.overview import client_chart as chart_data

    result = await run(chart_data, turn.app.db, turn.counsellor, args, turn.now)
    if isinstance(result, clients.Choice):
        await choose_client(turn, result)
        return
    chat_id = turn.update.effective_chat.id
    await turn.context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
    png = await run(client_png, turn.app.renderer, turn.lang, turn.counsellor.timezone, result)
    await turn.context.bot.send_photo(
        chat_id,
        photo=InputFile(io.BytesIO(png), filename="chart.png"),
        caption=turn.render("chart_caption", c=result),
        parse_mode=ParseMode.HTML,
    )
