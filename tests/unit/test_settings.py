"""Configuration: every bad setting stops the bot with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap.settings import ConfigError, load_settings

TOKEN = "123456:ABCdef"


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}, dotenv=None)
    assert s.api_base_url == "https://api.telegram.org/bot"
    assert s.database_url == f"sqlite+pysqlite:///{tmp_path / 'caremap.db'}"
    assert s.timezone == "Asia/Shanghai" and s.tick_seconds == 30 and s.admin_ids == frozenset()


def test_values_and_dotenv(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text('TELEGRAM_BOT_TOKEN="123:fromfile"\nCAREMAP_ADMIN_IDS=1, 2;3\n# comment\n')
    s = load_settings(
        {"CAREMAP_TIMEZONE": "Europe/London", "CAREMAP_TICK_SECONDS": "5"}, dotenv=env_file
    )
    assert s.token == "123:fromfile" and s.admin_ids == frozenset({1, 2, 3})
    assert s.timezone == "Europe/London" and s.tick_seconds == 5
    s2 = load_settings(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": "postgres://u@h/db"}, dotenv=None
    )
    assert s2.database_url.startswith("postgresql+psycopg://")


def test_the_process_environment_and_dotenv(tmp_path, monkeypatch):
    """The real path (pydantic-settings): the environment wins over .env, lists are not JSON."""
    for name in [n for n in os.environ if n.startswith(("TELEGRAM_", "CAREMAP_", "DATABASE_"))]:
        monkeypatch.delenv(name)
    env_file = tmp_path / ".env"
    env_file.write_text("TELEGRAM_BOT_TOKEN=123:fromfile\nCAREMAP_TIMEZONE=Europe/London\n")
    monkeypatch.setenv("CAREMAP_ADMIN_IDS", " 1, 2;3 ")
    monkeypatch.setenv("CAREMAP_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("CAREMAP_WEBHOOK_LISTEN", "127.0.0.1:8443")
    s = load_settings(dotenv=env_file)
    assert s.token == "123:fromfile" and s.admin_ids == frozenset({1, 2, 3})
    assert s.timezone == "Asia/Tokyo" and s.webhook_listen == ("127.0.0.1", 8443)
    monkeypatch.setenv("CAREMAP_ADMIN_IDS", "12,abc")
    with pytest.raises(ConfigError) as info:
        load_settings(dotenv=env_file)
    assert str(info.value).startswith("CAREMAP_ADMIN_IDS must be comma-separated")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "no colon"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "CAREMAP_TIMEZONE": "Mars/Olympus"}, "CAREMAP_TIMEZONE"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "CAREMAP_ADMIN_IDS": "12,abc"}, "CAREMAP_ADMIN_IDS"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "CAREMAP_TICK_SECONDS": "soon"}, "CAREMAP_TICK_SECONDS"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "CAREMAP_TICK_SECONDS": "0"}, "CAREMAP_TICK_SECONDS"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "CAREMAP_RULES": "/nonexistent.toml"}, "CAREMAP_RULES"),
        (
            {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "ftp://x"},
            "TELEGRAM_API_BASE_URL",
        ),
    ],
)
def test_bad_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as info:
        load_settings(env, dotenv=None)
    assert str(info.value).startswith(variable)


def _run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "CAREMAP_", "DATABASE_"))
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_bot_without_token_prints_one_line(tmp_path):
    proc = _run_bot(tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0] and "Traceback" not in proc.stderr


def test_python_m_bot_postgres_without_key_refuses(tmp_path):
    proc = _run_bot(
        tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, DATABASE_URL="postgresql+psycopg://u@127.0.0.1:1/x"
    )
    assert proc.returncode == 2
    assert "CAREMAP_SECRET_KEY" in proc.stderr and "Traceback" not in proc.stderr


def test_python_m_bot_bad_rule_file(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("version = 1\n[tiers.crisis]\nrespond_within_hours = 0\n")
    proc = _run_bot(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, CAREMAP_RULES=str(rules))
    assert proc.returncode == 2
    assert "CAREMAP_RULES" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "caremap.db").exists()


def test_python_m_reminders_refuses_sqlite_with_one_line(tmp_path):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "CAREMAP_", "DATABASE_"))
    }
    clean["TELEGRAM_BOT_TOKEN"] = TOKEN
    proc = subprocess.run(
        [sys.executable, "-m", "reminders"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "PostgreSQL" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "caremap.db").exists()


def test_webhook_settings():
    s = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}, dotenv=None)
    assert s.webhook_url is None and s.webhook_listen == ("0.0.0.0", 8080)
    s = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "CAREMAP_WEBHOOK_URL": "https://bot.example.edu/hook",
            "CAREMAP_WEBHOOK_LISTEN": "127.0.0.1:8443",
            "CAREMAP_WEBHOOK_SECRET": "s3cr-et_",
        },
        dotenv=None,
    )
    assert s.webhook_url == "https://bot.example.edu/hook" and s.webhook_listen == (
        "127.0.0.1",
        8443,
    )
    assert s.webhook_secret == "s3cr-et_"
    for env, variable in (
        ({"CAREMAP_WEBHOOK_URL": "ftp://x"}, "CAREMAP_WEBHOOK_URL"),
        ({"CAREMAP_WEBHOOK_LISTEN": "8080"}, "CAREMAP_WEBHOOK_LISTEN"),
        ({"CAREMAP_WEBHOOK_LISTEN": "0.0.0.0:99999"}, "CAREMAP_WEBHOOK_LISTEN"),
        ({"CAREMAP_WEBHOOK_SECRET": "has space"}, "CAREMAP_WEBHOOK_SECRET"),
    ):
        with pytest.raises(ConfigError, match=variable):
            load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, **env}, dotenv=None)
