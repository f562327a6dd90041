"""The strict fake Telegram Bot API now lives in the package (`bot.fakeapi`), shared by the
e2e tests and `python -m bot demo`; this package keeps the test fixtures and unit tests."""

from bot.fakeapi import (
    DEFAULT_TOKEN,
    SEND_METHODS,
    ApiError,
    CallbackAnswer,
    CallRecord,
    FakeGroup,
    FakeTelegramServer,
    FakeUser,
    HtmlParseError,
    MessageView,
    parse_html,
    utf16_len,
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
