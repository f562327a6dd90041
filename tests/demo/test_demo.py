"""`python -m bot demo` without a browser: the seed, reset, the clock, the page's socket."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.demo import seed
from bot.demo.runtime import DemoClock, DemoRuntime
from bot.demo.web import DemoWeb
from services import clients, invites


async def test_first_start_seeds_the_class_and_the_invited_colleague(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/never-used")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    runtime = DemoRuntime(tmp_path)
    await runtime.start()
    try:
        assert (tmp_path / "caremap-demo.db").exists()
        db, now = runtime.db, runtime.clock()
        admin = invites.find_counsellor(db, seed.ADMIN_ID)
        second = invites.find_counsellor(db, seed.SECOND_ID)
        assert admin.is_admin and admin.display_name == "小李"
        assert second is not None and not second.is_admin  # joined through /invite + /start <code>
        assert invites.find_counsellor(db, seed.STRANGER_ID) is None

        rows = clients.caseload(db, admin, now)
        assert len(rows) == seed.CLASS_SIZE
        assert rows[0].client.name == "学生B"  # most urgent first
        assert clients.caseload(db, second, now) == []
        names = [r.client.name for r in rows]
        assert len(set(names)) == len(names)
        sids = [r.client.sid for r in rows]  # a student number is one student's
        assert None not in sids and len(set(sids)) == len(sids)

        a = clients.relationship_map(db, admin, "学生A", now).map
        b = clients.relationship_map(db, admin, "学生B", now).map
        # as the seed tells them (issue 15): A trusts 小李, has the ACM team, a senior study
        # partner, a study plan with a fortnightly review and a check on the team in a month
        assert (
            "入学成绩优异" in a.client.strengths
            and a.client.trust == 5
            and a.client.risk.value == "low"
        )
        assert {"贫困生", "挂科"} <= set(b.client.tags) and b.client.trust == 1
        assert b.client.risk.value == "high" and b.client.major == "市场营销"
        assert a.interaction_count == 2 and b.interaction_count == 2  # B: one talk went badly
        assert {r.resource for r in a.referrals} == {
            "competition_team",
            "study_partner",
            "study_plan",
        }
        assert {r.resource for r in b.referrals} == {"tutoring", "work_study", "counselling_centre"}
        a_due = sorted(p.due_at for p in a.plan if p.due_at is not None)
        b_due = sorted(p.due_at for p in b.plan if p.due_at is not None)
        assert len(a_due) == 2 and timedelta(days=10) < a_due[0] - now < timedelta(
            days=12
        )  # fortnightly
        assert timedelta(days=17) < a_due[1] - now < timedelta(days=19)  # the team, a month on
        assert len(b_due) == 2 and timedelta(0) < b_due[0] - now <= timedelta(
            days=4
        )  # this week's talk
        assert timedelta(days=6) < b_due[1] - now <= timedelta(days=7)  # weekly
        a_series = [s.every.code for s in clients.relationship_map(db, admin, "学生A", now).series]
        b_series = list(clients.relationship_map(db, admin, "学生B", now).series)
        assert a_series == ["2w"] and [s.every.code for s in b_series] == ["1w"]
        assert b_series[0].stop_below.value == "high"  # ends when she is back on track

        admin_chat = [m.text for m in runtime.user(seed.ADMIN_ID).history]
        assert admin_chat[0] == "/start" and admin_chat[2] == "/invite"
        assert any("学生B" in t for t in admin_chat[3:]), admin_chat  # /clients
        assert any(
            "王老师" in t and "加入" in t for t in admin_chat
        )  # the inviter is told (issue 13)
        second_chat = [m.text for m in runtime.user(seed.SECOND_ID).history]
        assert second_chat[0].startswith("/start ") and "王老师" in second_chat[1]
        assert runtime.server.errors == []
        assert runtime.server.menu_commands(seed.ADMIN_ID, "zh")
    finally:
        await runtime.stop()


async def test_restart_keeps_the_data_and_reset_seeds_again(tmp_path: Path):
    runtime = DemoRuntime(tmp_path)
    await runtime.start()
    try:
        admin = runtime.user(seed.ADMIN_ID)
        await admin.send("/new 新来的同学")
        await admin.expect_message(contains="新来的同学", skip_others=True)
        await runtime.stop()

        await runtime.start()  # a second start: same database, nothing seeded twice
        counsellor = invites.find_counsellor(runtime.db, seed.ADMIN_ID)
        assert len(clients.caseload(runtime.db, counsellor, runtime.clock())) == seed.CLASS_SIZE + 1
        assert runtime.user(seed.ADMIN_ID).history == []

        runtime.clock.advance(timedelta(days=3))
        await runtime.reset()
        counsellor = invites.find_counsellor(runtime.db, seed.ADMIN_ID)
        assert len(clients.caseload(runtime.db, counsellor, runtime.clock())) == seed.CLASS_SIZE
        assert runtime.clock.offset == timedelta(0)
        assert runtime.user(seed.ADMIN_ID).history[0].text == "/start"
    finally:
        await runtime.stop()


def test_the_demo_clock_only_moves_forward():
    clock = DemoClock()
    before = clock()
    after = clock.advance(timedelta(days=1))
    assert timedelta(hours=23) < after - before < timedelta(days=1, minutes=1)
    with pytest.raises(ValueError):
        clock.advance(timedelta(hours=-1))


async def test_page_socket_pushes_state_and_chat_events(tmp_path: Path):
    demo = DemoWeb(tmp_path, port=0)
    await demo.start()
    try:
        assert demo.url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            async with http.get(demo.url + "/") as resp:
                assert resp.status == 200 and "chat.js" in await resp.text()
            for name in ("chat.js", "chat.css"):
                async with http.get(f"{demo.url}/static/{name}") as resp:
                    assert resp.status == 200
            async with http.get(demo.url + "/static/..%2F__main__.py") as resp:
                assert resp.status == 404
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await http.ws_connect(demo.url + "/ws", headers={"Origin": "https://evil.example"})

            async with http.ws_connect(demo.url + "/ws", headers={"Origin": demo.url}) as ws:
                state = await ws.receive_json(timeout=30)
                assert state["type"] == "state"
                assert [p["name"] for p in state["people"]] == ["小李", "王老师", "Alex"]
                first = state["chats"][str(seed.ADMIN_ID)][1]
                assert first["from_bot"] and "小李" in first["text"] and first["entities"]
                assert "html" not in first  # the page gets plain text + entities only
                assert state["menus"][str(seed.ADMIN_ID)]["zh"]

                await ws.send_json({"type": "send", "user": seed.STRANGER_ID, "text": "hello <b>"})
                seen = [await ws.receive_json(timeout=30) for _ in range(2)]
                assert (
                    seen[0]["message"]["text"] == "hello <b>" and not seen[0]["message"]["from_bot"]
                )
                assert (
                    seen[1]["message"]["from_bot"]
                    and seen[1]["message"]["chat_id"] == seed.STRANGER_ID
                )

                await ws.send_json({"type": "lang", "user": seed.STRANGER_ID, "lang": "zh"})
                assert (await ws.receive_json(timeout=30))["lang"] == "zh"
                assert demo.runtime.user(seed.STRANGER_ID).language_code == "zh"

                await ws.send_json({"type": "reset"})  # ↺: everything seeded again
                kinds = []
                while not kinds or kinds[-1] != "state":
                    kinds.append((await ws.receive_json(timeout=30))["type"])
                assert kinds[0] == "resetting"
                assert demo.runtime.user(seed.STRANGER_ID).history == []
                assert demo.runtime.user(seed.STRANGER_ID).language_code == "zh"  # kept
    finally:
        await demo.stop()


def test_dispatch_and_arguments(capsys):
    from bot.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--help"])
    assert exit_.value.code == 0
    assert "--port" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--port", "70000"])
    assert exit_.value.code == 2
