"""End to end: recurring follow-ups across a month with the injected clock — quiet hours,
Done, Snooze, the end date, Stop, and the series ending when the risk tier drops."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.test_reminders import quiet_admin, settle, tick

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def follow_ups(admin, text: str, after: int = 0) -> list:
    return [
        m
        for m in admin.messages
        if m.message_id > after and "Follow-up" in m.text and text in m.text
    ]


def occurrences(env) -> list[tuple]:
    con = sqlite3.connect(env.db_path)
    try:
        return con.execute(
            "select seq, done_at is not null from plan_items where series_id is not null "
            "order by seq"
        ).fetchall()
    finally:
        con.close()


async def test_weekly_series_across_a_month(bot_env):
    clock = bot_env.clock
    admin = await quiet_admin(bot_env)
    await admin.send("/settings quiet=22-7")
    await admin.expect_message()
    await admin.send("/new 学生B")
    await admin.expect_message()
    await admin.send("/status 学生B risk=high")
    await admin.expect_message()
    # the high-risk alert the new tier raises comes right after the reply
    await admin.expect_message(contains="HIGH RISK")
    await admin.send("/plan 学生B every 1w 22:30 学业跟进 until 2027-01-15")
    added = (await admin.expect_message()).text
    assert "Recurring follow-up" in added and "weekly" in added and "2026-11-28 22:30" in added
    assert "Until 2027-01-15" in added and "drops below high" in added

    # Occurrence 1 falls in quiet hours (22:30): held back until 07:00.
    clock.advance(hours=12, minutes=31)  # Sat 22:31 local
    counts = await tick(bot_env)
    assert counts.get("deferred", 0) >= 1
    await settle(bot_env)
    assert not follow_ups(admin, "学业跟进")
    clock.advance(hours=8, minutes=30)  # Sun 07:01
    await tick(bot_env)
    first = await admin.expect_message(contains="学业跟进", skip_others=True)
    assert "due 2026-11-28 22:30" in first.text and "🔁 weekly" in first.text
    assert first.button_texts[:2] == ["✓ Done", "⏹ Stop series"]
    await admin.tap(first, "✓ Done")
    assert "Done" in (await admin.expect_edit(first)).text
    assert occurrences(bot_env) == [(0, 1), (1, 0)]  # the next one exists once the first came due

    # Occurrence 2: snoozed a day; the series keeps its own rhythm.
    clock.advance(days=7)  # Sun 12-06 07:01
    await tick(bot_env)
    second = await admin.expect_message(contains="学业跟进", skip_others=True)
    assert "due 2026-12-05 22:30" in second.text
    await admin.tap(second, "1 day")
    assert "Snoozed until 2026-12-07" in (await admin.expect_edit(second)).text
    mark = second.message_id
    clock.advance(hours=12)
    await tick(bot_env)
    await settle(bot_env)
    assert not follow_ups(admin, "学业跟进", after=mark)
    clock.advance(hours=12, minutes=1)  # Mon 12-07 07:02
    await tick(bot_env)
    again = await admin.expect_message(contains="学业跟进", skip_others=True)
    assert "due 2026-12-07" in again.text
    await admin.tap(again, "✓ Done")
    await admin.expect_edit(again)

    # Occurrence 3 is on its Saturday, not a week after the snoozed one.
    clock.advance(days=5, hours=23)  # Sun 12-13 06:02 (quiet) → then 07:02
    await tick(bot_env)
    clock.advance(hours=1)
    await tick(bot_env)
    third = await admin.expect_message(contains="学业跟进", skip_others=True)
    assert "due 2026-12-12 22:30" in third.text
    # Not tapped: it stays open; the series goes on regardless.

    # The student is back on track: the risk drops, and the series ends with the next one.
    await admin.send("/status 学生B risk=low")
    await admin.expect_message(contains="low", skip_others=True)
    clock.advance(days=7)  # Sun 12-20 07:02
    await tick(bot_env)
    last = await admin.expect_message(contains="学业跟进", skip_others=True)
    assert "due 2026-12-19 22:30" in last.text
    assert "risk tier lowered" in last.text and "this is the last one" in last.text
    assert "⏹ Stop series" not in last.button_texts
    mark = last.message_id
    clock.advance(days=14)
    await tick(bot_env)
    await settle(bot_env)
    assert not follow_ups(admin, "学业跟进", after=mark)
    assert [seq for seq, _ in occurrences(bot_env)] == [0, 1, 2, 3]
    await admin.send("/map 学生B")
    m = (await admin.expect_message(contains="Relationship map", skip_others=True)).text
    assert "🔁 weekly · 学业跟进 · until 2027-01-15 (risk tier lowered" in m


async def test_series_ends_on_its_date_and_on_stop(bot_env):
    clock = bot_env.clock
    admin = await quiet_admin(bot_env)
    for name in ("学生A", "学生C"):
        await admin.send(f"/new {name}")
        await admin.expect_message()
    await admin.send("/plan 学生A 每两周 10:30 进度复盘 直到 12-20")
    added = (await admin.expect_message()).text
    assert "every two weeks" in added and "2026-11-28 10:30" in added
    await admin.send("/plan 学生C every 1d 11:00 call")
    await admin.expect_message()
    clock.advance(hours=1, minutes=5)  # 11:05: A's first (10:30) and C's first (11:00)
    await tick(bot_env)
    await settle(bot_env)
    assert len(follow_ups(admin, "进度复盘")) == 1
    (c1,) = follow_ups(admin, "call")
    # Stop C's series with the button: the occurrence made for tomorrow goes with it.
    qid = await admin.tap(c1, "⏹ Stop series")
    stopped = (await admin.expect_edit(c1)).text
    assert "Recurring follow-ups of" in stopped and "stopped" in stopped
    assert (await admin.expect_callback_answer(qid)).text == "Stopped"
    # A: 11-28, 12-12, then 12-26 is past the end date (12-20).
    mark = max(m.message_id for m in admin.messages)
    clock.advance(days=14)
    await tick(bot_env)
    await settle(bot_env)
    a2s = follow_ups(admin, "进度复盘", after=mark)
    assert len(a2s) == 1, [m.text for m in a2s]
    a2 = a2s[0]
    assert "end date reached" in a2.text and "this is the last one" in a2.text
    clock.advance(days=30)
    await tick(bot_env)
    await settle(bot_env)
    assert sum("进度复盘" in m.text and "Follow-up" in m.text for m in admin.messages) == 2
    assert not follow_ups(admin, "call", after=c1.message_id)  # stopped: nothing more


async def test_plan_stop_command_and_undo(bot_env):
    admin = await quiet_admin(bot_env)
    await admin.send("/new 学生B")
    await admin.expect_message()
    await admin.send("/plan 学生B stop")
    assert "has no recurring follow-up running" in (await admin.expect_message()).text
    await admin.send("/plan 学生B weekly check in")
    await admin.expect_message()
    await admin.send("/plan 学生B stop")
    msg = (await admin.expect_message()).text
    assert "stopped" in msg and "weekly · check in" in msg
    await admin.send("/plan 学生B every 2w review")
    await admin.expect_message()
    await admin.send("/undo")
    ask = await admin.expect_message()
    await admin.tap(ask, "↩️ Undo")  # /undo says what it will take back and asks (issue 13)
    await admin.expect_edit(ask)
    con = sqlite3.connect(bot_env.db_path)
    try:
        assert (
            con.execute("select count(*) from plan_series").fetchone()[0] == 1
        )  # only the stopped one
        assert (
            con.execute(
                "select count(*) from plan_items where series_id is not null and "
                "done_at is null and due_at > '2026-11-29'"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()
