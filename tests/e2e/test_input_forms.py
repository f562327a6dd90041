"""Issue 13: forgiving input, end to end through the real Application and the strict fake.

`／log` with a full-width slash is a command; `trust：4 next：周五` are options; an unreadable
`next=` keeps the note and asks for the date with buttons; `/lgo` offers to run /log on the
same text; an unknown option is said back, never silently kept.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.test_core_loop import admin_ready, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _ready(env):
    admin = await admin_ready(env, lang="zh-hans")
    await admin.send("/new 学生B sid=2025102")
    await admin.expect_message()
    return admin


async def test_full_width_slash_is_a_command(bot_env):
    admin = await _ready(bot_env)
    before = table_counts(bot_env.db_path)
    await admin.send("／log 学生B 路上碰到，状态不错 trust：4 next：周五")
    reply = await admin.expect_message()
    assert "已记录" in reply.text and "#1 学生B" in reply.text, reply.text
    assert "／log" not in reply.text and "trust：4" not in reply.text
    assert "信任度" in reply.text and "4" in reply.text
    assert "2026-12-04 09:00" in reply.text  # 周五, the default hour
    after = table_counts(bot_env.db_path)
    assert after["interactions"] == before["interactions"] + 1
    assert after["plan_items"] == before["plan_items"] + 1
    # full-width letters too, and a read-only command
    await admin.send("／ｍａｐ 学生B")
    shown = await admin.expect_message()
    assert "学生B" in shown.text and "路上碰到" in shown.text
    assert bot_env.server.errors == []


async def test_unreadable_next_keeps_the_note_and_asks_only_for_the_date(bot_env):
    admin = await _ready(bot_env)
    before = table_counts(bot_env.db_path)
    await admin.send("/log 学生B 路上碰到 next=过几天")
    reply = await admin.expect_message()
    assert "已记录" in reply.text and "过几天" in reply.text, reply.text
    labels = [text for row in reply.buttons for text, _ in row]
    assert labels[:3] == ["明天", "下周一", "两周后"], labels
    after = table_counts(bot_env.db_path)
    assert after["interactions"] == before["interactions"] + 1
    assert after["plan_items"] == before["plan_items"]  # no follow-up until a date is chosen
    await admin.tap(reply, "下周一")
    planned = await admin.expect_message()
    assert "2026-11-30 09:00" in planned.text and "路上碰到" in planned.text, planned.text
    assert table_counts(bot_env.db_path)["plan_items"] == before["plan_items"] + 1
    # the question's buttons are gone and its parked entry used up: no second follow-up
    assert (await admin.expect_edit(reply)).buttons == []
    with sqlite3.connect(bot_env.db_path) as con:
        assert (
            con.execute("select count(*) from pending_inputs where kind='next'").fetchone()[0] == 0
        )


async def test_next_week_words_are_understood(bot_env):
    admin = await _ready(bot_env)
    await admin.send("/log 学生B 路上碰到 next=下周")
    reply = await admin.expect_message()
    assert "2026-11-30 09:00" in reply.text, reply.text
    assert reply.buttons == []
    await admin.send("/plan 学生B 周五晚上 打个电话")
    planned = await admin.expect_message()
    assert "2026-12-04 19:00" in planned.text, planned.text


async def test_typo_command_offers_to_run_it_on_the_same_text(bot_env):
    admin = await _ready(bot_env)
    before = table_counts(bot_env.db_path)
    await admin.send("/lgo 学生B 在图书馆碰到，在补作业")
    reply = await admin.expect_message()
    assert "/log" in reply.text and "/lgo" in reply.text, reply.text
    assert table_counts(bot_env.db_path)["interactions"] == before["interactions"]
    await admin.tap(reply, "▶️ 执行 /log")
    await admin.expect_edit(reply)
    logged = await admin.expect_message()
    assert "已记录" in logged.text and "在图书馆碰到" in logged.text, logged.text
    assert table_counts(bot_env.db_path)["interactions"] == before["interactions"] + 1
    # a command nobody could mean still gets the plain answer
    await admin.send("/frobnicate")
    plain = await admin.expect_message()
    assert "/help" in plain.text and plain.buttons == []


async def test_unknown_option_is_said_back(bot_env):
    admin = await _ready(bot_env)
    await admin.send("/log 学生B 路上碰到 trsut=4")
    reply = await admin.expect_message()
    assert "trsut=4" in reply.text and "trust=" in reply.text, reply.text
    assert "⚠️" in reply.text
