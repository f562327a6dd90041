"""Strict fake Telegram Bot API server (aiohttp, loopback): the e2e tests and `python -m bot demo` (see server.py)."""

from .html import HtmlParseError, parse_html, utf16_len
from .server import (
    DEFAULT_TOKEN,
    SEND_METHODS,
    ApiError,
    CallbackAnswer,
    CallRecord,
    FakeGroup,
    FakeTelegramServer,
    FakeUser,
    MessageView,
    ServerEvent,
)

__all__ = [
    "DEFAULT_TOKEN",
    "SEND_METHODS",
    "ApiError",
    "CallRecord",
    "CallbackAnswer",
    "FakeGroup",
    "FakeTelegramServer",
    "FakeUser",
    "HtmlParseError",
    "MessageView",
    "ServerEvent",
    "parse_html",
    "utf16_len",
]
