"""Issue 10: a reply that fails after the transaction committed tells the truth (saved, and
what to do), and every reply is fitted to Telegram's 4,096 characters."""

from __future__ import annotations

import sqlite3

import pytest

from rendering.render import MAX_MESSAGE, visible_length
from tests.e2e.test_core_loop import admin_ready, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _count(db_path, sql: str) -> int:
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


async def test_three_hundred_tags_are_refused_clearly_and_nothing_changes(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生B")
    await admin.expect_message()
    before = table_counts(bot_env.db_path)
    await admin.send("/status 学生B " + " ".join(f"#t{i}" for i in range(300)))
    reply = await admin.expect_message()
    assert "at most 20 tags" in reply.text
    assert "nothing was saved" not in reply.text and "went wrong" not in reply.text
    assert table_counts(bot_env.db_path) == before
    # one at a time, the cap counts what the client already has
    await admin.send("/status 学生B " + " ".join(f"#t{i}" for i in range(18)))
    assert "t11 … and 6 more" in (await admin.expect_message()).text
    await admin.send("/status 学生B #x1 #x2 #x3")
    reply = await admin.expect_message()
    assert "at most 20 tags" in reply.text and "21" in reply.text
    await admin.send("/status 学生B -#t0 -#t1 #x1 #x2 #x3 #x4")  # 18 - 2 + 4 = 20: fine
    reply = await admin.expect_message()
    assert "x4" in reply.text
    assert _count(bot_env.db_path, "SELECT count(*) FROM client_tags") == 20
    await admin.send("/new 学生C " + " ".join(f"#t{i}" for i in range(21)))
    assert "at most 20 tags" in (await admin.expect_message()).text
    assert bot_env.server.errors == []


async def test_chinese_tag_cap_reply(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/new 学生B")
    await admin.expect_message()
    await admin.send("/status 学生B " + " ".join(f"#t{i}" for i in range(300)))
    reply = await admin.expect_message()
    assert "最多 20 个标签" in reply.text


async def test_every_reply_fits_in_one_message(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生B")
    await admin.expect_message()
    needs = " ".join("#" + str(i) + "需" * 190 for i in range(40))  # 40 needs of 191 characters
    await admin.send(f"/log 学生B 谈了很久 {needs}")
    reply = await admin.expect_message()
    assert reply.text.startswith("✅ Logged") and visible_length(reply.html) <= MAX_MESSAGE
    assert reply.text.endswith("…")
    assert _count(bot_env.db_path, "SELECT count(*) FROM interactions") == 1
    await admin.send("/map 学生B")
    reply = await admin.expect_message()
    assert "Relationship map" in reply.text and len(reply.text) <= MAX_MESSAGE
    assert bot_env.server.errors == []


async def test_a_reply_refused_after_commit_says_saved_not_lost(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生B")
    await admin.expect_message()
    bot_env.server.fail_next_with(400, "Bad Request: can't parse entities", methods={"sendMessage"})
    await admin.send("/log 学生B 在图书馆碰到, 在补作业")
    reply = await admin.expect_message()
    assert "Saved for #1 学生B" in reply.text and "don't send it again" in reply.text
    assert "nothing was saved" not in reply.text
    assert "/map 1" in reply.text
    assert _count(bot_env.db_path, "SELECT count(*) FROM interactions") == 1
    # a failure before anything was written still says so
    bot_env.server.fail_next_with(400, "Bad Request: can't parse entities", methods={"sendMessage"})
    await admin.send("/map 学生B")
    reply = await admin.expect_message()
    assert "nothing was saved" in reply.text


async def test_a_button_whose_edit_fails_after_commit_says_saved(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/new 王芳")
    await admin.expect_message()
    await admin.send("/new 王芳芳")
    await admin.expect_message()
    await admin.send("/log 王 聊了学业")
    choose = await admin.expect_message()
    bot_env.server.fail_next_with(
        400, "Bad Request: message to edit not found", methods={"editMessageText"}
    )
    await admin.tap(choose, "#1 王芳")
    reply = await admin.expect_message()
    assert "已保存" in reply.text and "请不要重复发送" in reply.text
    assert _count(bot_env.db_path, "SELECT count(*) FROM interactions") == 1
