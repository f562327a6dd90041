"""Issue 10: photos, voice, files, stickers and locations from a counsellor get a short reply
saying what the bot can take; a photo whose caption is a command runs that command."""

from __future__ import annotations

import sqlite3

import pytest

from bot import handlers_media
from tests.conftest import STRANGER_ID
from tests.e2e.test_core_loop import admin_ready, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WORDS = {
    "photo": "photos",
    "voice": "voice messages",
    "sticker": "stickers",
    "location": "locations",
}


def interactions(env) -> list[str]:
    con = sqlite3.connect(env.db_path)
    try:
        return [r[0] for r in con.execute("SELECT id FROM interactions")]
    finally:
        con.close()


async def test_non_text_messages_get_a_short_reply_and_store_nothing(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生B")
    await admin.expect_message()
    before = table_counts(bot_env.db_path)
    for kind, word in WORDS.items():
        await admin.send_media(kind)
        reply = await admin.expect_message()
        assert f"I can't keep {word}" in reply.text, kind
        assert "/log" in reply.text and "/help" in reply.text
        assert "went wrong" not in reply.text
    # a file that is no class roster: which files the bot reads
    await admin.send_media("document")
    assert "class rosters" in (await admin.expect_message()).text
    # a caption that is not a command: said so, still nothing stored
    await admin.send_media("photo", caption="食堂碰到她")
    reply = await admin.expect_message()
    assert "caption works too" in reply.text and "this caption was not one" in reply.text
    assert table_counts(bot_env.db_path) == before
    assert bot_env.server.errors == []


async def test_a_caption_that_is_a_command_runs_it(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send_media("photo", caption="/new 学生B #贫困生")
    assert "Added" in (await admin.expect_message()).text
    await admin.send_media("photo", caption="/log 学生B 在图书馆碰到, 在补作业 via=face")
    reply = await admin.expect_message()
    assert reply.text.startswith("✅ Logged for #1 学生B")
    assert len(interactions(bot_env)) == 1
    await admin.send_media("document", caption="／map 学生B")  # a full-width slash too
    assert "Relationship map" in (await admin.expect_message()).text


async def test_in_chinese_and_for_strangers(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send_media("voice")
    reply = await admin.expect_message()
    assert "不能保存语音消息" in reply.text
    stranger = bot_env.server.user(STRANGER_ID, "Mallory", language_code="zh-hans")
    await stranger.send_media("photo", caption="/new 学生X")
    assert "受邀" in (await stranger.expect_message()).text


async def test_documents_go_to_the_document_handlers_first(bot_env, monkeypatch):
    taken = []

    async def roster(turn):
        taken.append(turn.update.effective_message.document.file_name)
        await turn.send_text("roster received")
        return True

    monkeypatch.setattr(handlers_media, "DOCUMENT_HANDLERS", [roster])
    admin = await admin_ready(bot_env)
    await admin.send_media("document")
    assert (await admin.expect_message()).text == "roster received"
    assert taken == ["谈话记录.pdf"]
    await admin.send_media("photo")  # other kinds are not offered to them
    assert "I can't keep photos" in (await admin.expect_message()).text
