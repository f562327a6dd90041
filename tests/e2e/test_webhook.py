"""Issue 10 (stretch): webhook mode. Telegram POSTs each update; the bot answers 200 only
once the update is committed to the inbox, so a refused or failed insert makes Telegram
send it again — and it is still handled once."""

from __future__ import annotations

import socket
import sqlite3

import aiohttp
import pytest

from bootstrap import assemble
from bot.inbox import Webhook, serving, webhook_secret
from tests.conftest import ADMIN_ID, fast_limiter

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def webhook_bot(fake_api, tmp_path, clock):
    from bootstrap.database import open_database
    from bootstrap.settings import Settings
    from bot.app import build_application

    db_path = tmp_path / "caremap.db"
    settings = Settings(
        token=fake_api.token,
        api_base_url=fake_api.base_url,
        database_url=f"sqlite+pysqlite:///{db_path}",
        admin_ids=frozenset({ADMIN_ID}),
    )
    db = open_database(settings)
    app = build_application(assemble(settings, db, clock=clock), jobs=False, limiter=fast_limiter())
    port = free_port()
    hook = Webhook(
        f"http://127.0.0.1:{port}/caremap/hook",
        ("127.0.0.1", port),
        webhook_secret(None, fake_api.token),
    )
    try:
        async with serving(app, db, clock, webhook=hook) as inbox:
            yield inbox, hook, db_path
    finally:
        db.dispose()


def count(db_path, sql):
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


async def test_updates_arrive_by_webhook_and_200_means_stored(fake_api, webhook_bot, monkeypatch):
    inbox, hook, db_path = webhook_bot
    assert (await fake_api.webhook_info())["url"] == hook.url
    admin = fake_api.user(ADMIN_ID, "Li", language_code="en")
    await admin.send("/start")
    assert "Welcome" in (await admin.expect_message()).text
    await admin.send("/new 学生B")
    await admin.expect_message()
    # the next insert fails: the bot answers 500, the fake (as Telegram) sends it again
    store, failed = inbox._store, []

    def failing_once(batch):
        if not failed:
            failed.append(batch[0][0])
            raise RuntimeError("database unavailable")
        return store(batch)

    monkeypatch.setattr(inbox, "_store", failing_once)
    await admin.send("/log 学生B 在图书馆碰到")
    assert (await admin.expect_message()).text.startswith("✅ Logged for #1 学生B")
    statuses = [status for update_id, status in fake_api.webhook_posts if update_id == failed[0]]
    assert statuses == [500, 200]
    assert count(db_path, "SELECT count(*) FROM interactions") == 1
    assert all(status == 200 for uid, status in fake_api.webhook_posts if uid != failed[0])
    # getUpdates is refused while the webhook is set (as Telegram does)
    assert not [c for c in fake_api.calls if c.method == "getUpdates" and c.status == 200]


async def test_a_post_without_the_secret_is_refused_and_stores_nothing(fake_api, webhook_bot):
    inbox, hook, db_path = webhook_bot
    update = {
        "update_id": 5,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "from": {"id": 1, "is_bot": False, "first_name": "x"},
            "text": "/start",
        },
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(hook.url, json=update) as response:
            assert response.status == 403
        async with session.post(
            hook.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
        ) as response:
            assert response.status == 403
        async with session.post(
            hook.url, data=b"not json", headers={"X-Telegram-Bot-Api-Secret-Token": hook.secret}
        ) as response:
            assert response.status == 400
    assert count(db_path, "SELECT count(*) FROM inbox") == 0
