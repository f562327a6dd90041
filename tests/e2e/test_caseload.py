"""End to end: /find, /export, /forget, /undo through the real Application and the fake Bot API."""

from __future__ import annotations

import csv
import io
import sqlite3
import zipfile
from pathlib import Path

import pytest

from tests.e2e.harness import db_rows as rows
from tests.e2e.test_core_loop import admin_ready, invite_second, replay_callback, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def say(user, text: str):
    await user.send(text)
    return await user.expect_message()


async def second_in_chinese(env, admin):
    second, _ = await invite_second(env, admin)
    await say(second, "/lang zh")
    return second


# --- /find ---------------------------------------------------------------------------------


async def test_find_searches_names_tags_and_decrypted_notes(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 王芳 #贫困生 sid=2025001 major=Marketing")
    await say(admin, "/new 李雷 major=CS")
    await say(admin, "/log 王芳 worried about the scholarship <deadline> & rent #助学金")
    bot_env.clock.advance(minutes=5)
    await say(admin, "/log 李雷 asked about the SCHOLARSHIP interview")
    msg = await say(admin, "/find scholarship")
    assert "2 clients" in msg.text
    # latest hit first, the hit in bold, the note's HTML characters escaped
    assert msg.text.index("#2 李雷") < msg.text.index("#1 王芳")
    assert "\n\n#1 王芳" in msg.text, msg.text  # a blank line between two clients' hits
    assert "<b>SCHOLARSHIP</b>" in msg.html and "<b>scholarship</b>" in msg.html
    assert "&lt;deadline&gt; &amp; rent" in msg.html
    # a button per client found, in the same order, opens that client's map
    assert msg.button_texts == ["#2 李雷", "#1 王芳"]
    await admin.tap(msg, "#1 王芳")
    shown = await admin.expect_message()
    assert "Relationship map — #1 王芳" in shown.text and "李雷" not in shown.text, shown.text
    # pinyin initials, tags, student numbers, majors
    assert "#1 王芳" in (await say(admin, "/find wf")).text
    assert "#1 王芳" in (await say(admin, "/find 贫困")).text
    hit = await say(admin, "/find 2025001")
    assert "#1 王芳" in hit.text and "student no." in hit.text
    assert "#2 李雷" in (await say(admin, "/find cs")).text
    assert "Nothing in your caseload matches" in (await say(admin, "/find volcano")).text
    usage = await say(admin, "/find")
    assert "/find" in usage.text and "searches your own caseload" in usage.text
    assert "too long" in (await say(admin, "/find " + "x" * 300)).text


async def test_find_is_scoped_and_works_in_chinese(bot_env):
    admin = await admin_ready(bot_env)
    second = await second_in_chinese(bot_env, admin)
    await say(admin, "/new 王芳 sid=2025001")
    await say(admin, "/log 王芳 家里的事情很私密")
    for query in ("王芳", "wf", "2025001", "私密", "1"):
        msg = await say(second, f"/find {query}")
        assert "没有与" in msg.text and "私密" not in msg.text.split("”")[-1]
    await say(second, "/new 张三")
    await say(second, "/log 张三 私密的谈话")
    msg = await say(second, "/find 私密")
    assert "#1 张三" in msg.text and "王芳" not in msg.text and "最近的在前" in msg.text
    assert msg.button_texts == ["#1 张三"] and "点下面的名字打开关系图" in msg.text


async def test_find_says_which_clients_have_a_button(bot_env):
    """Twelve clients found, all listed: ten buttons, and the footer says only the first ten
    have one (the others: /map <number>), not a silent cut."""
    admin = await admin_ready(bot_env)
    for i in range(12):
        await say(admin, f"/new Li{i:02d}")
        await say(admin, f"/log Li{i:02d} needle")
    msg = await say(admin, "/find needle")
    assert "12 clients" in msg.text and "more — narrow the search" not in msg.text, msg.text
    assert len(msg.button_texts) == 10
    assert "map of the first 10; for the others, /map <number>" in msg.text, msg.text
    few = await say(admin, "/find Li01")
    assert few.button_texts == ["#2 Li01"] and "first 10" not in few.text, few.text


async def test_find_reply_fits_one_message(bot_env):
    admin = await admin_ready(bot_env)
    for i in range(70):
        await say(admin, f"/new 学生{i:02d}")
        await say(admin, f"/log 学生{i:02d} needle " + "long words " * 20)
    msg = await say(admin, "/find needle")
    assert len(msg.text) <= 4096 and "more — narrow the search" in msg.text
    assert len(msg.button_texts) == 10  # the first ten, not seventy


# --- /export -------------------------------------------------------------------------------


def read_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = archive.read(name)
    assert raw.startswith(b"\xef\xbb\xbf"), f"{name} has no UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


async def test_export_sends_the_own_caseload_as_a_zip_of_csv(bot_env):
    admin = await admin_ready(bot_env)
    second, _ = await invite_second(bot_env, admin)
    await say(second, "/new 别人的学生")
    await say(second, "/log 别人的学生 secret of the other counsellor")
    await say(admin, "/new 王芳 #贫困生 sid=2025001")
    await say(admin, "/log 王芳 挂科 3 门,周末打工 #学业辅导 trust=2 risk=high next=1w")
    await say(admin, "/goal 王芳 考研")
    await say(admin, "/phq9 王芳 1 1 1 1 0 0 0 0 0")
    await admin.send("/export csv")
    doc = await admin.expect_message(contains="sensitive", skip_others=True)
    assert doc.file_name == "caremap-export-2026-11-28.zip"
    archive = zipfile.ZipFile(io.BytesIO(doc.file_bytes))
    names = set(archive.namelist())
    assert names == {
        f"{n}.csv"
        for n in (
            "clients",
            "interactions",
            "needs",
            "plan",
            "status_history",
            "screenings",
            "tier_history",
            "referrals",
            "safety_checks",
            "risk_signals",
            "recurring_plans",
            "client_details",
        )
    } | {"README.txt"}
    [client] = read_csv(archive, "clients.csv")
    assert (client["name"], client["sid"], client["tags"]) == ("王芳", "2025001", "贫困生")
    [note] = read_csv(archive, "interactions.csv")
    assert note["notes"] == "挂科 3 门,周末打工" and note["client_name"] == "王芳"
    assert read_csv(archive, "needs.csv")[0]["text"] == "学业辅导"
    assert {p["text"] for p in read_csv(archive, "plan.csv")} >= {"考研"}
    assert {(s["field"], s["new"]) for s in read_csv(archive, "status_history.csv")} >= {
        ("trust", "2"),
        ("risk", "high"),
    }
    assert read_csv(archive, "screenings.csv")[0]["total"] == "4"
    assert read_csv(archive, "tier_history.csv")
    readme = archive.read("README.txt").decode("utf-8-sig")
    assert "interactions.csv" in readme and "notes" in readme and "sensitive" in readme
    everything = b"".join(archive.read(n) for n in names).decode("utf-8-sig")
    assert "别人的学生" not in everything and "secret of the other" not in everything
    # the other counsellor's export has only their own client
    await second.send("/export csv")
    theirs = await second.expect_message(contains="sensitive", skip_others=True)
    other = zipfile.ZipFile(io.BytesIO(theirs.file_bytes))
    assert [c["name"] for c in read_csv(other, "clients.csv")] == ["别人的学生"]
    assert "王芳" not in b"".join(other.read(n) for n in other.namelist()).decode("utf-8-sig")


async def test_export_in_chinese_and_with_stray_arguments(bot_env):
    admin = await admin_ready(bot_env, lang="zh")
    msg = await say(admin, "/export all")
    assert "不需要写内容" in msg.text and msg.document is None
    await admin.send("/export csv")
    doc = await admin.expect_message(contains="敏感", skip_others=True)
    archive = zipfile.ZipFile(io.BytesIO(doc.file_bytes))
    assert read_csv(archive, "clients.csv") == []


# --- /forget -------------------------------------------------------------------------------


def raw_bytes(db_path: Path) -> bytes:
    out = b""
    for suffix in ("", "-wal"):
        p = Path(str(db_path) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


async def test_forget_deletes_everything_and_overwrites_the_bytes(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 独特名字Zyxwvut sid=9988776655 #贫困生")
    await say(admin, "/new 留下的学生")
    await say(admin, "/log 1 UniqueSecretNoteQwerty #UniqueNeedAsdfgh risk=crisis next=1d")
    assert "CRISIS" in (await admin.expect_message()).text  # the alert follows the reply at once
    await say(admin, "/phq9 1 3 3 3 3 3 3 3 3 3")
    await say(admin, "/goal 1 UniqueGoalZxcvbn")
    await say(admin, "/plan 1 every 1w UniqueSeriesPoiuyt")  # a recurring follow-up (issue 15)
    con = sqlite3.connect(bot_env.db_path)
    cipher_text = con.execute("SELECT notes_enc FROM interactions").fetchone()[0]
    con.close()
    before = table_counts(bot_env.db_path)
    assert before["alerts"] >= 1 and before["screenings"] == 1
    ask = await say(admin, "/forget 独特")
    assert "Delete" in ask.text and "独特名字Zyxwvut" in ask.text and "1 conversation" in ask.text
    assert ask.button_texts == ["🗑 Delete forever", "Cancel"]
    data = ask.buttons[0][0][1]
    await admin.tap(ask, "🗑 Delete forever")
    done = await admin.expect_edit(ask)
    assert (
        "has been deleted" in done.text
        and "1 conversation" in done.text
        and "1 screening" in done.text
    )
    after = table_counts(bot_env.db_path)
    assert after["clients"] == 1 and after["pending_inputs"] == 0
    con = sqlite3.connect(bot_env.db_path)
    for table in (
        "interactions",
        "needs",
        "plan_items",
        "screenings",
        "tier_changes",
        "alerts",
        "client_grades",
        "status_changes",
        "client_tags",
        "referrals",
        "outbox",
        "safety_checks",
        "risk_signals",
        "plan_series",
        "client_details",
    ):
        assert (
            con.execute(f"SELECT count(*) FROM {table} WHERE client_id = 1").fetchone()[0] == 0
        ), table
    con.close()
    # a double tap is harmless
    qid = await replay_callback(bot_env.server, admin, ask, data)
    assert "already been used" in (await admin.expect_callback_answer(qid)).text
    assert table_counts(bot_env.db_path) == after
    blob = raw_bytes(bot_env.db_path)
    for secret in (
        "独特名字Zyxwvut",
        "Zyxwvut",
        "9988776655",
        "UniqueSecretNoteQwerty",
        "UniqueNeedAsdfgh",
        "UniqueGoalZxcvbn",
        "UniqueSeriesPoiuyt",
    ):
        assert secret.encode() not in blob, secret
    assert cipher_text.encode() not in blob
    # the control: the remaining client is still on disk (its name encrypted, issue 14)
    con = sqlite3.connect(bot_env.db_path)
    [(kept_token,)] = con.execute("SELECT name_enc FROM clients").fetchall()
    con.close()
    assert kept_token.encode() in blob and "留下的学生".encode() not in blob
    assert "couldn't find" in (await say(admin, "/map 独特")).text


async def test_forget_cancel_ambiguity_and_bad_input(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 王芳")
    await say(admin, "/new 王伟")
    before = table_counts(bot_env.db_path)
    ambiguous = await say(admin, "/forget 王")
    assert "couldn't find" in ambiguous.text and "王芳" in ambiguous.text and not ambiguous.buttons
    assert "Which client" in (await say(admin, "/forget")).text
    assert "couldn't find" in (await say(admin, "/forget 99")).text
    ask = await say(admin, "/forget 1")
    await admin.tap(ask, "Cancel")
    assert "nothing was deleted" in (await admin.expect_edit(ask)).text
    qid = await replay_callback(bot_env.server, admin, ask, ask.buttons[0][0][1])
    assert "isn't yours" in (await admin.expect_callback_answer(qid)).text
    for data in ("fg:abc:y", "fg:1", "fg:1:z", "fg:99999999999999999999999:y", "fg::y"):
        qid = await replay_callback(bot_env.server, admin, ask, data)
        assert "no longer works" in (await admin.expect_callback_answer(qid)).text
    # a forged fg: on another kind of parked input neither deletes nor consumes it
    await admin.send("a plain note")
    note = await admin.expect_message()
    note_pending = note.buttons[0][0][1].split(":")[1]
    qid = await replay_callback(bot_env.server, admin, note, f"fg:{note_pending}:y")
    assert "isn't yours" in (await admin.expect_callback_answer(qid)).text
    await admin.tap(note, "#2 王伟")
    assert "Logged for #2 王伟" in (await admin.expect_edit(note)).text
    after = table_counts(bot_env.db_path)
    assert after["clients"] == before["clients"] == 2


async def test_forget_is_scoped_to_the_counsellor(bot_env):
    admin = await admin_ready(bot_env)
    second = await second_in_chinese(bot_env, admin)
    await say(admin, "/new 王芳 sid=2025001")
    await say(admin, "/log 王芳 private")
    for ref in ("王芳", "1", "wf", "2025001"):
        msg = await say(second, f"/forget {ref}")
        assert "找不到" in msg.text or "没有" in msg.text, msg.text
        assert not msg.buttons
    ask = await say(admin, "/forget 1")
    data = ask.buttons[0][0][1]
    await say(second, "/new 张三")
    ask2 = await say(second, "/forget 张三")
    assert "永久删除" in ask2.text and ask2.button_texts[0] == "🗑 永久删除"
    qid = await replay_callback(bot_env.server, second, ask2, data)
    assert "不属于你" in (await second.expect_callback_answer(qid)).text
    assert table_counts(bot_env.db_path)["clients"] == 2
    await second.tap(ask2, "🗑 永久删除")
    assert "已删除 #1 张三" in (await second.expect_edit(ask2)).text
    assert "#1 王芳" in (await say(admin, "/map 1")).text


# --- /undo ---------------------------------------------------------------------------------


async def undo(user):
    """/undo says what it would take back and asks: tap ↩️ and return the result."""
    ask = await say(user, "/undo")
    undo_buttons = [b for b in ask.button_texts if b.startswith("↩️")]
    if not undo_buttons:
        return ask
    await user.tap(ask, undo_buttons[0])
    return await user.expect_edit(ask)


async def test_undo_a_log_restores_status_needs_and_plan(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 王芳")
    await say(admin, "/log 王芳 first talk trust=3")
    bot_env.clock.advance(minutes=1)
    before = table_counts(bot_env.db_path)
    await say(admin, "/log 王芳 bad week #tutoring #?recognition trust=1 risk=high next=1w")
    assert "HIGH RISK" in (await admin.expect_message()).text  # the alert follows the reply at once
    msg = await undo(admin)
    assert "Undone: the conversation logged for #1 王芳" in msg.text and "2 needs" in msg.text
    assert "trust back to 3" in msg.text and "risk back to low" in msg.text
    restored = [line for line in msg.text.splitlines() if "back to" in line]
    assert len(restored) == 2, msg.text  # one change a line (they ran together)
    after = table_counts(bot_env.db_path)
    for table in ("interactions", "needs", "plan_items", "status_changes", "alerts"):
        assert after[table] == before[table], table
    status = await say(admin, "/status 王芳")
    assert "3/5" in status.text
    view = await say(admin, "/map 王芳")
    assert "bad week" not in view.text and "first talk" in view.text
    # the next /undo takes back the earlier log, then the /new
    assert "conversation logged" in (await undo(admin)).text
    assert "no longer in your caseload" in (await undo(admin)).text
    assert "nothing to undo" in (await undo(admin)).text
    assert table_counts(bot_env.db_path)["clients"] == 0


async def test_undo_status_goal_plan_and_the_window(bot_env):
    admin = await admin_ready(bot_env, lang="zh")
    await say(admin, "/new 王芳 #挂科")
    await say(admin, "/log 王芳 谈话")
    await say(admin, "/status 王芳 trust=4 -#挂科 #班干部")
    msg = await undo(admin)
    assert "已撤销" in msg.text and "状态变更" in msg.text
    view = await say(admin, "/map 王芳")
    assert "挂科" in view.text and "班干部" not in view.text
    await say(admin, "/goal 王芳 考研")
    assert "添加的目标" in (await undo(admin)).text
    await say(admin, "/plan 王芳 明天 回访")
    bot_env.clock.advance(minutes=16)
    assert "没有可以撤销" in (await undo(admin)).text
    assert "回访" in (await say(admin, "/map 王芳")).text
    # /undo with words after it changes nothing
    await say(admin, "/plan 王芳 明天 再次回访")
    assert "不需要写内容" in (await say(admin, "/undo 王芳")).text
    assert "安排的跟进" in (await undo(admin)).text
    view = await say(admin, "/map 王芳")
    assert "再次回访" not in view.text and "回访" in view.text


async def test_undo_new_is_refused_once_something_was_recorded(bot_env):
    admin = await admin_ready(bot_env)
    await say(admin, "/new 王芳")
    # a safety check from the map: not undoable itself, but recorded for the client
    mapped = await say(admin, "/map 王芳")
    await admin.tap(mapped, "🛟 Safety check now")
    check = await admin.expect_message(contains="Safety check", skip_others=True)
    while "No" in check.button_texts:
        await admin.tap(check, "No")
        check = await admin.expect_edit(check)
    assert rows(bot_env, "SELECT count(*) FROM safety_checks") == [(1,)]
    msg = await undo(admin)
    assert "can't undo adding #1 王芳" in msg.text and "/forget 1" in msg.text
    assert table_counts(bot_env.db_path)["clients"] == 1


async def test_undo_is_scoped_to_the_counsellor(bot_env):
    admin = await admin_ready(bot_env)
    second, _ = await invite_second(bot_env, admin)
    await say(admin, "/new 王芳")
    await say(admin, "/log 王芳 private talk trust=2")
    before = table_counts(bot_env.db_path)
    assert "nothing to undo" in (await undo(second)).text
    assert table_counts(bot_env.db_path) == before
    assert "conversation logged" in (await undo(admin)).text


async def test_undo_says_what_and_asks_and_covers_screenings(bot_env):
    admin = await admin_ready(bot_env, lang="zh")
    await say(admin, "/new 王芳")
    await say(admin, "/log 王芳 谈了学业 #学业辅导 #?被认可 trust=3")
    await say(admin, "/gad7 王芳 1111111")
    ask = await say(admin, "/undo")  # the latest is the GAD-7, not the older log
    assert "GAD-7" in ask.text and "#1 王芳" in ask.text, ask.text
    assert ask.button_texts == ["↩️ 撤销", "取消"]
    before = table_counts(bot_env.db_path)
    await admin.tap(ask, "取消")
    assert "没有撤销" in (await admin.expect_edit(ask)).text
    assert table_counts(bot_env.db_path) == before
    done = await undo(admin)
    assert "GAD-7" in done.text and "已撤销" in done.text
    assert table_counts(bot_env.db_path)["screenings"] == before["screenings"] - 1
    ask2 = await say(admin, "/undo")
    assert "谈话" in ask2.text and "2 条需求" in ask2.text and "信任度" in ask2.text


async def test_undo_takes_back_taps_and_referrals(bot_env):
    """Issue 13: /undo covers a Done or Snooze tap, a referral and a referral's status tap,
    each said first and taken back alone."""
    from reminders.tick import run_once

    admin = await admin_ready(bot_env)
    await say(admin, "/settings agenda=off")
    await say(admin, "/new 王芳")
    await say(admin, "/plan 王芳 2h check the tutoring plan")
    bot_env.clock.advance(hours=2)
    await run_once(bot_env.app)
    reminder = await admin.expect_message(contains="Follow-up", skip_others=True)
    # a Snooze tap, undone: the follow-up is due at its old time again
    await admin.tap(reminder, "Snooze 1 h")
    await admin.expect_edit(reminder)
    ask = await say(admin, "/undo")
    assert "snoozing #1 王芳's follow-up" in ask.text
    await admin.tap(ask, "↩️ Undo")
    assert "back at its time before the snooze" in (await admin.expect_edit(ask)).text
    assert rows(bot_env, "SELECT due_at FROM plan_items")[0][0].startswith(
        "2026-11-28 04:00"
    )  # 12:00 local
    # a Done tap, undone: open again
    await say(admin, "/plan 王芳 1h call her mother back")
    bot_env.clock.advance(hours=1)
    await run_once(bot_env.app)
    second = await admin.expect_message(contains="call her mother back", skip_others=True)
    await admin.tap(second, "✓ Done")
    await admin.expect_edit(second)
    done_sql = "SELECT done_at IS NOT NULL FROM plan_items WHERE text_enc IS NOT NULL ORDER BY id"
    assert rows(bot_env, done_sql) == [(0,), (1,)]
    done = await undo(admin)
    assert "open again" in done.text
    assert rows(bot_env, done_sql) == [(0,), (0,)]
    # a referral and its status tap
    referred = await say(admin, "/refer 王芳 tutoring")
    await admin.tap(referred, "✅ Accepted")
    await admin.expect_edit(referred)
    ask = await say(admin, "/undo")
    assert "referral to Tutoring (was 📨 referred)" in ask.text
    await admin.tap(ask, "↩️ Undo")
    await admin.expect_edit(ask)
    assert rows(bot_env, "SELECT status FROM referrals") == [("referred",)]
    assert "referral of #1 王芳 is removed" in (await undo(admin)).text
    assert rows(bot_env, "SELECT count(*) FROM referrals") == [(0,)]
