"""End to end: /resources, /refer and the referral status buttons (dimension 4, 价值匹配)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.test_core_loop import admin_ready, invite_second, replay_callback, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def say(user, text):
    await user.send(text)
    return await user.expect_message()


def referral_rows(env):
    """Referrals as stored; the resource is encrypted at rest, so decrypt it to compare."""
    con = sqlite3.connect(env.db_path)
    try:
        rows = con.execute(
            "SELECT resource_enc, status, updated_at IS NOT NULL FROM referrals ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    return [(env.db.cipher.decrypt(r), s, u) for r, s, u in rows]


async def test_resources_in_both_languages(bot_env):
    admin = await admin_ready(bot_env)
    msg = await say(admin, "/resources")
    for text in (
        "On campus",
        "Off campus",
        "Personal support",
        "tutoring",
        "Counselling centre",
        "Work-study post",
        "Alumni mentor",
        "Study plan",
        "/refer",
    ):
        assert text in msg.text
    assert (
        msg.text.index("On campus")
        < msg.text.index("Off campus")
        < msg.text.index("Personal support")
    )
    await say(admin, "/lang zh")
    msg = await say(admin, "/resources")
    for text in (
        "校内资源",
        "校外资源",
        "个人支持",
        "tutoring",
        "心理咨询中心",
        "勤工助学岗位",
        "校友导师",
    ):
        assert text in msg.text
    assert "Counselling centre" not in msg.text


async def test_refer_buttons_double_tap_and_map(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 王芳 #贫困生")
    msg = await say(admin, "/refer 王芳 tutoring")
    assert "#1 王芳" in msg.text and "Tutoring" in msg.text and "referred" in msg.text
    assert msg.button_texts == ["✅ Accepted", "🏁 Completed", "✖️ Declined"]
    assert all(len(data.encode()) <= 64 for row in msg.buttons for _, data in row)
    by_zh = await say(admin, "/refer 1 心理咨询中心")
    assert "Counselling centre" in by_zh.text
    free = await say(admin, "/refer wf Prof. Li's <reading> group & co")
    assert "Prof. Li's <reading> group & co" in free.text and "not in the catalogue" in free.text
    assert [r[:2] for r in referral_rows(bot_env)] == [
        ("tutoring", "referred"),
        ("counselling_centre", "referred"),
        ("Prof. Li's <reading> group & co", "referred"),
    ]
    # Accepted → Completed, each tap edits the message.
    bot_env.clock.advance(days=2)
    qid = await admin.tap(msg, "✅ Accepted")
    edited = await admin.expect_edit(msg)
    assert "accepted" in edited.text and "updated 2026-11-30" in edited.text
    assert (await admin.expect_callback_answer(qid)).text == "Saved"
    # A double tap changes nothing and says so.
    qid = await replay_callback(bot_env.server, admin, msg, msg.buttons[0][0][1])
    assert (await admin.expect_callback_answer(qid)).text == "Already recorded"
    bot_env.clock.advance(days=3)
    qid = await admin.tap(msg, "🏁 Completed")
    edited = await admin.expect_edit(msg)
    assert "completed" in edited.text and "updated 2026-12-03" in edited.text
    await admin.expect_callback_answer(qid)
    assert referral_rows(bot_env)[0] == ("tutoring", "completed", 1)
    # The map lists them latest first, in the counsellor's language, with status and dates.
    m = (await say(admin, "/map 王芳")).text
    section = m[m.index("4 · Resources matched") : m.index("5 · Relationship status")]
    lines = [ln for ln in section.splitlines() if ln.startswith("•")]
    assert lines[0].startswith("• Prof. Li's <reading> group & co — 📨 referred · 2026-11-28")
    assert lines[1].startswith("• Counselling centre — 📨 referred")
    assert lines[2] == "• Tutoring — 🏁 completed · 2026-11-28 → 2026-12-03"
    # No interaction was added: a referral is not a contact.
    assert "(0 in all" in m
    await say(admin, "/lang zh")
    m = (await say(admin, "/map 1")).text
    assert "学业辅导 — 🏁 已完成" in m and "心理咨询中心 — 📨 已转介" in m


async def test_another_counsellor_cannot_use_the_buttons(bot_env):
    admin = await admin_ready(bot_env)
    second, _ = await invite_second(bot_env, admin)
    await say(admin, "/new 王芳")
    msg = await say(admin, "/refer 1 tutoring")
    data = msg.buttons[0][2][1]
    await say(second, "/new 张三")
    mine = await say(second, "/refer 张三 internship")
    for forged in (data, "rr:1:tutoring", "rp:1:1"):  # well formed, not theirs
        qid = await replay_callback(bot_env.server, second, mine, forged)
        assert "isn't yours" in (await second.expect_callback_answer(qid)).text
    for forged in ("rf:abc:a", "rf:1:z", "rf:1", "rf:99999999999999999999:a"):  # malformed
        qid = await replay_callback(bot_env.server, second, mine, forged)
        assert "no longer works" in (await second.expect_callback_answer(qid)).text
    assert [r[1] for r in referral_rows(bot_env)] == ["referred", "referred"]
    # Nor can they refer someone else's client.
    assert "couldn't find" in (await say(second, "/refer 王芳 tutoring")).text


async def test_malformed_refer_changes_nothing(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 王芳")
    before = table_counts(bot_env.db_path)
    assert "Which client" in (await say(admin, "/refer")).text
    assert "couldn't find" in (await say(admin, "/refer nobody tutoring")).text
    msg = await say(admin, "/refer 王芳")
    assert "to what?" in msg.text and "/refer 王芳 tutoring" in msg.text and not msg.buttons
    msg = await say(admin, "/refer 王芳 c")
    assert "more than one resource" in msg.text and "career_centre" in msg.text
    msg = await say(admin, "/refer 王芳 " + "x" * 150)
    assert "at most 100" in msg.text
    assert table_counts(bot_env.db_path) == before
    await say(admin, "/lang zh")
    msg = await say(admin, "/refer 王芳")
    assert "转介到哪里" in msg.text
    assert table_counts(bot_env.db_path) == before


async def test_needs_suggest_resources(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 王芳")
    await say(admin, "/log 王芳 missed classes, works nights #挂科 #学费")
    msg = await say(admin, "/refer 王芳")
    assert "fit the needs" in msg.text
    assert {"Tutoring", "Work-study post", "Financial aid office", "Study plan"} <= set(
        msg.button_texts
    )
    assert "Counselling centre" not in msg.button_texts
    qid = await admin.tap(msg, "Work-study post")
    edited = await admin.expect_edit(msg)
    assert "Work-study post" in edited.text and edited.button_texts[0] == "✅ Accepted"
    await admin.expect_callback_answer(qid)
    # A second tap on the old suggestion cannot refer twice.
    qid = await replay_callback(bot_env.server, admin, msg, msg.buttons[0][0][1])
    assert "isn't yours" in (await admin.expect_callback_answer(qid)).text
    assert referral_rows(bot_env) == [("work_study", "referred", 0)]
    # Already referred resources are not suggested again; Cancel saves nothing.
    msg = await say(admin, "/refer 1")
    assert "Work-study post" not in msg.button_texts
    await admin.tap(msg, "Cancel")
    assert "nothing was saved" in (await admin.expect_edit(msg)).text
    assert len(referral_rows(bot_env)) == 1


async def test_ambiguous_client_is_chosen_with_buttons(bot_env):
    admin = await admin_ready(bot_env)
    for name in ("王芳", "王伟"):
        await say(admin, f"/new {name}")
    ask = await say(admin, "/refer 王 实习")
    assert "more than one" in ask.text
    qid = await admin.tap(ask, "#2 王伟")
    edited = await admin.expect_edit(ask)
    assert "#2 王伟" in edited.text and "Internship" in edited.text
    await admin.expect_callback_answer(qid)
    qid = await replay_callback(bot_env.server, admin, ask, ask.buttons[0][0][1])
    assert "isn't yours" in (await admin.expect_callback_answer(qid)).text
    assert referral_rows(bot_env) == [("internship", "referred", 0)]
