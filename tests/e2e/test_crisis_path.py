"""End to end (issue 11): once a crisis alert exists — what it tells, whom it escalates to
(always someone, or it says so), and acknowledging it everywhere it was sent.

The JobQueue timer is off; each test moves the injected clock and runs the tick itself.
Default rule file, crisis: respond within 1 h, repeat after 15 min, escalate after 30 min.
"""

from __future__ import annotations

import pytest

from reminders.tick import run_once
from tests.conftest import ADMIN_ID, SECOND_ID
from tests.e2e.harness import block_on_message
from tests.e2e.test_core_loop import admin_ready, invite_second, replay_callback

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

THIRD_ID = 4004


async def tick(env) -> dict:
    return await run_once(env.app)


async def settle(env) -> None:
    await env.server.idle(timeout=60, quiet=0.3)


async def agenda_off(user) -> None:
    await user.send("/settings agenda=off")
    await user.expect_message()


async def invite_third(env, admin, name="Wang", lang="en"):
    await admin.send("/invite")
    code = (await admin.expect_message()).text.split("start=")[1].split()[0]
    third = env.server.user(THIRD_ID, name, language_code=lang)
    await third.send(f"/start {code}")
    await third.expect_message()
    assert "joined" in (await admin.expect_message()).text  # the inviter is told (issue 13)
    return third


async def crisis_alert(env, user, name="学生C"):
    """A crisis client for `user` (PHQ-9 item 9 = 2) and the pushed alert."""
    await user.send(f"/new {name}")
    await user.expect_message()
    await user.send(f"/phq9 {name} 1 1 1 1 1 1 1 1 2")
    await user.expect_message()
    await tick(env)
    return await user.expect_message(contains="CRISIS", skip_others=True)


async def supervised_team(env):
    """An admin; Zhang (second), whose supervisor is Wang (third); daily agendas off."""
    admin = await admin_ready(env)
    await agenda_off(admin)
    second, _ = await invite_second(env, admin)
    await agenda_off(second)
    third = await invite_third(env, admin)
    await agenda_off(third)
    await admin.send(f"/settings supervisor {SECOND_ID} {THIRD_ID}")
    return admin, second, third


def no_buttons(view) -> bool:
    return not view.buttons


async def test_alert_tells_what_to_do_and_whom_it_escalates_to(bot_env):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    second, _ = await invite_second(bot_env, admin)
    await agenda_off(second)
    alert = await crisis_alert(bot_env, second)
    text = alert.text
    assert "PHQ-9 item 9" in text  # the reason
    assert "respond within 1 h, by 2026-11-28 11:00" in text  # the standard, local time
    # crisis resources from the catalogue; placeholders are flagged, set ones shown
    assert "Counselling centre: not set yet" in text and "Crisis hotline: not set yet" in text
    assert "ambulance 120" in text
    # no supervisor: the escalation goes to the admins, and the alert says so by name
    assert "If it is not acknowledged by 2026-11-28 10:30, it goes to Li." in text
    assert alert.button_texts == ["✅ Acknowledge", "🛟 Safety check"]


async def test_acknowledge_keeps_text_and_strips_every_copy(bot_env):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    second, _ = await invite_second(bot_env, admin)
    await agenda_off(second)
    first = await crisis_alert(bot_env, second)
    bot_env.clock.advance(minutes=16)
    await tick(bot_env)
    repeat = await second.expect_message(contains="Reminder 1", skip_others=True)
    assert repeat.button_texts == ["✅ Acknowledge", "🛟 Safety check"]
    bot_env.clock.advance(minutes=15)  # 10:31: past escalate_at (10:30)
    await tick(bot_env)
    escalation = await admin.expect_message(contains="Escalation", skip_others=True)
    assert "Zhang" in escalation.text and "学生C" in escalation.text
    assert "respond within 1 h" in escalation.text and "Crisis hotline" in escalation.text
    await settle(bot_env)
    mine = [m for m in second.messages if "CRISIS" in m.text]
    assert len(mine) == 3 and all(
        m.button_texts == ["✅ Acknowledge", "🛟 Safety check"] for m in mine
    )

    # Acknowledge from the SECOND repeat: every copy is edited, none keeps a button.
    bot_env.clock.advance(minutes=2)  # 10:33 local
    qid = await second.tap(mine[-1], "✅ Acknowledge")
    assert (await second.expect_callback_answer(qid)).text == "Acknowledged"
    for copy in mine:
        edited = await second.expect_edit(copy)
        assert no_buttons(edited)
        assert "PHQ-9 item 9" in edited.text  # the reasons stay
        assert "respond within 1 h, by 2026-11-28 11:00" in edited.text  # and the deadline
        assert "Acknowledged at 2026-11-28 10:33" in edited.text
        assert "Please tap Acknowledge" not in edited.text and "it goes to" not in edited.text
    assert "Reminder 2" in second.current(mine[-1]).text  # each copy keeps its own heading
    edited = await admin.expect_edit(escalation)
    assert (
        "Escalation" in edited.text and "Acknowledged by Zhang at 2026-11-28 10:33" in edited.text
    )
    assert no_buttons(edited)

    # A double tap (a stale client replaying the old button): harmless, nothing comes back.
    qid = await replay_callback(bot_env.server, second, mine[0], mine[0].buttons[0][0][1])
    assert (await second.expect_callback_answer(qid)).text == "Already acknowledged"
    await settle(bot_env)
    assert all(no_buttons(second.current(m)) for m in mine)
    bot_env.clock.advance(hours=2)
    await tick(bot_env)
    await settle(bot_env)
    assert sum("CRISIS" in m.text for m in second.messages) == 3
    assert sum("Escalation" in m.text for m in admin.messages) == 1
    assert first.message_id == mine[0].message_id


async def test_a_repeat_after_the_deadline_says_it_is_overdue(bot_env):
    """A repeat sent after the response deadline says by how much it is overdue (it used to
    say only "respond … by 11:00" at 11:21); acknowledged, the copy no longer says so."""
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    first = await crisis_alert(bot_env, admin)
    assert "Overdue" not in first.text
    bot_env.clock.advance(minutes=16)  # 10:16, within the hour
    await tick(bot_env)
    one = await admin.expect_message(contains="Reminder 1", skip_others=True)
    assert "Overdue" not in one.text
    bot_env.clock.advance(minutes=65)  # 11:21, 21 minutes past 11:00
    await tick(bot_env)
    late = await admin.expect_message(contains="Reminder 2", skip_others=True)
    assert "by 2026-11-28 11:00. Overdue by 21 min: respond now." in late.text, late.text
    await admin.tap(late, "✅ Acknowledge")
    edited = await admin.expect_edit(late)
    assert "Acknowledged at" in edited.text and "Overdue" not in edited.text


async def test_escalation_goes_to_the_supervisor_when_one_is_set(bot_env):
    admin, second, third = await supervised_team(bot_env)
    assert "Wang now receives Zhang's" in (await admin.expect_message()).text
    alert = await crisis_alert(bot_env, second)
    assert "it goes to Wang." in alert.text
    bot_env.clock.advance(minutes=31)
    await tick(bot_env)
    escalation = await third.expect_message(contains="Escalation", skip_others=True)
    assert "Zhang's client #1 学生C" in escalation.text
    await settle(bot_env)
    assert not [m for m in admin.messages if "Escalation" in m.text]  # not the admins
    await second.tap(alert, "✅ Acknowledge")
    assert no_buttons(await second.expect_edit(alert))
    assert "Acknowledged by Zhang" in (await third.expect_edit(escalation)).text


async def test_a_supervisor_who_blocked_the_bot_is_replaced_by_the_admins(bot_env):
    """There is always someone: the supervisor's copy is refused (403), so the admins get
    the escalation instead, told whom it was meant for; acknowledging edits their copy."""
    admin, second, third = await supervised_team(bot_env)
    await admin.expect_message()
    await third.block()
    alert = await crisis_alert(bot_env, second)
    bot_env.clock.advance(minutes=31)
    await tick(bot_env)
    escalation = await admin.expect_message(contains="Escalation", skip_others=True)
    assert "Zhang's client #1 学生C" in escalation.text
    assert "Wang should have received this but has blocked the bot" in escalation.text
    assert not [m for m in third.messages if "Escalation" in m.text]
    await second.tap(alert, "✅ Acknowledge")
    assert no_buttons(await second.expect_edit(alert))
    edited = await admin.expect_edit(escalation)
    assert "Acknowledged by Zhang" in edited.text and "Wang should have received" in edited.text


async def test_lone_admin_without_supervisor_is_told_nobody_will_be_escalated_to(bot_env):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    alert = await crisis_alert(bot_env, admin)
    assert "nobody else will be told" in alert.text
    assert f"/settings supervisor {ADMIN_ID} &lt;" not in alert.text  # shown as text, not markup
    assert f"/settings supervisor {ADMIN_ID} <colleague's id>" in alert.text
    bot_env.clock.advance(minutes=16)
    await tick(bot_env)
    await admin.expect_message(contains="Reminder 1", skip_others=True)
    bot_env.clock.advance(minutes=15)
    await tick(bot_env)
    # The escalation step is not silent: the counsellor is told there is nobody, with a button.
    notice = await admin.expect_message(contains="Still unacknowledged", skip_others=True)
    assert "nobody to escalate it to" in notice.text and "学生C" in notice.text
    assert notice.button_texts == ["✅ Acknowledge", "🛟 Safety check"]
    await settle(bot_env)
    copies = [m for m in admin.messages if "CRISIS" in m.text or "Still unacknowledged" in m.text]
    assert len(copies) == 4  # the alert, two repeats, the notice
    await admin.tap(notice, "✅ Acknowledge")
    for copy in copies:
        edited = await admin.expect_edit(copy)
        assert no_buttons(edited) and "Acknowledged at 2026-11-28 10:31" in edited.text


async def test_alert_in_chinese_tells_the_same(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await agenda_off(admin)
    await admin.send("/new 学生C")
    await admin.expect_message()
    await admin.send("/phq9 学生C 1 1 1 1 1 1 1 1 2")
    await admin.expect_message()
    await tick(bot_env)
    alert = await admin.expect_message(contains="危机预警", skip_others=True)
    assert "请在 1 小时内响应，即 2026-11-28 11:00 前" in alert.text
    assert "心理咨询中心：尚未设置" in alert.text and "急救 120" in alert.text
    assert "不会通知任何其他人" in alert.text
    await admin.tap(alert, "✅ 确认")
    edited = await admin.expect_edit(alert)
    assert (
        "已于 2026-11-28 10:00 确认" in edited.text
        and "服务标准" in edited.text
        and no_buttons(edited)
    )


async def test_lone_admin_who_blocked_the_bot_is_logged_not_silent(bot_env, caplog):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    await admin.send("/new 学生D")
    await admin.expect_message()
    # the admin blocks the bot as the reply arrives: the alert right after it cannot be delivered
    blocked = block_on_message(bot_env.server, admin, "Changed: risk")
    await admin.send("/status 学生D risk=crisis")
    assert "Changed: risk" in (await admin.expect_message()).text
    await blocked
    with caplog.at_level("WARNING", logger="caremap.reminders"):
        await tick(bot_env)
    assert any("nobody to escalate to" in r.getMessage() for r in caplog.records)
    assert not any("学生D" in r.getMessage() for r in caplog.records)  # no client data in logs


async def test_safety_check_from_the_alert_then_acknowledge_strips_both_buttons(bot_env):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    second, _ = await invite_second(bot_env, admin)
    await agenda_off(second)
    alert = await crisis_alert(bot_env, second)
    await second.tap(alert, "🛟 Safety check")
    check = await second.expect_message(contains="Safety check", skip_others=True)
    assert "学生C" in check.text and "question 1" in check.text
    assert "Yes" in " ".join(check.button_texts)
    # the alert itself is untouched until it is acknowledged
    assert second.current(alert).button_texts == ["✅ Acknowledge", "🛟 Safety check"]
    await second.tap(alert, "✅ Acknowledge")
    edited = await second.expect_edit(alert)
    assert no_buttons(edited) and "Acknowledged at" in edited.text
