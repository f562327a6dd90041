"""Counsellors who come and go (issue 14; issue 11's /team overview: tests/e2e/test_team.py):
an admin deactivates a counsellor (every command
refused at once) and hands a caseload over (maps, plans, open alerts) in one command with a
confirmation; invites are listed and revocable; every admin action is in the audit trail."""

from __future__ import annotations

import pytest

from reminders.tick import run_once
from tests.conftest import SECOND_ID
from tests.e2e.test_caseload import say
from tests.e2e.test_core_loop import admin_ready, invite_second, replay_callback

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _drain(user):
    """Every bot message already delivered to this chat and not yet read."""
    return [await user.expect_message() for _ in user.unread]


async def _two_counsellors(env):
    admin = await admin_ready(env)
    second, _ = await invite_second(env, admin)
    return admin, second


async def test_handover_moves_the_caseload_and_the_leaver_loses_access_at_once(bot_env):
    admin, second = await _two_counsellors(bot_env)
    await say(admin, "/new 李雷")  # the admin's own client keeps #1
    await say(second, "/new 王芳 #贫困生 sid=2025001")
    await say(second, "/new 韩梅梅")
    await say(second, "/log 王芳 挂科 3 门, 周末打工 risk=high next=3d")
    high = await second.expect_message(contains="HIGH RISK")  # each alert follows its reply at once
    assert "PHQ-9" in (await say(second, "/phq9 王芳 3 3 3 3 3 3 3 3 1")).text  # item 9 > 0: crisis
    crisis = await second.expect_message(contains="CRISIS")
    await run_once(bot_env.app)
    alerts = [high, crisis, *await _drain(second)]
    assert alerts and all("王芳" in a.text for a in alerts)
    open_alerts = len(alerts)

    # a non-admin cannot touch the team
    assert "Only admins" in (await say(second, f"/team handover {SECOND_ID} 1001")).text

    ask = await say(admin, f"/team handover {SECOND_ID} 1001")
    assert "Hand over Zhang's caseload to Li" in ask.text
    assert "2 clients" in ask.text and f"{open_alerts} unacknowledged alert" in ask.text
    # the leaver can still work until the admin confirms
    assert "韩梅梅" in (await say(second, "/clients")).text
    await admin.tap(ask, "✅ Yes, do it")
    done = await admin.expect_edit(ask)
    assert (
        "2 clients handed over to Li (now #2–#3)" in done.text
        and "Zhang no longer has access" in done.text
    )
    # the open alerts go to the new counsellor at once (issue 10's urgent path: right after
    # the confirmation's answer, no tick needed), under the client's new number
    pushed = [await admin.expect_message() for _ in range(open_alerts)]
    assert all("#2 王芳" in p.text for p in pushed)
    assert any("CRISIS" in p.text.upper() for p in pushed)

    # the leaver: every command, plain text and button refused, nothing shown
    for text in ("/clients", "/map 王芳", "/start", "今天见了王芳"):
        reply = await say(second, text)
        assert "access to CareMap has ended" in reply.text, text
        assert "王芳" not in reply.text
    # the new counsellor: the whole map, with the new numbers
    view = await say(admin, "/map 王芳")
    assert "#2 王芳" in view.text and "2025001" in view.text and "挂科 3 门" in view.text
    assert "3 韩梅梅" in (await say(admin, "/clients")).text
    # a tick sends nothing more: not to the new counsellor, nothing at all to the leaver
    await run_once(bot_env.app)
    assert not await _drain(admin)
    assert not await _drain(second)
    # a double tap on the old confirmation does nothing
    qid = await replay_callback(bot_env.server, admin, ask, ask.buttons[0][0][1])
    await admin.expect_callback_answer(qid)
    assert "韩梅梅" in (await say(admin, "/clients")).text
    audit = await say(admin, "/audit")
    assert "Team activity" in audit.text and "Li handed over the caseload of Zhang" in audit.text
    assert (
        "Li ended the access of Zhang" in audit.text
        and "Zhang read the map of client #1" not in audit.text
    )


async def test_deactivate_needs_an_empty_caseload_and_a_confirmation(bot_env):
    admin, second = await _two_counsellors(bot_env)
    await say(second, "/new 王芳")
    refused = await say(admin, f"/team deactivate {SECOND_ID}")
    assert (
        "still looks after 1 client" in refused.text
        and f"/team handover {SECOND_ID}" in refused.text
    )
    third_ask = await say(admin, f"/team handover {SECOND_ID} 1001")
    await admin.tap(third_ask, "Cancel")
    assert "Cancelled" in (await admin.expect_edit(third_ask)).text
    assert "王芳" in (await say(second, "/clients")).text  # nothing happened
    # yourself, an admin, an unknown id: clear refusals
    assert "your own" in (await say(admin, "/team deactivate 1001")).text
    assert "No counsellor has the Telegram id" in (await say(admin, "/team deactivate 555")).text
    assert "Team administration" in (await say(admin, "/team frobnicate")).text
    assert "Team administration" in (await say(admin, "/team deactivate")).text
    await say(admin, f"/settings supervisor {SECOND_ID} 1001")
    team = await say(admin, "/team list")
    assert "Zhang (id <code>" not in team.text  # entities are parsed: plain text below
    assert "Zhang (id 2002) · 1 client · supervisor Li · last active 2026-11-28" in team.text
    team_zh = await say(admin, "/team 列表")  # the sub-commands in Chinese too
    assert "Zhang (id 2002)" in team_zh.text
    # an empty caseload can simply be deactivated, and reactivated
    await say(second, "/forget 王芳")
    forget = second.last
    await second.tap(forget, "🗑 Delete forever")
    await second.expect_edit(forget)
    ask = await say(admin, f"/team deactivate {SECOND_ID}")
    assert "End Zhang's access" in ask.text
    await admin.tap(ask, "✅ Yes, do it")
    assert "Zhang no longer has access" in (await admin.expect_edit(ask)).text
    assert "access to CareMap has ended" in (await say(second, "/new 李雷")).text
    assert "Zhang can use CareMap again" in (await say(admin, f"/team reactivate {SECOND_ID}")).text
    assert "no clients yet" in (await say(second, "/clients")).text
    # the counsellor's own audit trail: their own actions only
    mine = await say(second, "/audit")
    assert (
        "Your activity" in mine.text and "deleted client #1" in mine.text and "Li" not in mine.text
    )


async def test_invites_are_listed_and_revocable(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/invite")
    msg = await say(admin, "/invite")
    code = msg.text.split("start=")[1].split()[0]
    listed = await say(admin, "/team invites")
    assert "1. made by Li" in listed.text and "2. made by Li" in listed.text
    assert "Invite 2 no longer works" in (await say(admin, "/team revoke 2")).text
    newcomer = bot_env.server.user(4004, "Wu", language_code="en")
    await newcomer.send(f"/start {code}")
    assert "not valid" in (await newcomer.expect_message()).text
    assert "2." not in (await say(admin, "/team invites")).text
    assert "no open invite number 2" in (await say(admin, "/team revoke 2")).text


async def test_handover_to_a_counsellor_who_blocked_the_bot_escalates_the_open_alerts(bot_env):
    """The new counsellor has blocked the bot: the crisis alert handed to them cannot reach
    them, so it escalates (no supervisor: to the admins) instead of sitting unpushed."""
    admin, second = await _two_counsellors(bot_env)
    await admin.send("/invite")
    code = (await admin.expect_message()).text.split("start=")[1].split()[0]
    third = bot_env.server.user(4004, "Wang", language_code="en")
    await third.send(f"/start {code}")
    assert "You're now set up" in (await third.expect_message()).text
    assert "Wang" in (await admin.expect_message(contains="Wang", skip_others=True)).text
    await say(second, "/new 王芳")
    assert "PHQ-9" in (await say(second, "/phq9 王芳 3 3 3 3 3 3 3 3 1")).text
    await second.expect_message(contains="CRISIS")
    await third.block()

    ask = await say(admin, f"/team handover {SECOND_ID} 4004")
    assert "Hand over Zhang's caseload to Wang" in ask.text
    await admin.tap(ask, "✅ Yes, do it")
    assert "handed over to Wang" in (await admin.expect_edit(ask)).text
    escalation = await admin.expect_message(contains="王芳", timeout=60, skip_others=True)
    assert "Escalation" in escalation.text and "crisis alert for Wang's client" in escalation.text
    assert "could not be delivered (the bot is blocked)" in escalation.text, escalation.text
