"""An update id is not an update: Telegram numbers updates afresh (at random after a week
without updates; a bot moved to a new token starts its own sequence), so an id the database
has seen before can arrive again carrying a new message. Found in the demo: restarted on its
old data, its fake Bot API numbered updates from the start again, and a `/log` was skipped
as "handled before" — no reply, nothing saved.

The bot runs as `python -m bot` runs it (the inbox), stops, and starts again on the same
database after the fake has restarted its update ids; the same update delivered again
(test_replay.py) still changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bootstrap import assemble
from bootstrap.database import open_database
from bootstrap.settings import Settings
from bot.app import build_application
from bot.inbox import serving
from tests.conftest import ADMIN_ID

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@contextlib.asynccontextmanager
async def running(fake_api, db, settings, clock):
    app = build_application(assemble(settings, db, clock=clock), jobs=False)
    async with serving(app, db, clock, poll_timeout=1.0) as inbox:
        yield inbox


def settings_for(fake_api, tmp_path) -> Settings:
    """As `python -m bot` runs against the fake, on a SQLite file that outlives each run."""
    return Settings(
        token=fake_api.token,
        api_base_url=fake_api.base_url,
        database_url=f"sqlite+pysqlite:///{tmp_path / 'caremap.db'}",
        admin_ids=frozenset({ADMIN_ID}),
        timezone="Asia/Shanghai",
    )


def count(db, sql: str) -> int:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar_one()


async def test_a_new_update_with_a_used_id_is_handled_not_skipped(fake_api, tmp_path, clock):
    settings = settings_for(fake_api, tmp_path)
    db = open_database(settings)
    admin = fake_api.user(ADMIN_ID, "Li", language_code="zh")
    try:
        async with running(fake_api, db, settings, clock):
            await admin.send("/start")
            first = fake_api.sent_updates[-1]["update_id"]
            await admin.expect_message()
            await admin.send("/new 陈晨")
            await admin.expect_message()
            await admin.send("/log 陈晨 第一次谈话，说起家里的事")
            logged = fake_api.sent_updates[-1]["update_id"]
            assert "第 1 次谈话" in (await admin.expect_message()).text
            await fake_api.idle()
        assert count(db, "SELECT count(*) FROM interactions") == 1
        used = count(db, "SELECT count(*) FROM processed_updates")
        assert used >= 2  # /new and /log claimed their ids

        # a week later, a new sequence: the next ids are the ones used above
        fake_api.restart_update_ids(first)
        async with running(fake_api, db, settings, clock):
            await admin.send("/log 陈晨 第二次谈话，睡眠好些了")
            assert fake_api.sent_updates[-1]["update_id"] <= logged  # an id used before
            reply = await admin.expect_message(timeout=60)
            assert "第 2 次谈话" in reply.text, reply.text
            await admin.send("/log 陈晨 第三次谈话")
            assert "第 3 次谈话" in (await admin.expect_message(timeout=60)).text
            await fake_api.idle()
        assert count(db, "SELECT count(*) FROM interactions") == 3
    finally:
        db.dispose()


async def test_claims_and_handled_rows_are_forgotten_at_start(fake_api, tmp_path, clock):
    """processed_updates grew for ever (one row per write), and in webhook mode the inbox
    did too: both are pruned at start and every hour, polling or not."""
    settings = settings_for(fake_api, tmp_path)
    db = open_database(settings)
    admin = fake_api.user(ADMIN_ID, "Li", language_code="zh")
    try:
        async with running(fake_api, db, settings, clock):
            await admin.send("/start")
            await admin.expect_message()
            await admin.send("/new 陈晨")
            await admin.expect_message()
            await fake_api.idle()
        assert count(db, "SELECT count(*) FROM processed_updates") >= 1
        assert count(db, "SELECT count(*) FROM inbox") == 2
        clock.advance(days=3)
        async with running(fake_api, db, settings, clock) as inbox:
            await asyncio.wait_for(inbox.pruned.wait(), 60)
            assert count(db, "SELECT count(*) FROM inbox") == 0  # handled, 2 days on
            assert count(db, "SELECT count(*) FROM processed_updates") >= 1  # a week
        clock.advance(days=5)
        async with running(fake_api, db, settings, clock) as inbox:
            await asyncio.wait_for(inbox.pruned.wait(), 60)
            assert count(db, "SELECT count(*) FROM processed_updates") == 0
    finally:
        db.dispose()
