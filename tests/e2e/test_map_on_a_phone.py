"""Issue 13: the map and the lists on a phone.

/map: status and next steps first, the latest 3 conversations with a "更多" button, needs
merged, follow-ups by date with overdue marked, buttons under the map (记录 / 计划 / 筛查);
/clients rows open the map with one tap; "👋 该联系" has 记录 / 推迟 buttons.
"""

from __future__ import annotations

import pytest

from reminders.tick import run_once
from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _say(user, text):
    await user.send(text)
    return await user.expect_message()


async def test_map_puts_status_and_next_steps_first(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await _say(admin, "/new 学生B #贫困生 sid=2025102 major=市场营销")
    for i in range(5):
        await _say(admin, f"/log 学生B 第{i}次谈话，聊了学业 #学业辅导 via=面谈 trust=2 risk=high")
        if i == 0:  # the high-risk alert follows the first reply at once (issue 10)
            assert "高风险预警" in (await admin.expect_message()).text
    await _say(admin, "/plan 学生B 2h 打电话问补考")
    await _say(admin, "/plan 学生B 下周一 看辅导计划")
    bot_env.clock.advance(hours=3)  # the 2 h follow-up is now overdue
    map_ = await _say(admin, "/map 学生B")
    text = map_.text
    assert text.index("风险：") < text.index("下一步") < text.index("1 · 客户识别"), text
    assert "（已逾期）" in text.split("下一步")[1].split("1 · 客户识别")[0]
    assert " （" not in text, text  # no space before a full-width bracket ("14:00（已逾期）")
    steps = text.split("下一步")[1]
    assert steps.index("打电话问补考") < steps.index("看辅导计划")  # by date
    assert text.count("学业辅导") == 1, text  # five times recorded, shown once
    assert "第4次谈话" in text and "第1次谈话" not in text  # the latest 3
    assert map_.button_texts[:3] == ["📝 记录", "⏰ 计划", "📋 筛查"]
    assert "💬 更多谈话（共 5 次）" in map_.button_texts
    await admin.tap(map_, "💬 更多谈话（共 5 次）")
    more = await admin.expect_message()
    assert "第0次谈话" in more.text and "第4次谈话" in more.text
    # 📝 记录: the next plain message is a log for 学生B
    await admin.tap(map_, "📝 记录")
    prompt = await admin.expect_message()
    assert "学生B" in prompt.text
    logged = await _say(admin, "在图书馆碰到，状态好多了 trust=3")
    assert "已记录" in logged.text and "学生B" in logged.text and "状态好多了" in logged.text
    # 📋 筛查 → PHQ-9 starts the questionnaire
    await admin.tap(map_, "📋 筛查")
    choose = await admin.expect_message()
    await admin.tap(choose, "PHQ-9")
    question = await admin.expect_message()
    assert "PHQ-9" in question.text and "1/9" in question.text.replace(" ", "")
    assert bot_env.server.errors == []


async def test_clients_rows_open_the_map(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    for i in range(12):
        await _say(admin, f"/new 学生{i:02d}")
    listing = await _say(admin, "/clients")
    names = [b for b in listing.button_texts if "学生" in b]
    assert len(names) == 10, listing.button_texts  # paged: ten to a page
    assert "›" in listing.button_texts
    await admin.tap(listing, names[0])
    shown = await admin.expect_message()
    assert "关系图" in shown.text
    await admin.tap(listing, "›")
    page2 = await admin.expect_edit(listing)
    assert len([b for b in page2.button_texts if "学生" in b]) == 2


async def test_contact_reminder_has_log_and_snooze(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await _say(admin, "/settings agenda=off")
    await _say(admin, "/new 学生B")
    await _say(admin, "/log 学生B 谈了家里的情况 risk=high")
    bot_env.clock.advance(days=8)  # high: contact every 7 days
    await run_once(bot_env.app)
    reminder = await admin.expect_message(contains="该联系", skip_others=True)
    assert reminder.button_texts == ["📝 记录", "⏳ 明天再提醒"]
    await admin.tap(reminder, "⏳ 明天再提醒")
    snoozed = await admin.expect_edit(reminder)
    assert "再提醒" in snoozed.text
    bot_env.clock.advance(days=1, minutes=1)
    await run_once(bot_env.app)
    again = await admin.expect_message(contains="该联系", skip_others=True)
    assert "学生B" in again.text


async def test_plain_note_offers_the_student_it_starts_with_then_search(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    for name in ("田欣怡", "王芳", "李雷", "韩梅梅", "张伟", "刘洋", "陈静", "周晓雯"):
        await _say(admin, f"/new {name}")
    for name in ("王芳", "李雷", "韩梅梅", "张伟", "刘洋", "陈静"):  # six recent ones, not 田欣怡
        await _say(admin, f"/log {name} 例行谈话")
    ask = await _say(admin, "田欣怡 今天来办公室问转专业的流程")
    assert ask.button_texts[0] == "⭐ #1 田欣怡", ask.button_texts
    ask_py = await _say(admin, "txy 又来问了一次")
    assert ask_py.button_texts[0] == "⭐ #1 田欣怡"
    await admin.tap(ask, "⭐ #1 田欣怡")
    logged = await admin.expect_edit(ask)
    assert "已记录" in logged.text and "转专业" in logged.text
    # 🔍 search: the next message names the student
    ask2 = await _say(admin, "在食堂碰到，聊了几句")
    await admin.tap(ask2, "🔍 搜索")
    await admin.expect_edit(ask2)
    found = await _say(admin, "zxw")
    assert found.button_texts[0] == "⭐ #8 周晓雯", found.button_texts
    await admin.tap(found, "⭐ #8 周晓雯")
    done = await admin.expect_edit(found)
    assert "已记录" in done.text and "#8 周晓雯" in done.text and "在食堂碰到" in done.text
    # cancel asks first; 返回 brings the buttons back, nothing lost
    ask3 = await _say(admin, "一条要丢掉的记录")
    await admin.tap(ask3, "取消")
    sure = await admin.expect_edit(ask3)
    assert "丢弃" in sure.text
    await admin.tap(ask3, "‹ 返回")
    back = await admin.expect_edit(ask3)
    assert "🔍 搜索" in back.button_texts
    assert bot_env.server.errors == []


async def test_new_client_with_an_existing_name_is_asked_first(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await _say(admin, "/new 周晓雯 sid=2026027 major=会计学")
    ask = await _say(admin, "周末在图书馆碰到，在准备四级")
    await admin.tap(ask, "➕ 新学生")
    await admin.expect_edit(ask)
    same = await _say(admin, "周晓雯")
    assert "#1 周晓雯" in same.text and "2026027" in same.text, same.text
    assert same.button_texts[0].startswith("#1 周晓雯")
    await admin.tap(same, same.button_texts[0])  # the same person: logged to #1, no duplicate
    logged = await admin.expect_edit(same)
    assert "已记录" in logged.text and "#1 周晓雯" in logged.text
    listing = await _say(admin, "/clients")
    assert "共 1 位" in listing.text
    # a real namesake can still be added
    ask2 = await _say(admin, "新转来的同学，也叫周晓雯")
    await admin.tap(ask2, "➕ 新学生")
    await admin.expect_edit(ask2)
    same2 = await _say(admin, "周晓雯 major=英语")
    await admin.tap(same2, "➕ 仍然新建“周晓雯”")
    added = await admin.expect_message(contains="已添加", skip_others=True)
    assert "#2 周晓雯" in added.text and "同名" in added.text
    assert bot_env.server.errors == []


async def test_map_and_status_say_when_no_risk_was_set(bot_env):
    """A client's counsellor-set risk is "low" until someone sets it; an unset one raises
    nothing, so the map and /status say "未设定" rather than claim the counsellor chose low.
    Set to low on purpose, it shows as low. The contact frequency says whether it meets the
    risk tier's standard, not only two codes."""
    admin = await admin_ready(bot_env, lang="zh-hans")
    await _say(admin, "/new 学生C")
    await _say(admin, "/log 学生C 第一次见面 via=面谈")
    map_ = await _say(admin, "/map 学生C")
    assert "你设定的风险 未设定" in map_.text, map_.text
    assert "你设定的风险 低" not in map_.text
    assert "级，达到标准（" in map_.text, map_.text
    status = await _say(admin, "/status 学生C")
    assert "风险 未设定" in status.text and "风险 🟢 低" not in status.text, status.text
    await _say(admin, "/status 学生C risk=high")
    assert "高风险预警" in (await admin.expect_message()).text  # the alert follows the reply
    await _say(admin, "/status 学生C risk=low")
    map_ = await _say(admin, "/map 学生C")
    assert "你设定的风险 低" in map_.text, map_.text
    status = await _say(admin, "/status 学生C")
    assert "风险 🟢 低" in status.text, status.text
    # each part of the reply on its own line (they ran together: "…（12月1日）修改示例")
    assert "\n修改示例" in status.text, status.text
    changed = await _say(admin, "/status 学生C trust=4")
    assert "已修改：信任度 – → 4\n" in changed.text or changed.text.endswith("信任度 – → 4"), (
        changed.text
    )
    saved = await _say(admin, "/phq9 学生C 0 0 1 0 0 0 0 0 0")
    assert saved.text.startswith("📋 已保存 PHQ-9 · #1 学生C：1/27"), saved.text
    await _say(admin, "/lang en")
    map_ = await _say(admin, "/map 学生C")
    assert "your risk setting low" in map_.text, map_.text
    await _say(admin, "/new Dana")
    map_ = await _say(admin, "/map Dana")
    assert "your risk setting not set" in map_.text, map_.text
    assert bot_env.server.errors == []


async def test_a_screening_counts_as_the_last_contact_everywhere(bot_env):
    """Grading counts a screening (and a safety check) as a contact, and the reminders say
    "上次联系 <date>" from it; the map and /clients say the same, not "尚未联系"."""
    admin = await admin_ready(bot_env, lang="zh-hans")
    await _say(admin, "/new 学生E")
    map_ = await _say(admin, "/map 学生E")
    assert "联系：尚未联系" in map_.text, map_.text
    await _say(admin, "/phq9 学生E 0 0 1 0 0 0 0 0 0")
    bot_env.clock.advance(days=2)
    map_ = await _say(admin, "/map 学生E")
    assert "联系：上次 " in map_.text and "尚未联系" not in map_.text.split("下一步")[0], map_.text
    assert "还没有谈话记录" in map_.text  # the conversations themselves are still none
    listing = await _say(admin, "/clients")
    assert "2 天前联系" in listing.text, listing.text
