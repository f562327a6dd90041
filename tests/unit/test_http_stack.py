"""The Bot API client's hot path: httpcore (under python-telegram-bot's httpx) asks
`import sniffio` several times per request. Without the package every ask is a failed
import that searches sys.path (tens of microseconds, and the import lock, on every
message sent); pyproject.toml lists it so the import is a dictionary hit."""

from __future__ import annotations

import asyncio
import sys


def test_httpcore_finds_sniffio_without_searching_sys_path_again() -> None:
    from httpcore._synchronization import current_async_library

    async def library() -> str:
        return current_async_library()

    assert asyncio.run(library()) == "asyncio"
    # imported once, then found in sys.modules by every later request
    assert "sniffio" in sys.modules, "pip install sniffio (pyproject.toml lists it)"
