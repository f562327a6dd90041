"""End to end (issue 11): the admins' /team, the "no supervisor" notice at /start and in
/settings, and the supervisor digest at the supervisor's agenda hour (sent once)."""

from __future__ import annotations

import pytest

from tests.conftest import SECOND_ID
from tests.e2e.test_core_loop import admin_ready, invite_second
from tests.e2e.test_crisis_path import (
    THIRD_ID,
    agenda_off,
    crisis_alert,
    invite_third,
    settle,
    tick,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_admin_is_told_who_has_no_supervisor_at_start_and_in_settings(bot_env):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    await admin.send("/start")
    alone = (await admin.expect_message()).text
    # the lone admin: nobody receives their own escalations, and the welcome says so
    assert "No supervisor set" in alone and "Li (id 1001) → ⚠️ nobody" in alone
    second, _ = await invite_second(bot_env, admin)
    await admin.send("/settings")
    text = (await admin.expect_message()).text
    assert "Zhang (id 2002) → Li" in text and "Li (id 1001) → ⚠️ nobody" in text
    assert (
        "Your unacknowledged crisis alerts go to: ⚠️ nobody — set a supervisor: /settings supervisor 1001"
        in text
    )
    assert "/settings supervisor <counsellor id> <supervisor id>" in text
    third = await invite_third(bot_env, admin)
    await admin.send(f"/settings supervisor {SECOND_ID} {THIRD_ID}")
    await admin.expect_message()
    await admin.send("/start")
    text = (await admin.expect_message()).text
    assert "Zhang" not in text  # supervised now
    assert "Wang (id 4004) → Li" in text and "Li (id 1001) → Wang" not in text
    # a counsellor who is not an admin is not told about the team, only where their own go
    await second.send("/settings")
    mine = (await second.expect_message()).text
    assert "No supervisor set" not in mine
    assert "Your unacknowledged crisis alerts go to: Wang (your supervisor)" in mine
    await third.send("/settings")
    assert (
        "Your unacknowledged crisis alerts go to: the admins (Li)"
        in (await third.expect_message()).text
    )
    await third.send("/start")
    assert "No supervisor set" not in (await third.expect_message()).text


async def test_team_lists_supervisors_open_crisis_alerts_and_overdue_contact(bot_env):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    second, _ = await invite_second(bot_env, admin)
    await agenda_off(second)
    await invite_third(bot_env, admin)
    await admin.send(f"/settings supervisor {SECOND_ID} {THIRD_ID}")
    await admin.expect_message()
    await crisis_alert(bot_env, second)
    await admin.send("/team")
    text = (await admin.expect_message()).text
    assert "Team — 3 counsellors" in text
    zhang = (
        text[text.index("Zhang") : text.index("Wang (")]
        if "Wang (" in text
        else text[text.index("Zhang") :]
    )
    assert "Supervisor: Wang" in zhang and "Open crisis alerts: 🔴 1" in zhang
    li = text[text.index("Li (admin)") : text.index("Zhang")]
    assert "Supervisor: none · unacknowledged alerts go to ⚠️ nobody" in li
    assert "Open crisis alerts: 0" in li
    assert "学生C" not in text  # counts only, no client names in /team
    # a counsellor's past-contact count moves with the clock (crisis: contact every 2 days)
    bot_env.clock.advance(days=3)
    await admin.send("/team")
    text = (await admin.expect_message(contains="Team —", skip_others=True)).text
    zhang = text[text.index("Zhang") :]
    assert "clients past latest contact: 1" in zhang.split("\n\n")[0]
    # not for counsellors
    await second.send("/team")
    assert (
        "Only admins can see the team"
        in (await second.expect_message(contains="admins", skip_others=True)).text
    )


async def test_supervisor_digest_at_the_agenda_hour_once(bot_env):
    admin = await admin_ready(bot_env)
    await agenda_off(admin)
    second, _ = await invite_second(bot_env, admin)
    await agenda_off(second)
    third = await invite_third(bot_env, admin)  # Wang: agenda at 08:00 (the default)
    await admin.send(f"/settings supervisor {SECOND_ID} {THIRD_ID}")
    await admin.expect_message()
    await second.send("/new 学生L")  # a low-risk client: never named in a digest
    await second.expect_message()
    await crisis_alert(bot_env, second)  # left unacknowledged
    bot_env.clock.advance(hours=21, minutes=50)  # 07:50 the next day: not yet
    await tick(bot_env)
    await settle(bot_env)
    assert not [m for m in third.messages if "Supervision digest" in m.text]
    bot_env.clock.advance(minutes=10)  # 08:00 local, Wang's agenda hour
    await tick(bot_env)
    digest = await third.expect_message(contains="Supervision digest", skip_others=True)
    assert "2026-11-29" in digest.text and "Zhang" in digest.text
    assert "1 unacknowledged crisis alert" in digest.text and "Crisis: 学生C" in digest.text
    assert "学生L" not in digest.text
    bot_env.clock.advance(minutes=30)
    await tick(bot_env)
    await settle(bot_env)
    assert sum("Supervision digest" in m.text for m in third.messages) == 1  # once a day
    assert not [
        m for m in admin.messages if "Supervision digest" in m.text
    ]  # Zhang has a supervisor
    assert not [m for m in second.messages if "Supervision digest" in m.text]


async def test_no_digest_when_nothing_needs_the_supervisor(bot_env):
    admin = await admin_ready(bot_env)  # Li receives Zhang's escalations (no supervisor set)
    second, _ = await invite_second(bot_env, admin)
    await agenda_off(second)
    await second.send("/new 学生L")
    await second.expect_message()
    bot_env.clock.advance(days=1)
    await tick(bot_env)
    await admin.expect_message(contains="Daily agenda", skip_others=True)
    await settle(bot_env)
    assert not [m for m in admin.messages if "Supervision digest" in m.text]
