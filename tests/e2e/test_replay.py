"""Issue 10: the same update delivered twice is handled once — every kind of update.

Each update is sent once and answered; then the very same update (same update_id) is
delivered again twice: by the fake Bot API (as Telegram does when the offset was not
confirmed before a crash; the inbox already has it) and straight into the Application (as
the inbox does when it re-feeds a row whose handling committed but was not marked before a
crash; the update id claimed with the change stops it). Neither adds a row, changes a
value, sends a message or edits one.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from telegram import Update

from reminders.tick import urgent_settled
from tests.e2e.harness import db_rows as rows
from tests.e2e.test_core_loop import admin_ready, replay_callback

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

IGNORED = ("alembic_version", "processed_updates", "inbox")


def snapshot(db_path) -> dict[str, list]:
    """Every row of every table (bar the bookkeeping ones): any change shows."""
    con = sqlite3.connect(db_path)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            n: sorted(map(repr, con.execute(f'SELECT * FROM "{n}"').fetchall()))
            for n in names
            if n not in IGNORED
        }
    finally:
        con.close()


def screen(user) -> list[tuple]:
    return [(m.message_id, m.version, m.text) for m in user.messages]


class Replayer:
    def __init__(self, env, user):
        self.env, self.user = env, user
        self.kinds: list[str] = []
        self.done: Counter[int] = Counter()  # update id → times the Application finished it
        app = env.app
        process = app.process_update

        async def counted(update):
            try:
                await process(update)
            finally:
                if isinstance(update, Update):
                    self.done[update.update_id] += 1
                    env.server.notify()

        app.process_update = counted

    async def handled(self, update_id: int, times: int) -> None:
        await self.env.server.wait_for(
            lambda: self.done[update_id] >= times or None,
            30,
            f"update {update_id} handled {times}×",
        )

    async def check(self, kind: str, write: bool = True) -> None:
        """The last update was handled; deliver it twice more and see nothing change."""
        server, app = self.env.server, self.env.app
        update = server.sent_updates[-1]
        await self.handled(update["update_id"], 1)
        await urgent_settled(app)  # an alert it raised goes out right after the reply
        await server.idle()
        before, seen = snapshot(self.env.db_path), screen(self.user)
        await server.redeliver(update)
        # fetched again: the inbox knows it and does not queue it a second time …
        inbox = self.env.extra["inbox"]
        await server.wait_for(
            lambda: inbox.fetched.get(update["update_id"], 0) >= 2 or None,
            30,
            f"update {update['update_id']} fetched again",
        )
        await server.idle()
        # … and handled again all the same (a row re-fed after a crash), it changes nothing
        await app.process_update(Update.de_json(update, app.bot))
        await urgent_settled(app)
        await server.idle()
        assert snapshot(self.env.db_path) == before, kind
        if write:  # a read-only command may show its answer again; it changes nothing
            assert screen(self.user) == seen, kind
        self.kinds.append(kind)
        for _ in self.user.unread:  # what the original handling sent is read now
            await self.user.expect_message()

    async def send(self, text: str, kind: str, write: bool = True):
        count = len(self.user.messages)
        await self.user.send(text)
        reply = await self.user.expect_message()
        await self.check(kind, write)
        return reply, count

    async def tap(self, message, button: str, kind: str, write: bool = True):
        await self.user.tap(message, button)
        await self.check(kind, write)


async def test_every_replayed_update_kind_is_handled_once(bot_env):
    admin = await admin_ready(bot_env)
    r = Replayer(bot_env, admin)
    await r.send("/settings agenda=off", "/settings")
    await r.send("/lang en", "/lang")
    await r.send("/tz Asia/Shanghai", "/tz")
    await r.send("/new 学生B #贫困生", "/new")
    await r.send("/new 学生C", "/new (second)")
    await r.send("/log 学生B 挂科 3 门 via=face trust=2 risk=high next=1w", "/log")
    await r.send("/status 学生B sat=2 #挂科", "/status")
    await r.send("/goal 学生B 补考通过", "/goal")
    await r.send("/plan 学生B 明天 回访", "/plan")
    await r.send("/phq9 学生B 1 1 1 1 1 1 1 1 0", "/phq9")
    await r.send("/gad7 学生B 1111111", "/gad7")
    referred, _ = await r.send("/refer 学生B tutoring", "/refer")
    await r.tap(referred, "✅ Accepted", "referral button")
    await r.send("/invite", "/invite")
    assert len(rows(bot_env, "SELECT id FROM invites")) == 1
    # /undo twice must not take back two changes
    assert len(rows(bot_env, "SELECT id FROM plan_items")) == 3  # next=1w, the goal, the plan
    ask_undo, _ = await r.send("/undo", "/undo (asks first)")
    assert "referral to Tutoring" in ask_undo.text  # the latest change: the status tap
    assert rows(bot_env, "SELECT status FROM referrals") == [("accepted",)]  # nothing yet: it asks
    await r.tap(ask_undo, "↩️ Undo", "/undo: the confirm button")
    assert rows(bot_env, "SELECT status FROM referrals") == [("referred",)]  # that one only
    assert len(rows(bot_env, "SELECT id FROM plan_items")) == 3
    # plain text: one parked note, one tap, one conversation
    parked = len(rows(bot_env, "SELECT id FROM pending_inputs"))
    ask, _ = await r.send("在图书馆碰到她, 在补作业", "plain text")
    assert len(rows(bot_env, "SELECT id FROM pending_inputs")) == parked + 1
    await r.tap(ask, "#1 学生B", "plain text: client button")
    assert len(rows(bot_env, "SELECT id FROM interactions")) == 2
    # a questionnaire step by step
    question, _ = await r.send("/phq9 学生C", "/phq9 (buttons)")
    for step in range(9):
        await r.tap(question, "0 · Not at all", f"questionnaire step {step + 1}")
    assert len(rows(bot_env, "SELECT id FROM screenings")) == 3
    # ambiguous client: choice buttons
    choose, _ = await r.send("/log 学生 又聊了一次", "/log (ambiguous)")
    await r.tap(choose, "#2 学生C", "choice button")
    cancel, _ = await r.send("/log 学生 再聊一次", "/log (ambiguous, then cancelled)")
    await r.tap(cancel, [t for t in cancel.button_texts if "Cancel" in t][0], "choice: cancel")
    assert len(rows(bot_env, "SELECT id FROM interactions")) == 3
    # reminder buttons (as the tick sends them): snooze, done; tier review
    plan_id = rows(bot_env, "SELECT id FROM plan_items WHERE done_at IS NULL AND kind != 'long'")[
        0
    ][0]
    snooze = await replay_callback(bot_env.server, admin, ask, f"rs:{plan_id}:1d")
    await admin.expect_callback_answer(snooze)
    due = rows(bot_env, f"SELECT due_at FROM plan_items WHERE id = {plan_id}")
    bot_env.clock.advance(hours=1)  # a replay later must not push it further
    await r.check("snooze button")
    assert rows(bot_env, f"SELECT due_at FROM plan_items WHERE id = {plan_id}") == due
    done = await replay_callback(bot_env.server, admin, ask, f"rd:{plan_id}")
    await admin.expect_callback_answer(done)
    await r.check("done button")
    lower = await replay_callback(bot_env.server, admin, ask, "rv:l:1")
    await admin.expect_callback_answer(lower)
    await r.check("tier review: Lower asks why")  # shows the reasons, once
    reason = await replay_callback(bot_env.server, admin, ask, "rv:r:1:improved")
    await admin.expect_callback_answer(reason)
    await r.check("tier review: lower, with a reason")
    keep = await replay_callback(bot_env.server, admin, ask, "rv:c:1")
    await admin.expect_callback_answer(keep)
    await r.check("tier review: confirm")
    # the crisis path (issue 11): a risk phrase's prompt, "not a risk" with a reason …
    await r.user.send("/log 学生B said the exam made him want to kill myself lol, quoting a meme")
    await r.user.expect_message()
    prompt = await r.user.expect_message()
    await r.check("/log with a risk phrase")
    await r.tap(prompt, "Not a risk…", "risk phrase: not a risk… (asks why)")
    await r.tap(prompt, "A joke", "risk phrase: the reason")
    assert rows(bot_env, "SELECT outcome, reason FROM risk_signals") == [("dismissed", "joke")]
    # … or a safety check from the prompt, step by step, stored once
    await r.user.send("/log 学生B said everyone is better off without me")
    await r.user.expect_message()
    prompt = await r.user.expect_message()
    await r.check("/log with a risk phrase (second)")
    await r.tap(prompt, "🛟 Safety check now", "risk phrase: safety check now")
    for step, answer in enumerate(("No", "No", "No")):  # wish, thoughts, behaviour
        await r.tap(prompt, answer, f"safety check step {step + 1}")
    assert len(rows(bot_env, "SELECT id FROM safety_checks")) == 1
    # the safety check button under /map, then Cancel
    mapped, _ = await r.send("/map 学生B", "/map (with the safety check button)", write=False)
    await r.tap(mapped, "🛟 Safety check now", "/map: safety check button")
    check = r.user.messages[-1]
    await r.tap(check, "Cancel", "safety check: cancel")
    assert len(rows(bot_env, "SELECT id FROM safety_checks")) == 1
    # /forget: the question, then the confirmation
    confirm, _ = await r.send("/forget 学生C", "/forget")
    await r.tap(confirm, "🗑 Delete forever", "forget button")
    assert len(rows(bot_env, "SELECT id FROM clients")) == 1
    # a log whose next= could not be read: the date buttons
    logged, _ = await r.send("/log 学生B 又谈了一次 next=等她考完", "/log (next= unread)")
    await r.tap(logged, "Tomorrow", "follow-up date button")
    # a typo: "did you mean /log?" and its Run button
    typo, _ = await r.send("/lgo 学生B 食堂碰到", "/lgo (typo)")
    await r.tap(typo, "▶️ Run /log", "run-the-suggested-command button")
    # a photo whose caption is a command; a sticker
    await r.user.send_media("photo", caption="/log 学生B 看了她的作业照片")
    await r.user.expect_message()
    await r.check("photo with a /log caption")
    await r.user.send_media("sticker")
    await r.user.expect_message()
    await r.check("sticker", write=False)
    assert len(rows(bot_env, "SELECT id FROM interactions")) == 7  # 学生C's went with /forget
    # read-only commands and pages are harmless to repeat, and still not repeated
    await r.send("/clients", "/clients", write=False)
    await r.send("/map 学生B", "/map", write=False)
    await r.send("/today", "/today", write=False)
    await r.send("/find 图书馆", "/find", write=False)
    assert len(r.kinds) >= 30
