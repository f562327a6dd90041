"""A row id is a name that buttons and the outbox keep: it must never name another row.

SQLite gives a new row the largest id + 1, so deleting the newest row handed its id to the
next one. Found by reading the outbox keys: a PHQ-9 typed wrong (item 9 = 3) raises a crisis
alert, which is pushed; /undo takes the screening and its alert back; the PHQ-9 typed again
raises a new crisis alert — with the old alert's id, whose push ("alert:<id>") is already in
the outbox, so the new one was never pushed, nor repeated, nor escalated. Tables whose ids
reach a button or an outbox key now never reuse an id (AUTOINCREMENT; PostgreSQL's
sequences never did).
"""

from __future__ import annotations

import pytest

from reminders.tick import run_once, urgent_settled
from tests.e2e.harness import db_rows as rows
from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def say(user, text: str):
    await user.send(text)
    return await user.expect_message()


async def test_a_crisis_alert_after_an_undone_one_is_pushed_repeated_and_escalated(bot_env):
    admin = await admin_ready(bot_env, lang="zh")
    await say(admin, "/settings agenda=off")
    await say(admin, "/new 王芳")
    await say(admin, "/phq9 王芳 3 3 3 3 3 3 3 3 3")  # a typo: item 9 = 3
    await urgent_settled(bot_env.app)
    first = await admin.expect_message(contains="危机预警", skip_others=True)
    [(old_id,)] = rows(bot_env, "SELECT id FROM alerts")
    ask = await say(admin, "/undo")
    assert "PHQ-9" in ask.text, ask.text
    await admin.tap(ask, "↩️ 撤销")
    assert "已撤销" in (await admin.expect_edit(ask)).text
    assert rows(bot_env, "SELECT count(*) FROM alerts") == [(0,)]

    await say(admin, "/phq9 王芳 3 3 3 3 3 3 3 3 2")  # typed again: still a crisis
    await urgent_settled(bot_env.app)
    [(new_id,)] = rows(bot_env, "SELECT id FROM alerts")
    assert new_id != old_id, "the new alert took the undone alert's id"
    pushed = await admin.expect_message(contains="危机预警", skip_others=True, timeout=30)
    assert pushed.message_id != first.message_id
    # unacknowledged: repeated at its deadline, like any crisis alert
    bot_env.clock.advance(hours=1, minutes=1)
    await run_once(bot_env.app)
    repeat = await admin.expect_message(contains="第 1 次提醒", skip_others=True, timeout=30)
    assert "王芳" in repeat.text


async def test_the_withdrawn_alerts_button_says_so(bot_env):
    """After /undo took a crisis PHQ-9 and its alert back, the alert's message is still in
    the chat: its Acknowledge said "this button isn't yours, or it has already been used"."""
    admin = await admin_ready(bot_env, lang="zh")
    await say(admin, "/settings agenda=off")
    await say(admin, "/new 王芳")
    await say(admin, "/phq9 王芳 3 3 3 3 3 3 3 3 3")
    await urgent_settled(bot_env.app)
    alert = await admin.expect_message(contains="危机预警", skip_others=True)
    ask = await say(admin, "/undo")
    await admin.tap(ask, "↩️ 撤销")
    await admin.expect_edit(ask)
    query = await admin.tap(alert, "✅ 确认")
    answer = await bot_env.server.expect_callback_answer(query)
    assert "已撤回" in answer.text and answer.show_alert, answer
    assert not (await admin.expect_edit(alert)).button_texts
