"""Issue 12 (speed): a /log costs two commits through the inbox — storing the update, and
the handler's one transaction that claims it, writes the note and marks the inbox row
handled — not three; a command that writes nothing still has its row marked by the inbox.
Nothing is lost either way (tests/e2e/test_crash.py, test_replay.py)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from tests.e2e.harness import db_rows
from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _handled(env, update_id: int, timeout: float = 30.0) -> None:
    inbox = env.extra["inbox"]
    deadline = asyncio.get_running_loop().time() + timeout
    while update_id not in inbox.handled:
        assert asyncio.get_running_loop().time() < deadline, f"update {update_id} not handled"
        await asyncio.sleep(0.01)


async def _commits_for(env, user, text: str) -> tuple[int, int, str]:
    commits: list[int] = []

    def count(_conn) -> None:
        commits.append(1)

    event.listen(env.db.engine, "commit", count)
    try:
        await user.send(text)
        update_id = env.server.sent_updates[-1]["update_id"]
        reply = await user.expect_message(timeout=30)
        await _handled(env, update_id)
    finally:
        event.remove(env.db.engine, "commit", count)
    return len(commits), update_id, reply.text


async def test_a_log_commits_twice_and_its_claim_marks_the_inbox_row(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message(timeout=30)
    await _handled(bot_env, bot_env.server.sent_updates[-1]["update_id"])

    commits, update_id, text = await _commits_for(
        bot_env, admin, "/log 王芳 talked about the exams"
    )
    assert "王芳" in text
    assert commits == 2  # the inbox storing the update; the handler's claim + note + mark
    assert db_rows(
        bot_env,
        f"SELECT handled_at IS NOT NULL, payload_enc FROM inbox WHERE update_id = {update_id}",
    ) == [(1, None)]
    assert db_rows(
        bot_env, f"SELECT count(*) FROM processed_updates WHERE update_id = {update_id}"
    ) == [(1,)]

    # a read (nothing claimed): the inbox marks the row itself, in a transaction of its own
    commits, update_id, _text = await _commits_for(bot_env, admin, "/clients")
    assert commits == 2
    assert db_rows(
        bot_env,
        f"SELECT handled_at IS NOT NULL, payload_enc FROM inbox WHERE update_id = {update_id}",
    ) == [(1, None)]
