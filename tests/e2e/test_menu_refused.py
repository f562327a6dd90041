"""If the Bot API refuses the command menu, the bot logs a warning and runs on."""

from __future__ import annotations

import logging

import pytest
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.app import set_command_menus
from tests.conftest import ADMIN_ID

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_menu_refused_logs_warning_and_bot_runs_on(bot_env, monkeypatch, caplog):
    async def refuse(self, *args, **kwargs):
        raise BadRequest("BOT_COMMAND_INVALID")

    monkeypatch.setattr(ExtBot, "set_my_commands", refuse)
    with caplog.at_level(logging.WARNING, logger="caremap.bot"):
        await set_command_menus(bot_env.app)
    warnings = [r for r in caplog.records if "command menu" in r.getMessage()]
    assert len(warnings) == 2  # one per language
    admin = bot_env.server.user(ADMIN_ID, "Li")
    await admin.send("/start")
    assert "Welcome" in (await admin.expect_message()).text
