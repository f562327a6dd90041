"""Issue 13: a real week for a 辅导员 with 50 students, in Chinese, with the injected clock.

Before: +1 week sent 66 separate pushes (49 tier reviews, 11 "该联系", 4 follow-ups, the
agenda) and the crisis review was message 30. Now: at most one agenda a day, plus urgent
alerts and the follow-ups the counsellor dated; routine low-risk reviews are confirmed in
one tap; the crisis student is first in every list; no list is cut without a count.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from bot.demo.seed import seed_class
from reminders.tick import run_once
from tests.conftest import ADMIN_ID

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SH = ZoneInfo("Asia/Shanghai")
CRISIS = "学生C"
DAYS = 11  # the seeded class's routine low-risk reviews (90 days) fall due on day 10


async def _tick_all(env) -> int:
    sent = 0
    for _ in range(20):
        counts = await run_once(env.app)
        sent += counts.get("sent", 0)
        if not counts.get("sent", 0):
            break
    if sent:
        await env.server.idle(timeout=60, quiet=0.3)
    return sent


def _kind(text: str) -> str:
    if "今日日程" in text:
        return "agenda"
    if "跟进提醒" in text:
        return "follow-up"
    if "预警" in text and "今日日程" not in text:
        return "alert"
    if "分级复核" in text:
        return "review"
    if "该联系" in text:
        return "contact"
    return "other"


def _names_in_order(section: str) -> list[str]:
    return re.findall(r"#\d+ (\S+)", section)


def _sections(agenda: str) -> dict[str, str]:
    """Agenda text → {heading: body} (headings are the bold lines)."""
    out: dict[str, str] = {}
    for block in agenda.split("\n\n")[1:]:
        head, _, body = block.partition("\n")
        out[head] = body
    return out


async def test_a_week_with_fifty_students_is_one_digest_a_day(bot_env):
    ctx = bot_env.app.bot_data["ctx"]
    seed_class(bot_env.db, bot_env.clock(), ctx.rules, ctx.catalogue)
    admin = bot_env.server.user(ADMIN_ID, "小李", language_code="zh-hans")
    await admin.send("/start")
    await admin.expect_message()
    # one student in crisis (PHQ-9 item 9), alert acknowledged later; one dated follow-up
    await admin.send(f"/new {CRISIS} sid=20269999 major=英语")
    await admin.expect_message()
    await admin.send(f"/phq9 {CRISIS} 1 1 1 1 1 1 1 1 1")
    await admin.expect_message(contains="PHQ-9", skip_others=True)
    await admin.send("/log 学生B 图书馆碰到，气色不错 next=周三下午")
    await admin.expect_message(contains="已记录", skip_others=True)
    await _tick_all(bot_env)  # the crisis alert goes out at once; 小李 acknowledges it
    alert = next(m for m in admin.messages if "危机预警" in m.text and CRISIS in m.text)
    await admin.tap(alert, alert.button_texts[0])
    await admin.expect_edit(alert)
    first = len(admin.messages)

    per_day: list[Counter] = []
    agendas: list[str] = []
    for _day in range(DAYS):
        start = len(admin.messages)
        for _hour in range(4):
            bot_env.clock.advance(hours=6)
            await _tick_all(bot_env)
        pushed = admin.messages[start:]
        per_day.append(Counter(_kind(m.text) for m in pushed))
        agendas += [m.text for m in pushed if _kind(m.text) == "agenda"]

    week = admin.messages[first:]
    for day in per_day:
        assert day["agenda"] <= 1, per_day
        # beyond the agenda only what is urgent or dated: crisis/high pushes, follow-ups
        assert day["review"] + day["contact"] <= 3, per_day
        assert day["other"] == 0, per_day
    assert sum(d["agenda"] for d in per_day) == DAYS
    # only the follow-ups the counsellor dated: the seeded ones (学生B's next=1w and weekly
    # series, 学生A's study-plan review) and the one dated above (周三下午), each once
    with sqlite3.connect(bot_env.db_path) as con:
        dated = con.execute(
            "select count(*) from plan_items where due_at is not null and done_at is null "
            "and due_at <= ?",
            (bot_env.clock().isoformat(),),
        ).fetchone()[0]
    follow_ups = sum(d["follow-up"] for d in per_day)
    assert 2 <= follow_ups <= dated, (follow_ups, dated)
    assert sum(d["review"] for d in per_day) <= DAYS // 3 + 1  # the crisis review, every 3 days
    assert len(week) - follow_ups <= DAYS + 2 * (DAYS // 2 + 1), [
        m.text[:40] for m in week
    ]  # was 66 a week

    # the crisis student is first in every list that holds them, in every agenda
    for text in agendas:
        for head, body in _sections(text).items():
            names = _names_in_order(body)
            if CRISIS in names:
                assert names[0] == CRISIS, (head, names)
        # nothing cut without a count
        for head in _sections(text):
            m = re.search(r"（(\d+)）", head)
            if m and "例行复核" not in head:  # that one is a count with one button
                shown = len(_names_in_order(_sections(text)[head]))
                assert shown == int(m.group(1)) or "另有" in _sections(text)[head], (head, text)

    # /today after the week: urgent first, routine reviews confirmed in one tap
    await admin.send("/today")
    today = await admin.expect_message(contains="📅 今日日程", skip_others=True)
    first_name = _names_in_order(today.text)[0]
    assert first_name == CRISIS, today.text
    quiet = [b for b in today.button_texts if b.startswith("✅ 全部确认")]
    assert quiet, (today.button_texts, today.text)
    n = int(re.search(r"（(\d+) 位", quiet[0]).group(1))
    assert n >= 10
    await admin.tap(today, quiet[0])
    done = await admin.expect_message(contains="已确认", skip_others=True)
    assert f"已确认 {n} 位" in done.text
    await admin.send("/today")
    after = await admin.expect_message(contains="📅 今日日程", skip_others=True)
    assert not [b for b in after.button_texts if b.startswith("✅ 全部确认")]
    # a list that is cut has a button that shows everyone
    see_all = [b for b in after.button_texts if "查看全部" in b]
    for label in see_all:
        total = int(re.search(r"查看全部 (\d+) 位", label).group(1))
        await admin.tap(after, label)
        listing = await admin.expect_message(contains="共", skip_others=True)
        assert f"共 {total} 位" in listing.text
        assert len(re.findall(r"^\d+\. ", listing.text, re.M)) == min(total, 20)
    assert bot_env.server.errors == []


async def test_agenda_shows_how_many_more_and_a_button(bot_env):
    """Twelve students due for contact: the agenda shows ten, says 另有 2 位, and a button
    lists all twelve."""
    ctx = bot_env.app.bot_data["ctx"]
    seed_class(bot_env.db, bot_env.clock(), ctx.rules, ctx.catalogue)
    admin = bot_env.server.user(ADMIN_ID, "小李", language_code="zh-hans")
    await admin.send("/start")
    await admin.expect_message()
    bot_env.clock.advance(days=40)
    await admin.send("/today")
    today = await admin.expect_message(contains="📅 今日日程", skip_others=True)
    m = re.search(r"该联系了（(\d+)）", today.text)
    assert m, today.text
    total = int(m.group(1))
    assert total > 10
    assert f"另有 {total - 10} 位" in today.text
    label = next(b for b in today.button_texts if b.startswith("👋 该联系"))
    await admin.tap(today, label)
    listing = await admin.expect_message(contains="共", skip_others=True)
    assert f"共 {total} 位" in listing.text
