"""End to end: CAREMAP_MODE=practice — `/status … pay=… capacity=…` sets the value-tier
inputs and /map shows the value tier; on campus the options are refused and no value tier
is shown."""

from __future__ import annotations

import pytest
import pytest_asyncio

from bootstrap import assemble
from tests.conftest import ADMIN_ID, BotEnv, fast_limiter
from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest_asyncio.fixture
async def practice_env(fake_api, tmp_path, clock):
    from bootstrap.database import open_database
    from bootstrap.settings import Settings
    from bot.app import build_application
    from tests.e2e.harness import running_bot

    db_path = tmp_path / "caremap.db"
    settings = Settings(
        token=fake_api.token,
        api_base_url=fake_api.base_url,
        database_url=f"sqlite+pysqlite:///{db_path}",
        admin_ids=frozenset({ADMIN_ID}),
        timezone="Asia/Shanghai",
        mode="practice",
    )
    db = open_database(settings)
    app = build_application(assemble(settings, db, clock=clock), jobs=False, limiter=fast_limiter())
    env = BotEnv(server=fake_api, db=db, clock=clock, db_path=db_path, app=app)
    try:
        async with running_bot(app, fake_api):
            yield env
    finally:
        db.dispose()


async def test_practice_mode_value_tier(practice_env):
    admin = await admin_ready(practice_env, lang="zh-hans")
    await admin.send("/new 来访者甲")
    await admin.expect_message()
    await admin.send("/map 来访者甲")
    m = (await admin.expect_message(contains="关系图")).text
    assert "价值分级（私人执业）：–" in m  # on, but nothing recorded yet
    await admin.send("/status 来访者甲 pay=自费 capacity=4")
    await admin.expect_message()
    await admin.send("/map 来访者甲")
    m = (await admin.expect_message(contains="关系图")).text
    assert "价值分级（私人执业）：V1" in m
    await admin.send("/status 来访者甲 pay=医保 capacity=2")
    await admin.expect_message()
    await admin.send("/map 来访者甲")
    assert "价值分级（私人执业）：V2" in (await admin.expect_message(contains="关系图")).text
    await admin.send("/status 来访者甲 capacity=1")
    await admin.expect_message()
    await admin.send("/map 来访者甲")
    assert "价值分级（私人执业）：V3" in (await admin.expect_message(contains="关系图")).text


async def test_campus_refuses_value_inputs(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    await admin.send("/status 王芳 pay=self capacity=4")
    assert "private practice only" in (await admin.expect_message()).text
    await admin.send("/map 王芳")
    m = (await admin.expect_message(contains="Relationship map")).text
    assert "Value tier" not in m
