"""End to end (issue 15): the outcome of each contact and strengths on the map."""

from __future__ import annotations

import pytest

from tests.e2e.test_caseload import say
from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_outcome_and_unreached_streak_on_the_map(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/new 学生B")
    await admin.expect_message()
    await admin.send("/log 学生B 面谈, 情绪激动 #+乐观 #学业辅导 via=面谈 outcome=联系上 trust=3")
    logged = (await admin.expect_message()).text
    # each part on its own line (they ran together: "结果：联系上信任度：– → 3")
    assert "结果：联系上\n💪 优势：乐观\n需求：学业辅导" in logged, logged
    assert "\n信任度：– → 3" in logged, logged
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


async def test_export_xlsx_holds_exactly_the_counsellors_data(bot_env):
    import io

    from openpyxl import load_workbook

    from tests.e2e.test_core_loop import invite_second

    admin = await admin_ready(bot_env, lang="zh-hans")
    second, _ = await invite_second(bot_env, admin)
    await second.send("/new 别人的学生 sid=9999")
    await second.expect_message()
    await second.send("/log 别人的学生 secret of the other counsellor")
    await second.expect_message()
    for cmd in (
        "/new 学生B #贫困生 #+会营销 sid=2025102 major=市场营销",
        "/log 学生B 挂科 3 门, 周末打工 #勤工助学 #?被认可 via=宿舍 trust=2 risk=high outcome=联系上",
        "/log 学生B 电话没接 via=电话 outcome=未联系上",
        "/refer 学生B 勤工",
        "/plan 学生B 每周 学业跟进 直到 2027-01-15",
        "/goal 学生B 重回正轨",
        "/phq9 学生B 1 1 1 1 0 0 0 0 0",
    ):
        await admin.send(cmd)
        await admin.expect_message()
    await admin.send("/export")
    doc = await admin.expect_message(contains="敏感", skip_others=True)
    assert doc.file_name == "caremap-2026-11-28.xlsx"
    wb = load_workbook(io.BytesIO(doc.file_bytes))
    assert wb.sheetnames == [
        "1 客户识别",
        "2 需求分析",
        "3 互动历史",
        "4 价值匹配",
        "5 关系状态",
        "6 未来规划",
        "量表",
        "分级历史",
    ]

    def rows(sheet):
        return [
            [c if c is not None else "" for c in r] for r in wb[sheet].iter_rows(values_only=True)
        ]

    ident = rows("1 客户识别")
    assert ident[0][:4] == ["编号", "姓名", "学号", "专业"]
    assert [r[:4] for r in ident[1:]] == [[1, "学生B", "2025102", "市场营销"]]
    assert ident[1][7:9] == ["贫困生", "会营销"]
    needs = rows("2 需求分析")
    assert [r[2:6] for r in needs[1:]] == [
        ["勤工助学", "显性", "经济", "宿舍走访"],
        ["被认可", "隐性", "个人成长", "宿舍走访"],
    ]
    talks = rows("3 互动历史")
    assert [(r[3], r[4], r[5]) for r in talks[1:]] == [
        ("宿舍走访", "联系上", "挂科 3 门, 周末打工"),
        ("电话", "未联系上", "电话没接"),
    ]
    assert rows("4 价值匹配")[1][2] == "勤工助学岗位"
    status = rows("5 关系状态")
    assert status[1][2] == 2 and status[1][4] == "高风险" and status[1][5] == "高风险"
    assert "{" not in status[1][6] and status[1][6]  # the reasons, in words
    plan = rows("6 未来规划")
    assert {r[4] for r in plan[1:]} == {"学业跟进", "重回正轨"}
    assert any("每周" in r[6] for r in plan[1:])
    assert rows("量表")[1][2:5] == ["PHQ-9", "2026-11-28", 4]
    assert len(rows("分级历史")) > 1
    everything = repr([rows(s) for s in wb.sheetnames])
    assert (
        "别人的学生" not in everything
        and "secret of the other" not in everything
        and "9999" not in everything
    )
    await admin.send("/export csv")
    zipped = await admin.expect_message(contains="敏感", skip_others=True)
    assert zipped.file_name == "caremap-export-2026-11-28.zip"
    # both exports are in the audit trail (who and when, never what)
    audit = await say(admin, "/audit")
    assert audit.text.count("导出了全部学生") == 2, audit.text
    lines = audit.text.splitlines()
    assert sum("导出了全部学生" in line for line in lines) == 2, audit.text  # one a line
