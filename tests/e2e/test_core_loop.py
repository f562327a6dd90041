"""End to end: the real Application polling the strict fake Bot API, a real SQLite file."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import ADMIN_ID, SECOND_ID, STRANGER_ID

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def table_counts(db_path) -> dict[str, int]:
    con = sqlite3.connect(db_path)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT IN ('alembic_version', 'processed_updates', 'inbox')"
            )
        ]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


async def admin_ready(env, lang="en"):
    admin = env.server.user(ADMIN_ID, "Li", language_code=lang)
    await admin.send("/start")
    await admin.expect_message()
    return admin


async def invite_second(env, admin, lang="en"):
    await admin.send("/invite")
    msg = await admin.expect_message()
    code = msg.text.split("start=")[1].split()[0]
    second = env.server.user(SECOND_ID, "Zhang", language_code=lang)
    await second.send(f"/start {code}")
    welcome = await second.expect_message()
    assert "You're now set up" in welcome.text
    joined = await admin.expect_message()  # the inviter hears that the colleague joined
    assert "Zhang" in joined.text, joined.text
    return second, code


async def test_admin_welcome_and_command_menu_in_both_languages(bot_env):
    admin = bot_env.server.user(ADMIN_ID, "Li", language_code="en")
    await admin.send("/start")
    msg = await admin.expect_message()
    assert "Welcome" in msg.text and "/invite" in msg.text
    en = dict(bot_env.server.commands(scope="all_private_chats"))
    zh = dict(bot_env.server.commands(language_code="zh", scope="all_private_chats"))
    assert {
        "log",
        "new",
        "map",
        "clients",
        "status",
        "goal",
        "plan",
        "lang",
        "help",
        "invite",
    } <= set(en)
    assert set(en) == set(zh)
    assert en["map"] != zh["map"] and "关系图" in zh["map"]


async def test_invite_flow_single_use_and_expiry(bot_env):
    admin = await admin_ready(bot_env)
    second, code = await invite_second(bot_env, admin)
    # The code works once.
    third = bot_env.server.user(4004, "Wu", language_code="en")
    await third.send(f"/start {code}")
    msg = await third.expect_message()
    assert "not valid" in msg.text
    await third.send("/clients")
    assert "invited counsellors" in (await third.expect_message()).text
    # A code older than 7 days is refused.
    await admin.send("/invite")
    code2 = (await admin.expect_message()).text.split("start=")[1].split()[0]
    bot_env.clock.advance(days=7, minutes=1)
    await third.send(f"/start {code2}")
    assert "not valid" in (await third.expect_message()).text
    # The new counsellor can work.
    await second.send("/clients")
    assert "no clients yet" in (await second.expect_message()).text


async def test_non_admin_cannot_invite(bot_env):
    admin = await admin_ready(bot_env)
    second, _ = await invite_second(bot_env, admin)
    await second.send("/invite")
    assert "Only admins" in (await second.expect_message()).text


async def test_stranger_refused_and_nothing_stored(bot_env):
    before = table_counts(bot_env.db_path)
    stranger = bot_env.server.user(
        STRANGER_ID, "Mallory", username="mallory_x", language_code="zh-hans"
    )
    for text in ("/start", "/start bogus-code", "/new 王芳", "/clients", "今天心情不好", "/map 1"):
        await stranger.send(text)
        msg = await stranger.expect_message()
        assert "受邀" in msg.text or "邀请码无效" in msg.text
    assert table_counts(bot_env.db_path) == before
    # the inbox keeps an update only until it is handled: then just its id remains
    inbox = bot_env.extra["inbox"]
    ids = [u["update_id"] for u in bot_env.server.sent_updates]
    await bot_env.server.wait_for(lambda: set(ids) <= inbox.handled or None, 30, "all handled")
    con = sqlite3.connect(bot_env.db_path)
    try:
        assert (
            con.execute("SELECT count(*) FROM inbox WHERE payload_enc IS NOT NULL").fetchone()[0]
            == 0
        )
    finally:
        con.close()
    raw = bot_env.db_path.read_bytes()
    for secret in (b"Mallory", b"mallory_x", "今天心情不好".encode()):
        assert secret not in raw


async def test_group_chat_is_refused(bot_env):
    admin = await admin_ready(bot_env)
    group = bot_env.server.group(-100500, "Class 1")
    before = table_counts(bot_env.db_path)
    await group.send(admin, "/new 王芳")
    msg = await group.expect_message()
    assert "private chat" in msg.text
    await group.send(admin, "王芳 is struggling")  # plain text in a group: silence
    await bot_env.server.idle(timeout=30)
    assert len(group.messages) == 1
    assert table_counts(bot_env.db_path) == before


async def test_every_command_round_trip(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/help")
    assert "/log" in (await admin.expect_message()).text
    await admin.send("/new 王芳 #班干部 #贫困生 sid=2025001 major=Marketing grade=2025")
    msg = await admin.expect_message()
    assert "#1 王芳" in msg.text and "2025001" in msg.text
    await admin.send("/new 学生A #竞赛达人 major=CS")
    assert "#2 学生A" in (await admin.expect_message()).text
    await admin.send(
        "/log wf missed classes, works weekends #tutoring #?recognition via=face "
        "trust=2 sat=3 risk=high next=1w"
    )
    msg = await admin.expect_message()
    assert "Logged for #1 王芳" in msg.text
    assert "tutoring" in msg.text and "recognition (implicit)" in msg.text
    assert "risk: low → high" in msg.text and "Follow-up on 2026-12-05" in msg.text
    assert "HIGH RISK" in (await admin.expect_message()).text  # the alert follows the reply at once
    await admin.send("/goal 1 Postgraduate exam in marketing")
    assert "Long-term goal added" in (await admin.expect_message()).text
    await admin.send("/plan 王芳 下周一 15:00 check the tutoring plan")
    assert "2026-11-30 15:00" in (await admin.expect_message()).text
    await admin.send("/status 1 trust=3")
    msg = await admin.expect_message()
    assert "trust 2 → 3" in msg.text
    await admin.send("/status 1")
    msg = await admin.expect_message()
    assert "trust 3/5" in msg.text and "risk" in msg.text
    await admin.send("/map 王芳")
    m = (await admin.expect_message()).text
    for heading in (
        "1 · Identification",
        "2 · Needs",
        "3 · Interactions",
        "4 · Resources matched",
        "5 · Relationship status",
        "6 · Plan",
    ):
        assert heading in m
    assert (
        "#班干部" in m and "Explicit: tutoring (face to face)" in m and "Implicit: recognition" in m
    )
    assert (
        "Trust 3/5" in m
        and "your risk setting high" in m
        and "Risk: 🟠 high" in m
        and "Trend:" in m
    )
    assert "Postgraduate exam" in m and "check the tutoring plan" in m
    await admin.send("/clients")
    lines = (await admin.expect_message()).text.splitlines()
    rows = [ln for ln in lines if "王芳" in ln or "学生A" in ln]
    assert "王芳" in rows[0] and "学生A" in rows[1]  # high risk first
    await admin.send("/lang zh")
    assert "中文" in (await admin.expect_message()).text
    await admin.send("/map 1")
    assert "关系图" in (await admin.expect_message()).text
    await admin.send("/lang")
    assert "当前语言" in (await admin.expect_message()).text


async def test_language_follows_telegram_until_lang(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/clients")
    assert "你还没有学生" in (await admin.expect_message()).text
    await admin.send("/lang en")
    await admin.expect_message()
    await admin.send("/clients")
    assert "no clients yet" in (await admin.expect_message()).text


async def test_notes_are_shown_as_typed_and_long_maps_fit(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    tricky = '挂科 <3 门 & a<b "quoted" 😀 <b>not bold</b> &amp;'
    await admin.send(f"/log 王芳 {tricky}")
    msg = await admin.expect_message()
    assert tricky in msg.text
    assert msg.entity_types().count("bold") == 1  # the client's name only, not the note's "<b>"
    long_note = ("很长的记录 & <note> " * 400)[:5000]
    await admin.send(f"/log 王芳 {long_note}")
    msg = await admin.expect_message()
    assert "Logged" in msg.text
    for i in range(25):
        await admin.send(f"/log 王芳 session {i} " + "x<&" * 1500)
        await admin.expect_message()
    await admin.send("/map 王芳")
    m = await admin.expect_message()
    assert len(m.text.encode("utf-16-le")) // 2 <= 4096
    assert "session 24" in m.text  # latest first
    assert "24 earlier" in m.text  # the latest 3 on the map; "More" shows the rest
    await admin.tap(m, "💬 More (27 conversations)")
    more = await admin.expect_message()
    assert len(more.text.encode("utf-16-le")) // 2 <= 4096
    assert "session 24" in more.text and "earlier not shown" in more.text
    # The full note is stored (encrypted), not a shortened copy.
    from services import invites

    counsellor = invites.find_counsellor(bot_env.db, ADMIN_ID)
    with bot_env.db.uow(write=False) as uow:
        repo = uow.clients_of(counsellor.id)
        records = uow.records_of(counsellor.id)
        client = repo.list()[0]
        view = records.relationship_map(client.id, interactions_limit=100)
    notes = {i.notes for i in view.interactions}
    assert tricky in notes and long_note.strip() in notes
    raw = bot_env.db_path.read_bytes() + (bot_env.db_path.parent / "caremap.db-wal").read_bytes()
    assert "很长的记录".encode() not in raw and "挂科".encode() not in raw


async def test_plain_text_one_message_one_tap(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    await admin.send("/new 李雷")
    await admin.expect_message()
    await admin.send("今天在图书馆碰到她, 在补作业 & 状态不错")
    ask = await admin.expect_message()
    assert "Who is this note about" in ask.text
    assert any("王芳" in t for t in ask.button_texts)
    qid = await admin.tap(ask, "#1 王芳")
    edited = await admin.expect_edit(ask)
    assert "Logged for #1 王芳" in edited.text and "补作业 & 状态不错" in edited.text
    answer = await admin.expect_callback_answer(qid)
    assert answer is not None
    # A double tap (the same button data delivered again) cannot log twice.
    qid2 = await replay_callback(bot_env.server, admin, ask, ask.buttons[0][0][1])
    answer2 = await admin.expect_callback_answer(qid2)
    assert "already been used" in answer2.text
    await bot_env.server.idle(timeout=30)
    await admin.send("/map 王芳")
    m = (await admin.expect_message()).text
    assert "(1 in all" in m


async def test_plain_text_new_client_flow_and_cancel(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("first meeting, very quiet")
    ask = await admin.expect_message()
    await admin.tap(ask, "➕ New client")
    edited = await admin.expect_edit(ask)
    assert "name" in edited.text
    await admin.send("陈静 #留学生")
    added = await admin.expect_message()
    assert "#1 陈静" in added.text
    logged = await admin.expect_message()
    assert "first meeting, very quiet" in logged.text
    await admin.send("a note I will cancel")
    ask2 = await admin.expect_message()
    await admin.tap(ask2, "Cancel")
    sure = await admin.expect_edit(ask2)  # a typed note is not thrown away on one tap
    assert "Throw this unsaved note away?" in sure.text
    await admin.tap(ask2, "🗑 Discard")
    assert "nothing was saved" in (await admin.expect_edit(ask2)).text
    await admin.send("/map 陈静")
    assert "(1 in all" in (await admin.expect_message()).text


async def test_ambiguous_name_buttons(bot_env):
    admin = await admin_ready(bot_env)
    for name in ("王芳", "王伟"):
        await admin.send(f"/new {name}")
        await admin.expect_message()
    await admin.send("/log 王 talked about sleep")
    ask = await admin.expect_message()
    assert "more than one" in ask.text
    await admin.tap(ask, "#2 王伟")
    edited = await admin.expect_edit(ask)
    assert "Logged for #2 王伟" in edited.text
    await admin.send("/map nobody")
    msg = await admin.expect_message()
    assert "couldn't find" in msg.text


async def test_counsellors_cannot_see_each_other(bot_env):
    admin = await admin_ready(bot_env)
    second, _ = await invite_second(bot_env, admin)
    await admin.send("/new 王芳 sid=2025001")
    await admin.expect_message()
    await admin.send("/log 王芳 private matter about family")
    await admin.expect_message()
    # Second counsellor: by name, number, pinyin, student number — nothing.
    for ref in ("王芳", "1", "wf", "2025001", '"王芳"'):
        await second.send(f"/map {ref}")
        msg = await second.expect_message()
        assert "couldn't find" in msg.text and "private matter" not in msg.text
    await second.send("/clients")
    assert "no clients yet" in (await second.expect_message()).text
    # A button of the admin's replayed by the second counsellor does nothing.
    await admin.send("another note")
    ask = await admin.expect_message()
    data = ask.buttons[0][0][1]
    await second.send("my own note")
    mine = await second.expect_message()
    qid = await replay_callback(bot_env.server, second, mine, data)
    answer = await second.expect_callback_answer(qid)
    assert "isn't yours" in answer.text
    await admin.send("/map 王芳")
    assert "(1 in all" in (await admin.expect_message()).text


async def replay_callback(server, user, own_message, data):
    """Deliver a callback query from `user`, on a message in their own chat, with `data`
    (as a modified client or a double tap would): the bot must not trust it."""
    return await server.enqueue_callback(user, own_message, data)


async def test_an_edited_command_is_not_handled_again(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    sent = await admin.send("/log 王芳 first version")
    await admin.expect_message()
    edited = dict(sent, text="/log 王芳 edited version", edit_date=sent["date"] + 5)
    await bot_env.server.enqueue_update({"edited_message": edited})
    # … and the counsellor is told so, not left believing the record fixed
    told = await admin.expect_message()
    assert "An edit doesn't change what was saved" in told.text and "/undo" in told.text
    await bot_env.server.idle(timeout=30)
    await admin.send("/map 王芳")
    m = (await admin.expect_message()).text
    assert "(1 in all" in m and "edited version" not in m
