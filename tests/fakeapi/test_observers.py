"""The fake's observer hook (what the demo page listens to), its chat history and the
command menu as a user sees it."""

from __future__ import annotations

import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
)
from telegram.constants import ParseMode

from bot.fakeapi import FakeTelegramServer, ServerEvent


@pytest_asyncio.fixture
async def bot(fake_api: FakeTelegramServer):
    async with Bot(
        fake_api.token, base_url=fake_api.base_url, base_file_url=fake_api.base_file_url
    ) as b:
        yield b


async def test_subscribe_sees_messages_edits_answers_deletions_and_menus(fake_api, bot):
    events: list[ServerEvent] = []
    unsubscribe = fake_api.subscribe(events.append)
    ann = fake_api.user(1001, "Ann", started=True)

    await ann.send("/start")
    sent = await bot.send_message(
        1001,
        "<b>hi</b> there",
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]]),
    )
    qid = await ann.tap(sent.message_id, "Go")
    await bot.answer_callback_query(qid, "Done!", show_alert=False)
    await bot.edit_message_text("<i>edited</i>", 1001, sent.message_id, parse_mode=ParseMode.HTML)
    await bot.send_document(1001, InputFile(b"a,b\n1,2\n", filename="export.csv"))
    await bot.delete_message(1001, sent.message_id)
    await bot.set_my_commands([BotCommand("log", "Log")])

    kinds = [(e.kind, e.from_bot) for e in events]
    assert kinds == [
        ("message", False),
        ("message", True),
        ("callback_answer", True),
        ("edit", True),
        ("message", True),
        ("delete", True),
        ("commands", False),
    ]
    user_msg, bot_msg, answer, edit, document = events[:5]
    assert user_msg.chat_id == 1001 and user_msg.message.text == "/start"
    assert bot_msg.message.text == "hi there"
    assert bot_msg.message.entity_types() == ["bold"]
    assert answer.answer.text == "Done!" and answer.message.message_id == sent.message_id
    assert edit.message.message_id == sent.message_id and edit.message.version == 1
    assert edit.message.entity_types() == ["italic"] and edit.message.reply_markup is None
    assert (
        document.message.file_name == "export.csv" and document.message.file_bytes == b"a,b\n1,2\n"
    )

    unsubscribe()
    await bot.send_message(1001, "after")
    assert len(events) == 7


async def test_a_failing_observer_does_not_change_what_the_bot_is_answered(fake_api, bot):
    def broken(event: ServerEvent) -> None:
        raise RuntimeError("observer bug")

    fake_api.subscribe(broken)
    fake_api.user(1001, "Ann", started=True)
    message = await bot.send_message(1001, "still delivered")
    assert message.text == "still delivered"
    assert fake_api.errors == []


async def test_history_holds_both_sides_in_order_without_deleted(fake_api, bot):
    ann = fake_api.user(1001, "Ann", started=True)
    await ann.send("one")
    first = await bot.send_message(1001, "two")
    await ann.send("three")
    await bot.delete_message(1001, first.message_id)
    await bot.send_message(1001, "four")
    history = ann.history
    assert [m.text for m in history] == ["one", "three", "four"]
    assert [m.raw["from"]["is_bot"] for m in history] == [False, False, True]


async def test_menu_commands_resolve_like_telegram(fake_api, bot):
    fake_api.user(1001, "Ann", started=True)
    assert fake_api.menu_commands(1001, "zh") == []
    await bot.set_my_commands([BotCommand("help", "Help")])
    assert fake_api.menu_commands(1001, "zh-hans") == [("help", "Help")]
    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([BotCommand("log", "Log")], scope=private)
    await bot.set_my_commands([BotCommand("log", "记录")], scope=private, language_code="zh")
    assert fake_api.menu_commands(1001, "zh-hans") == [("log", "记录")]
    assert fake_api.menu_commands(1001, "en") == [("log", "Log")]
    assert fake_api.menu_commands(1001, None) == [("log", "Log")]
