"""End to end: screenings by arguments and by buttons, tiers and reasons on /map, /clients order."""

from __future__ import annotations

import pytest

from tests.e2e.test_core_loop import admin_ready, replay_callback, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _with_client(env, name="王芳"):
    admin = await admin_ready(env)
    await admin.send(f"/new {name}")
    await admin.expect_message()
    return admin


async def test_phq9_by_arguments_item9_makes_crisis(bot_env):
    admin = await _with_client(bot_env)
    await admin.send("/phq9 王芳 1 1 1 1 1 0 0 0 1")
    msg = await admin.expect_message()
    assert "PHQ-9" in msg.text and "6/27" in msg.text and "mild" in msg.text
    assert msg.text.startswith("📋 Saved: PHQ-9"), msg.text
    assert "Item 9" in msg.text and "crisis" in msg.text.lower()
    alert = await admin.expect_message()  # the crisis alert follows the reply at once
    assert "CRISIS" in alert.text and alert.button_texts == ["✅ Acknowledge", "🛟 Safety check"]
    await admin.send("/map 王芳")
    m = (await admin.expect_message()).text
    assert "Risk: 🔴 crisis" in m
    assert "PHQ-9 item 9" in m
    assert "PHQ-9 6 (mild, item 9 = 1)" in m


async def test_gad7_compact_answers_and_trend(bot_env):
    admin = await _with_client(bot_env)
    await admin.send("/gad7 王芳 1111111")
    first = await admin.expect_message()
    assert "7/21" in first.text and "mild" in first.text
    bot_env.clock.advance(days=14)
    await admin.send("/gad7 王芳 3333222")
    second = await admin.expect_message()
    assert "18/21" in second.text and "severe" in second.text
    assert "7 → 18 (+11)" in second.text
    assert "high" in second.text  # the tier rose, with its reason


async def test_screening_bad_answers_change_nothing(bot_env):
    admin = await _with_client(bot_env)
    before = table_counts(bot_env.db_path)
    for cmd, fragment in (
        ("/phq9 王芳 1 2 3", "9"),
        ("/gad7 王芳 1 1 1 1 1 1 7", "7"),
        ("/phq9 王芳 1 1 1 1 1 1 1 1 x", "9"),
    ):
        await admin.send(cmd)
        reply = await admin.expect_message()
        assert fragment in reply.text and "went wrong" not in reply.text, (cmd, reply.text)
    assert table_counts(bot_env.db_path) == before


async def test_phq9_by_buttons_with_back_cancel_and_double_tap(bot_env):
    admin = await _with_client(bot_env)
    await admin.send("/phq9 王芳")
    q = await admin.expect_message()
    assert "question 1 of 9" in q.text and "interest or pleasure" in q.text.lower()
    await admin.tap(q, "1 · Several days")
    q2 = await admin.expect_edit(q)
    assert "question 2 of 9" in q2.text
    await admin.tap(q2, "‹ Back")
    q3 = await admin.expect_edit(q)
    assert "question 1 of 9" in q3.text
    answers = [2, 2, 1, 1, 0, 0, 1, 0, 0]
    current = q3
    for i, a in enumerate(answers):
        label = current.buttons[a][0][0]
        await admin.tap(current, label)
        current = await admin.expect_edit(q)
        if i < len(answers) - 1:
            assert f"question {i + 2} of 9" in current.text
    assert "7/27" in current.text and "mild" in current.text
    # Tapping the last answer again (a double tap) saves nothing more.
    qid = await replay_callback(bot_env.server, admin, current, "s:1:221100100")
    answer = await admin.expect_callback_answer(qid)
    assert "already been used" in answer.text
    import sqlite3

    con = sqlite3.connect(bot_env.db_path)
    assert con.execute("select count(*) from screenings").fetchone()[0] == 1
    con.close()
    # Cancel leaves nothing.
    await admin.send("/gad7 王芳")
    g = await admin.expect_message()
    await admin.tap(g, "Cancel")
    assert "nothing was saved" in (await admin.expect_edit(g)).text
    con = sqlite3.connect(bot_env.db_path)
    assert con.execute("select count(*) from screenings").fetchone()[0] == 1
    con.close()


async def test_clients_ordered_by_tier_and_map_reasons(bot_env):
    admin = await admin_ready(bot_env)
    for name in ("甲", "乙", "丙"):
        await admin.send(f"/new {name}")
        await admin.expect_message()
    await admin.send("/log 甲 chatted #career via=chat")
    await admin.expect_message()
    await admin.send("/log 乙 failing three courses #挂科 via=face risk=medium")
    await admin.expect_message()
    await admin.send("/phq9 丙 2 2 2 2 2 2 2 2 0")
    msg = await admin.expect_message()
    assert "16/27" in msg.text
    alert = await admin.expect_message(contains="HIGH RISK")  # the alert follows the reply at once
    assert "丙" in alert.text
    await admin.send("/clients")
    lines = [ln for ln in (await admin.expect_message()).text.splitlines() if "· " in ln]
    order = [next(n for n in ("甲", "乙", "丙") if n in ln) for ln in lines]
    assert order[0] == "乙" or order[0] == "丙"
    assert order[-1] == "甲"
    await admin.send("/map 乙")
    m = (await admin.expect_message()).text
    assert "Risk: 🟡 medium" in m and "set to medium risk by the counsellor" in m
    assert "Contact frequency" in m and "Need urgency" in m


async def test_a_risk_tag_can_be_cleared_and_the_tier_follows(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生B #挂科")
    await admin.expect_message()
    await admin.send("/map 学生B")
    assert "Risk: 🟡 medium" in (await admin.expect_message()).text
    await admin.send("/status 学生B -#挂科")
    msg = await admin.expect_message()
    assert "tag 挂科 → –" in msg.text
    assert "Risk tier medium risk → low risk" in msg.text
    await admin.send("/map 学生B")
    m = (await admin.expect_message()).text
    assert "Risk: 🟢 low" in m and "Tags: –" in m and "tag 挂科→–" in m
