"""End to end: reminders and alerts delivered by the tick, with an injected clock.

The JobQueue timer is off in these tests (`jobs=False`); each test runs the tick itself
with `reminders.tick.run_once` after moving the clock — nobody waits for a real minute.
"""

from __future__ import annotations

import sqlite3

import pytest

from reminders.tick import run_once, urgent_settled
from tests.conftest import ADMIN_ID
from tests.e2e.harness import block_on_message
from tests.e2e.test_core_loop import admin_ready, invite_second, replay_callback

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def outbox_rows(env) -> list[tuple]:
    con = sqlite3.connect(env.db_path)
    try:
        return con.execute("select kind, status, dedupe_key from outbox order by id").fetchall()
    finally:
        con.close()


async def tick(env) -> dict:
    return await run_once(env.app)


async def settle(env):
    await env.server.idle(timeout=60, quiet=0.3)


async def quiet_admin(env):
    """An admin without the daily agenda, so only the reminders under test arrive."""
    admin = await admin_ready(env)
    await admin.send("/settings agenda=off")
    await admin.expect_message()
    return admin


async def test_plan_reminder_done_and_snooze(bot_env):
    admin = await quiet_admin(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    await admin.send("/plan 王芳 2h check the tutoring plan & <exam> dates")
    assert "12:00" in (await admin.expect_message()).text
    assert (await tick(bot_env)).get("sent", 0) == 0  # not due yet
    bot_env.clock.advance(hours=2)
    counts = await tick(bot_env)
    assert counts["sent"] == 1
    reminder = await admin.expect_message()
    assert (
        "Follow-up" in reminder.text and "check the tutoring plan & <exam> dates" in reminder.text
    )
    assert reminder.button_texts[0] == "✓ Done"
    # Snooze an hour: edited in place; due again an hour later.
    await admin.tap(reminder, "Snooze 1 h")
    snoozed = await admin.expect_edit(reminder)
    assert "Snoozed until 2026-11-28 13:00" in snoozed.text
    assert (await tick(bot_env))["sent"] == 0
    bot_env.clock.advance(hours=1)
    assert (await tick(bot_env))["sent"] == 1
    again = await admin.expect_message()
    assert "check the tutoring plan" in again.text
    qid = await admin.tap(again, "✓ Done")
    assert "Done" in (await admin.expect_edit(again)).text
    assert (await admin.expect_callback_answer(qid)).text == "Done ✓"
    # A double tap is harmless.
    qid2 = await replay_callback(bot_env.server, admin, again, again.buttons[0][0][1])
    assert (await admin.expect_callback_answer(qid2)).text == "Already done"
    bot_env.clock.advance(days=2)
    await tick(bot_env)
    await settle(bot_env)
    assert not [
        m for m in admin.messages if "Follow-up" in m.text and m.message_id > again.message_id
    ]


async def test_log_next_makes_a_reminder(bot_env):
    admin = await quiet_admin(bot_env)
    await admin.send("/new 学生B")
    await admin.expect_message()
    await admin.send("/log 学生B missed classes again next=tomorrow")
    await admin.expect_message()
    bot_env.clock.advance(days=1)  # tomorrow 09:00 local has passed at 10:00
    await tick(bot_env)
    msg = await admin.expect_message(contains="Follow-up", skip_others=True)
    assert "missed classes again" in msg.text


async def test_crisis_alert_repeats_then_escalates_and_ack_stops_it(bot_env):
    admin = await quiet_admin(bot_env)
    second, _ = await invite_second(bot_env, admin)
    await second.send("/settings agenda=off")
    await second.expect_message()
    await second.send("/new 学生C")
    await second.expect_message()
    await second.send("/phq9 学生C 1 1 1 1 1 1 1 1 2")
    assert "crisis" in (await second.expect_message()).text.lower()
    alert = await second.expect_message()  # sent at once, right after the reply, no tick needed
    assert (
        "CRISIS" in alert.text
        and "学生C" in alert.text
        and "respond within 1 h, by 2026-11-28 11:00" in alert.text
    )
    assert alert.button_texts == ["✅ Acknowledge", "🛟 Safety check"]
    # Crisis standard: re-alert after 15 min, escalate after 30 min (default rule file).
    bot_env.clock.advance(minutes=16)
    await tick(bot_env)
    assert "Reminder 1" in (await second.expect_message()).text
    bot_env.clock.advance(minutes=15)
    await tick(bot_env)
    escalation = await admin.expect_message(contains="Escalation", skip_others=True)
    assert "Zhang" in escalation.text and "学生C" in escalation.text
    await settle(bot_env)
    before_ack = sum("Reminder" in m.text for m in second.messages)
    assert before_ack == 2  # at +16 min and again 15 min later
    await second.tap(alert, "✅ Acknowledge")
    assert "Acknowledged" in (await second.expect_edit(alert)).text
    bot_env.clock.advance(hours=2)
    await tick(bot_env)
    await settle(bot_env)
    assert sum("Reminder" in m.text for m in second.messages) == before_ack  # no more after ack
    assert sum("Escalation" in m.text for m in admin.messages) == 1


async def test_blocked_counsellor_escalates_at_once(bot_env):
    admin = await quiet_admin(bot_env)
    second, _ = await invite_second(bot_env, admin)
    await second.send("/new 学生D")
    await second.expect_message()
    # Zhang blocks the bot as the reply arrives: the alert right after it cannot be delivered
    blocked = block_on_message(bot_env.server, second, "Changed: risk")
    await second.send("/status 学生D risk=crisis")
    assert "Changed: risk" in (await second.expect_message()).text
    await blocked
    await tick(bot_env)
    escalation = await admin.expect_message(contains="Escalation", skip_others=True)
    assert "could not be delivered" in escalation.text
    await urgent_settled(bot_env.app)  # the escalation went out at once; its mark follows the send
    assert ("escalation", "sent") in {(k, s) for k, s, _ in outbox_rows(bot_env)}


async def test_quiet_hours_hold_routine_reminders_but_not_crisis(bot_env):
    admin = await quiet_admin(bot_env)
    await admin.send("/settings quiet=22-7")
    assert "22:00-07:00" in (await admin.expect_message()).text
    await admin.send("/new 王芳")
    await admin.expect_message()
    await admin.send("/plan 王芳 23:00 call her mother")
    await admin.expect_message()
    bot_env.clock.advance(hours=13, minutes=30)  # 23:30 local
    counts = await tick(bot_env)
    assert counts.get("sent", 0) == 0 and counts["deferred"] == 1
    await admin.send("/status 王芳 risk=crisis")
    await admin.expect_message()
    await tick(bot_env)
    alert = await admin.expect_message()
    assert "CRISIS" in alert.text  # crisis alerts come through quiet hours
    bot_env.clock.advance(hours=7, minutes=45)  # 07:15 local
    await tick(bot_env)
    msg = await admin.expect_message(contains="call her mother", skip_others=True)
    assert "Follow-up" in msg.text


async def test_today_and_daily_agenda(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    await admin.send("/plan 王芳 15:00 check in after the exam")
    await admin.expect_message()
    await admin.send("/today")
    today = await admin.expect_message()
    assert "Agenda for 2026-11-28" in today.text and "check in after the exam" in today.text
    # Joined at 10:00, after today's 08:00 agenda time: the first agenda comes tomorrow.
    await tick(bot_env)
    await settle(bot_env)
    assert not [m for m in admin.messages if "Daily agenda" in m.text]
    bot_env.clock.advance(days=1)
    await tick(bot_env)
    pushed = await admin.expect_message(contains="Daily agenda", skip_others=True)
    assert "2026-11-29" in pushed.text and "check in after the exam" in pushed.text
    await tick(bot_env)
    await settle(bot_env)
    assert sum("Daily agenda" in m.text for m in admin.messages) == 1


async def test_a_long_agenda_fits_one_message(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    for i in range(45):
        await admin.send(f"/plan 王芳 1h follow-up number {i} " + "长" * 70)
        await admin.expect_message()
    await admin.send("/today")
    msg = await admin.expect_message()
    assert len(msg.text.encode("utf-16-le")) // 2 <= 4096
    assert "more" in msg.text and "follow-up number" in msg.text


async def test_settings_and_tz(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/settings")
    assert "Asia/Shanghai" in (await admin.expect_message()).text
    await admin.send("/tz America/New_York")
    msg = await admin.expect_message()
    assert "America/New_York" in msg.text and "2026-11-27 21:00" in msg.text
    await admin.send("/settings agenda=7:30 quiet=off")
    msg = await admin.expect_message()
    assert "07:30" in msg.text and "none" in msg.text
    await admin.send("/tz Mars/Base")
    assert "Mars/Base" in (await admin.expect_message()).text
    await admin.send(f"/settings supervisor {ADMIN_ID} 999")
    assert "don't know" in (await admin.expect_message()).text


async def test_pushed_reminders_follow_the_counsellors_telegram_language(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/settings agenda=off")
    await admin.expect_message()
    await admin.send("/new 王芳")
    await admin.expect_message()
    await admin.send("/plan 王芳 1h 给家长回电话")
    await admin.expect_message()
    bot_env.clock.advance(hours=1)
    await tick(bot_env)
    msg = await admin.expect_message()
    assert "跟进提醒" in msg.text and "给家长回电话" in msg.text
    assert msg.button_texts[0] == "✓ 完成"


async def test_tier_review_confirm_or_lower(bot_env):
    admin = await quiet_admin(bot_env)
    for name in ("王芳", "李雷"):
        await admin.send(f"/new {name}")
        await admin.expect_message()
        await admin.send(f"/status {name} risk=high")
        await admin.expect_message()
        assert (
            "HIGH RISK" in (await admin.expect_message()).text
        )  # the alert, at once after the reply
    bot_env.clock.advance(days=7, hours=1)  # high: review after 7 days
    await tick(bot_env)
    await settle(bot_env)
    reviews = [m for m in admin.messages if "Tier review" in m.text]
    assert len(reviews) == 2
    wang = next(m for m in reviews if "王芳" in m.text)
    li = next(m for m in reviews if "李雷" in m.text)
    assert wang.button_texts == ["Confirm tier", "Lower it"]
    await admin.tap(wang, "Lower it")
    why = await admin.expect_edit(wang)  # issue 11: lowering asks for the reason, kept on record
    assert "why?" in why.text and "Keep the tier" in why.button_texts
    await admin.tap(wang, "Improved and stable")
    assert "is now medium risk" in (await admin.expect_edit(wang)).text
    await admin.tap(li, "Confirm tier")
    confirmed = (await admin.expect_edit(li)).text
    assert "Confirmed" in confirmed and "high risk" in confirmed
    await admin.send("/map 王芳")
    m = (await admin.expect_message(contains="Relationship map", skip_others=True)).text
    assert "Risk: 🟡 medium" in m and "your risk setting medium" in m
    # A confirmed review is not asked again before the next review date (7 days on).
    before = len(admin.messages)
    bot_env.clock.advance(days=1)
    await tick(bot_env)
    await settle(bot_env)
    assert not [m for m in admin.messages[before:] if "Tier review" in m.text]
    bot_env.clock.advance(days=7)
    await tick(bot_env)
    again = await admin.expect_message(contains="Tier review", skip_others=True)
    assert "李雷" in again.text


async def test_an_empty_agenda_tells_a_counsellor_without_clients_how_to_start(bot_env):
    """Nothing due: with no clients at all the agenda says how to add them (it advised
    contacting "someone you haven't seen for a while"); with clients, that advice."""
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/today")
    empty = await admin.expect_message(contains="今日日程", skip_others=True)
    assert "你还没有学生" in empty.text and "/import" in empty.text, empty.text
    assert "好久没见" not in empty.text
    await admin.send("/new 学生F")
    await admin.expect_message()
    await admin.send("/today")
    quiet = await admin.expect_message(contains="今日日程", skip_others=True)
    assert "今天没有到期事项" in quiet.text and "你还没有学生" not in quiet.text, quiet.text
