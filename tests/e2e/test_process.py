"""`python -m bot` as an operator runs it: only a token (and the API address), SQLite default."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_python_m_bot_runs_on_the_sqlite_default(fake_api, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "CAREMAP_", "DATABASE_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=fake_api.token,
        TELEGRAM_API_BASE_URL=fake_api.base_url,
        CAREMAP_ADMIN_IDS="1001",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        admin = fake_api.user(1001, "Li", language_code="zh-hans")
        await admin.send("/start")
        welcome = await admin.expect_message(timeout=30)
        assert "欢迎" in welcome.text
        await admin.send("/new 王芳 #班干部")
        assert "#1 王芳" in (await admin.expect_message(timeout=30)).text
        assert fake_api.commands(language_code="zh", scope="all_private_chats")
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert (tmp_path / "caremap.db").exists()
    key = tmp_path / "caremap.db.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    assert "generated a new encryption key" in log
    assert fake_api.token.split(":")[1] not in log  # the token never reaches the log
    assert "王芳" not in log and "班干部" not in log
