"""Run an already-built PTB ``Application`` against the fake Bot API server.

Usage::

    app = build_application(settings, ...)   # built with base_url=server.base_url
    async with running_bot(app, server) as app:
        user = server.user(1001, "Ann")
        await user.send("/start")
        reply = await user.expect_message()

This module must not import the product's ``bot`` package: it only drives a
``telegram.ext.Application`` it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from telegram.ext import Application, ApplicationBuilder

from bot.fakeapi.server import FakeTelegramServer

__all__ = ["application_builder", "block_on_message", "db_rows", "running_bot"]

_LOG = logging.getLogger(__name__)


def application_builder(server: FakeTelegramServer) -> ApplicationBuilder:
    """An ``ApplicationBuilder`` already pointed at ``server`` (token, base URLs).

    Handy for tests that assemble a tiny Application themselves."""
    return (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )


@contextlib.asynccontextmanager
async def running_bot(
    app: Application[Any, Any, Any, Any, Any, Any],
    server: FakeTelegramServer,
    *,
    poll_timeout: float = 1.0,
    allowed_updates: list[str] | None = None,
    stop_timeout: float = 5.0,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """initialize() + start() the Application and poll ``server`` until the block exits.

    On exit the updater, the application and its bot are stopped and shut down; the
    pending long poll is cancelled by PTB (and the server never holds a poll longer than
    ``poll_timeout``), so teardown takes well under a second.
    """
    if not app.bot.base_url.startswith(server.base_url):
        raise ValueError(
            f"application talks to {app.bot.base_url!r}, not to the fake server "
            f"{server.base_url!r}: build it with .base_url(server.base_url)"
        )
    if app.updater is None:
        raise ValueError("the Application has no Updater; build it without .updater(None)")
    await app.initialize()
    try:
        await app.start()
        try:
            await app.updater.start_polling(
                poll_interval=0.0,
                timeout=poll_timeout,
                drop_pending_updates=False,
                allowed_updates=allowed_updates,
            )
            try:
                yield app
            finally:
                await asyncio.wait_for(_stop_updater(app), stop_timeout)
        finally:
            if app.running:
                await asyncio.wait_for(app.stop(), stop_timeout)
    finally:
        await asyncio.wait_for(app.shutdown(), stop_timeout)


async def _stop_updater(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    updater = app.updater
    if updater is not None and updater.running:
        await updater.stop()


def db_rows(env: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the bot's SQLite file (read beside the running bot, as an operator would)."""
    import sqlite3

    con = sqlite3.connect(env.db_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def block_on_message(server: FakeTelegramServer, user: Any, contains: str) -> asyncio.Future[None]:
    """``user`` blocks the bot the moment the bot's message containing ``contains`` reaches
    them, so whatever the bot sends after it (an alert follows its reply at once) meets the
    block — at any send pace. Driven by the fake's observer (the block starts before the
    bot even has the answer to that send); the future is done once the user has blocked."""
    loop = asyncio.get_running_loop()
    blocked: asyncio.Future[None] = loop.create_future()

    async def block() -> None:
        try:
            await user.block()
        except BaseException as exc:  # noqa: BLE001 - handed to the test through the future
            blocked.set_exception(exc)
        else:
            blocked.set_result(None)

    def observe(event: Any) -> None:
        if (
            event.kind == "message"
            and event.from_bot
            and event.chat_id == user.chat_id
            and contains in (event.message.text or "")
        ):
            unsubscribe()
            tasks.append(loop.create_task(block()))

    tasks: list[asyncio.Task[None]] = []  # a reference, so the task is not collected
    unsubscribe = server.subscribe(observe)
    return blocked
