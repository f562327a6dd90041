"""Delivery guarantees: restarts, a crash between send and mark, a 429 storm."""

from __future__ import annotations

import sqlite3

import pytest

from bootstrap import assemble
from bootstrap.database import open_database
from bootstrap.settings import Settings
from bot.app import build_application
from domain import grammar
from reminders.delivery import Deliverer, SimulatedCrash
from reminders.planner import plan_due_work
from reminders.ratelimit import SendLimiter
from reminders.tick import run_once
from rendering.render import default_renderer
from services import clients, invites, records
from services.grading import default_rules
from tests.conftest import ADMIN_ID
from tests.e2e.harness import running_bot

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
RULES = default_rules()


def _settings(server, db_path) -> Settings:
    return Settings(
        token=server.token,
        api_base_url=server.base_url,
        database_url=f"sqlite+pysqlite:///{db_path}",
        admin_ids=frozenset({ADMIN_ID}),
        timezone="Asia/Shanghai",
        tick_seconds=1,
    )


def _seed_counsellor(db, telegram_id, now, *, name="Li"):
    counsellor = invites.ensure_admin(db, telegram_id, name, now, "Asia/Shanghai")
    with db.uow(write=True) as uow:
        uow.counsellors.set_settings(counsellor.id, agenda_at=None)
    return invites.find_counsellor(db, telegram_id)


def _plan(db, counsellor, client_name, when_text, what, now, update_id):
    if not any(c.name == client_name for c in _clients(db, counsellor)):
        clients.add_client(
            db, counsellor, grammar.parse_new(client_name), now, update_id=None, rules=RULES
        )
    result = records.add_plan(
        db, counsellor, f"{client_name} {when_text} {what}", now, update_id=update_id, rules=RULES
    )
    assert isinstance(result, records.PlanAdded), result
    return result.item


def _clients(db, counsellor):
    with db.uow(write=False) as uow:
        return uow.clients_of(counsellor.id).list()


async def test_restart_delivers_what_came_due_while_down_once(fake_api, tmp_path, clock):
    db_path = tmp_path / "caremap.db"
    settings = _settings(fake_api, db_path)
    db = open_database(settings)
    admin = fake_api.user(ADMIN_ID, "Li", started=True)
    counsellor = _seed_counsellor(db, ADMIN_ID, clock())
    _plan(db, counsellor, "王芳", "1h", "call about the scholarship form", clock(), 1)

    app1 = build_application(assemble(settings, db, clock=clock))  # jobs on, as in production
    async with running_bot(app1, fake_api):
        jobs_first = sorted(j.name for j in app1.job_queue.jobs())
        await fake_api.idle(timeout=30, quiet=1.5)  # the tick ran: nothing is due yet
        assert not [m for m in admin.messages if "Follow-up" in m.text]
    # Down for two hours; the reminder came due meanwhile.
    clock.advance(hours=2)
    app2 = build_application(assemble(settings, db, clock=clock))
    async with running_bot(app2, fake_api):
        msg = await admin.expect_message(timeout=30, contains="Follow-up", skip_others=True)
        assert "scholarship form" in msg.text
        assert sorted(j.name for j in app2.job_queue.jobs()) == jobs_first  # no growth
        assert len(jobs_first) == 2
        await run_once(app2)
        await fake_api.idle(timeout=30, quiet=1.2)
    assert sum("scholarship form" in m.text for m in admin.messages) == 1
    db.dispose()


async def test_crash_between_send_and_mark_repeats_at_most_that_one(fake_api, tmp_path, clock):
    db_path = tmp_path / "caremap.db"
    settings = _settings(fake_api, db_path)
    db = open_database(settings)
    admin = fake_api.user(ADMIN_ID, "Li", started=True)
    counsellor = _seed_counsellor(db, ADMIN_ID, clock())
    for i, what in enumerate(("first follow-up", "second follow-up", "third follow-up")):
        _plan(db, counsellor, "王芳", "30m", what, clock(), 10 + i)
    clock.advance(hours=1)
    plan_due_work(db, clock())
    app = build_application(assemble(settings, db, clock=clock), jobs=False)
    async with running_bot(app, fake_api):
        crashed = []

        def crash_on_second(item):
            if item.dedupe_key.startswith("plan:2:") and not crashed:
                crashed.append(item.id)
                return True
            return False

        deliverer = Deliverer(
            db,
            app.bot,
            default_renderer(),
            clock,
            SendLimiter(),
            worker="w1",
            crash_after_send=crash_on_second,
        )
        with pytest.raises(SimulatedCrash):
            await deliverer.run()
        await fake_api.idle(timeout=30)
        # The process "restarts": a stale 'sending' row is claimed again after 5 minutes.
        fresh = Deliverer(db, app.bot, default_renderer(), clock, SendLimiter(), worker="w2")
        assert (await fresh.run()).sent == 0  # not stale yet: nothing is sent twice early
        clock.advance(minutes=6)
        stats = await fresh.run()
        assert stats.sent == 1
        await fake_api.idle(timeout=30)
    texts = [m.text for m in admin.messages]
    assert sum("first follow-up" in t for t in texts) == 1
    assert sum("second follow-up" in t for t in texts) == 2  # the one that crashed, at most twice
    assert sum("third follow-up" in t for t in texts) == 1
    con = sqlite3.connect(db_path)
    assert con.execute("select count(*) from outbox where status != 'sent'").fetchone()[0] == 0
    con.close()
    db.dispose()


async def test_429_storm_loses_nothing_and_sends_nothing_twice(fake_api, tmp_path, clock):
    db_path = tmp_path / "caremap.db"
    settings = _settings(fake_api, db_path)
    db = open_database(settings)
    users = {}
    for n in range(20):
        tid = 5000 + n
        users[tid] = fake_api.user(tid, f"C{n}", started=True)
        counsellor = _seed_counsellor(db, tid, clock(), name=f"C{n}")
        for k in range(5):
            _plan(db, counsellor, f"学生{n}", "10m", f"task {n}-{k}", clock(), None)
    clock.advance(minutes=20)
    fake_api.flood_fraction(0.1, retry_after=1, seed=7)
    # no injected limiter: the production send budget meets the 429s
    app = build_application(assemble(settings, db, clock=clock), jobs=False)
    async with running_bot(app, fake_api):
        counts = await run_once(app)
        await fake_api.idle(timeout=60)
    refused = [c for c in fake_api.calls if c.method == "sendMessage" and c.status == 429]
    assert refused, "the storm must have refused some sends"
    assert counts["sent"] == 100
    for n, (_tid, user) in enumerate(users.items()):
        texts = [m.text for m in user.messages]
        for k in range(5):
            assert sum(f"task {n}-{k}" in t for t in texts) == 1, (n, k)
    con = sqlite3.connect(db_path)
    assert con.execute("select count(*) from outbox where status = 'sent'").fetchone()[0] == 100
    con.close()
    db.dispose()
