"""End to end (issue 15): the outcome of each contact and strengths on the map."""

from __future__ import annotations

import pytest

from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_outcome_and_unreached_streak_on_the_map(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/new 学生B")
    await admin.expect_message()
    await admin.send("/log 学生B 面谈, 情绪激动 via=面谈 outcome=联系上")
    assert "结果：联系上" in (await admin.expect_message()).text
    bot_env.clock.advance(days=2)
    await admin.send("/log 学生B 打电话没人接 via=电话 outcome=未联系上")
    logged = (await admin.expect_message()).text
    assert "结果：未联系上（不计为一次联系）" in logged
    bot_env.clock.advance(days=1)
    await admin.send("/log 学生B 微信也没回 via=微信 outcome=没回")
    await admin.expect_message()
    await admin.send("/map 学生B")
    m = (await admin.expect_message(contains="关系图", skip_others=True)).text
    assert "⚠️ 最近连续 2 次未联系上" in m
    assert "电话 · 未联系上 — 打电话没人接" in m and "面谈 · 联系上 — 面谈" in m
    assert "最近 2026-11-28" in m  # a call nobody answered is not a contact
    await admin.send("/log 学生B 狗 outcome=maybe")
    err = (await admin.expect_message()).text
    assert "outcome=未联系上" in err and "“maybe”" in err


async def test_strengths_line_never_graded(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生A #+编程强 #竞赛达人")
    await admin.expect_message()
    await admin.send("/log 学生A 主动问了算法题 #+逻辑清晰 #学习方法")
    logged = (await admin.expect_message()).text
    assert "💪 Strengths: 逻辑清晰" in logged
    await admin.send("/status 学生A #+失联")  # a strength spelled like a risk tag
    await admin.expect_message()
    await admin.send("/map 学生A")
    m = (await admin.expect_message(contains="Relationship map", skip_others=True)).text
    assert "💪 Strengths: 编程强, 逻辑清晰, 失联" in m
    assert "Tags: #竞赛达人" in m and "#+" not in m
    assert "Risk: 🟢 low" in m
