"""Strict fake Telegram Bot API server for end-to-end tests (see server.py)."""

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
    "parse_html",
    "utf16_len",
]
