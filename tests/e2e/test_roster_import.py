"""End to end: a class roster sent to the bot as a real XLSX file (made with openpyxl here),
through the strict fake Bot API's document upload, getFile and file download."""

from __future__ import annotations

import io
import sqlite3
import time

import pytest
from openpyxl import Workbook, load_workbook

from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list], title: str | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    if title is not None:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
        ws.append([])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def clients(env) -> list[tuple]:
    con = sqlite3.connect(env.db_path)
    try:
        rows = con.execute(
            "select number, name_enc, sid_enc, major_enc from clients order by number"
        ).fetchall()
    finally:
        con.close()
    # identifying facts are encrypted at rest (issue 14): read them back with the key
    dec = env.db.cipher.decrypt
    return [(n, *(None if v is None else dec(v) for v in enc)) for n, *enc in rows]


async def test_import_a_chinese_roster_on_one_tap(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/new 学生Z sid=2025199")
    await admin.expect_message()
    data = workbook(
        [
            ["姓名", "学号", "专业", "年级", "宿舍", "电话", "标签", "备注"],
            ["学生A", 2025101, "计算机科学与技术", 2025, "东3-412", 13800000001, "竞赛达人", "x"],
            [None, None, None, None, None, None, None, None],
            ["学生B", 2025102, "市场营销", 2025, "西1-208", "13800000002", "贫困生、班干部", None],
            ["学生B2", 2025102, "市场营销", 2025, None, None, None, None],  # duplicate 学号
            ["学生Z", 2025199, "市场营销", 2025, None, None, None, None],  # already there
            [None, 2025105, "市场营销", 2025, None, None, None, None],  # no name
        ],
        title="2025级 学生名单",
    )
    await admin.send_document(data, "2025级名单.xlsx", XLSX)
    preview = await admin.expect_message(contains="名单")
    text = preview.text
    assert "表头在第 3 行" in text
    assert "姓名 ← “姓名”" in text and "学号 ← “学号”" in text and "电话 ← “电话”" in text
    assert "未使用的列：“备注”" in text
    assert "将新增 2 人：学生A（2025101）、学生B（2025102）" in text
    assert "已在名单中（学号相同，不重复导入）1 人：学生Z（2025199，#1）" in text
    assert "第 7 行：与前面的行重复（第 6 行） “2025102”" in text
    assert "第 9 行：没有姓名" in text
    assert "“2025102”\n• 第 9 行" in text, text  # one problem a line
    assert clients(bot_env) == [(1, "学生Z", "2025199", None)]  # nothing saved before the tap
    await admin.tap(preview, "📥 导入 2 人")
    done = (await admin.expect_edit(preview)).text
    assert "已导入 2 名学生（#2–#3）" in done
    assert clients(bot_env)[1:] == [
        (2, "学生A", "2025101", "计算机科学与技术"),
        (3, "学生B", "2025102", "市场营销"),
    ]
    await admin.send("/map 学生B")
    m = (await admin.expect_message(contains="关系图", skip_others=True)).text
    assert "#贫困生" in m and "#班干部" in m
    # the same file again: both are present now, nothing to add, no button
    await admin.send_document(data, "2025级名单.xlsx", XLSX)
    again = await admin.expect_message(contains="名单")
    assert "将新增 0 人" in again.text and not again.buttons
    con = sqlite3.connect(bot_env.db_path)
    try:  # dorm and phone are encrypted at rest
        raw = con.execute("select dorm_enc, phone_enc from client_details").fetchall()
    finally:
        con.close()
    # Fernet tokens (random base64: a short substring such as "208" turns up in one by
    # chance now and then, so look for the whole values, which cannot)
    assert len(raw) == 2 and all(
        d.startswith("gAAAAA") and p.startswith("gAAAAA") for d, p in raw
    ), raw
    plain = ("东3-412", "西1-208", "13800000001", "13800000002")
    assert not [v for row in raw for v in plain if v in "".join(row)], raw


async def test_a_bad_file_imports_nothing_and_says_why(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send_document(b"PK\x03\x04 broken", "roster.xlsx", XLSX)
    assert "couldn't open this file" in (await admin.expect_message()).text
    await admin.send_document(workbook([["foo", "bar"], ["1", "2"]]), "roster.xlsx", XLSX)
    assert "header row" in (await admin.expect_message()).text
    await admin.send_document(b"Name,Student ID\n", "roster.csv", "text/csv")
    assert "no students" in (await admin.expect_message()).text
    await admin.send_document(b"hello", "notes.txt", "text/plain")
    assert "class rosters" in (await admin.expect_message()).text
    assert clients(bot_env) == []


async def test_import_command_sends_a_template_that_imports(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/import")
    msg = await admin.expect_message()
    assert msg.file_name == "roster-template.xlsx" and "Import a class roster" in msg.text
    data = bot_env.server.uploaded_file(msg.document["file_id"])[0]
    ws = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in ws[1]] == [
        "name",
        "student id",
        "major",
        "grade",
        "dorm",
        "phone",
        "tags",
    ]
    await admin.send_document(data, "roster-template.xlsx", XLSX)
    preview = await admin.expect_message()
    assert "To add: 2" in preview.text
    await admin.tap(preview, "Cancel")
    await admin.expect_edit(preview)
    assert clients(bot_env) == []


@pytest.mark.parametrize("n", [300, 500])
async def test_a_class_of_hundreds_in_seconds(bot_env, n):
    admin = await admin_ready(bot_env)
    rows = [["姓名", "学号", "专业", "年级", "宿舍", "电话", "标签"]]
    rows += [
        [
            f"学生{i:03d}",
            2026000 + i,
            "市场营销",
            2026,
            f"西{i % 9}-{i}",
            f"1390000{i:04d}",
            "贫困生" if i % 10 == 0 else None,
        ]
        for i in range(n)
    ]
    data = workbook(rows)
    started = time.perf_counter()
    await admin.send_document(data, f"{n}.xlsx", XLSX)
    preview = await admin.expect_message(timeout=120)
    assert f"To add: {n}" in preview.text
    await admin.tap(preview, f"📥 Import {n}")
    done = await admin.expect_edit(preview, timeout=120)
    elapsed = time.perf_counter() - started
    assert f"Imported {n} students (#1–#{n})" in done.text
    assert len(clients(bot_env)) == n
    # "in seconds": 3.5 s (300) and 6 s (500) on an idle 2-CPU machine; the bound is for a CI
    # machine running other suites beside this one (load 9 took it past 30 s once)
    assert elapsed < 90, elapsed
    print(f"\n{n}-row roster: upload, preview and import in {elapsed:.2f} s")


async def test_forget_removes_the_roster_details(bot_env):
    admin = await admin_ready(bot_env)
    data = workbook(
        [["姓名", "学号", "宿舍", "电话"], ["学生Q", 2025300, "南7-707", "13712345678"]]
    )
    await admin.send_document(data, "q.xlsx", XLSX)
    preview = await admin.expect_message()
    await admin.tap(preview, "📥 Import 1")
    assert "Imported 1 student" in (await admin.expect_edit(preview)).text
    con = sqlite3.connect(bot_env.db_path)
    try:
        assert con.execute("select count(*) from client_details").fetchone()[0] == 1
    finally:
        con.close()
    await admin.send("/forget 学生Q")
    ask = await admin.expect_message(contains="学生Q", skip_others=True)
    await admin.tap(ask, "🗑 Delete forever")
    assert "has been deleted" in (await admin.expect_edit(ask)).text
    con = sqlite3.connect(bot_env.db_path)
    try:
        assert con.execute("select count(*) from client_details").fetchone()[0] == 0
        assert con.execute("select count(*) from clients").fetchone()[0] == 0
    finally:
        con.close()
