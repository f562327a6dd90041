"""Every malformed command gets a clear reply, and nothing changes in the database."""

from __future__ import annotations

import pytest

from tests.e2e.test_core_loop import admin_ready, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# (command, a fragment the reply must contain)
MALFORMED = [
    ("/new", "/new"),
    ("/new 123", "number"),
    ("/new #班干部", "/new"),
    ("/new 王芳 foo=bar", "foo"),
    ('/new "王芳', "quote"),
    ("/new 王芳 extra words", "quote"),
    ("/new 王芳 #" + "t" * 40, "32"),
    ("/log", "/log"),
    ("/log 王芳", "/log"),
    ("/log 王芳 talked trust=9", "9"),
    ("/log 王芳 talked sat=0", "0"),
    ("/log 王芳 talked risk=extreme", "extreme"),
    ("/log 王芳 talked via=telepathy", "telepathy"),
    ("/log 王芳 talked trust=3 trust=4", "trust"),
    ("/log nobody talked", "nobody"),
    ("/status 王芳 trust=abc", "abc"),
    ("/status 王芳 risk=", "risk"),
    ("/goal 王芳", "/goal"),
    ("/plan 王芳", "/plan"),
    ("/plan 王芳 tomorrow", "/plan"),
    ("/map", "/map"),
    ("/map nobody", "nobody"),
    ("/lang fr", "fr"),
    ("/frobnicate", "/help"),
    ("/log " + "长" * 4090 + " note", "/new"),
    ("/log 王芳 talked trust=" + "9" * 4080, "trust"),
    ("/plan 王芳 " + "x" * 4080 + " call", "/plan"),
]


async def test_malformed_commands_get_clear_replies_and_change_nothing(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 王芳")
    await admin.expect_message()
    before = table_counts(bot_env.db_path)
    assert len(MALFORMED) >= 20
    for command, fragment in MALFORMED:
        await admin.send(command)
        reply = await admin.expect_message()
        assert fragment.lower() in reply.text.lower(), (command, reply.text)
        assert "went wrong" not in reply.text, command
        assert table_counts(bot_env.db_path) == before, command
    assert bot_env.server.errors == []


async def test_malformed_commands_in_chinese(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/new 王芳")
    await admin.expect_message()
    before = table_counts(bot_env.db_path)
    for command in (
        "/log 王芳 聊了 trust=9",
        "/plan 王芳 下下下周",
        "/new",
        "/status 王芳 risk=很高",
    ):
        await admin.send(command)
        reply = await admin.expect_message()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in reply.text), command
        assert "/" in reply.text, command
    assert table_counts(bot_env.db_path) == before


@pytest.mark.real_pacing  # a 429 and its retry_after, through the production budget
async def test_reply_survives_a_429(bot_env):
    admin = await admin_ready(bot_env)
    bot_env.server.fail_next(1, retry_after=1)
    await admin.send("/clients")
    reply = await admin.expect_message(timeout=30)
    assert "no clients yet" in reply.text
    refused = [c for c in bot_env.server.calls if c.status == 429]
    assert len(refused) == 1
