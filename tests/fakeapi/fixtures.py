"""pytest fixtures for the fake Bot API.

Import them into a conftest.py::

    from tests.fakeapi.fixtures import fake_api  # noqa: F401

(or ``pytest_plugins = ["tests.fakeapi.fixtures"]`` in the *root* tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from bot.fakeapi.server import FakeTelegramServer

__all__ = ["fake_api"]


@pytest_asyncio.fixture
async def fake_api() -> AsyncIterator[FakeTelegramServer]:
    """A started :class:`FakeTelegramServer` on 127.0.0.1 (random port), closed at teardown."""
    server = FakeTelegramServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
