"""Strict fake Telegram Bot API server (aiohttp, loopback): the e2e tests and `python -m bot demo`.

`server.FakeTelegramServer` is the façade. Behind it: `routing` (HTTP, method dispatch),
`methods` and `delivery` (the Bot API methods; getUpdates and the webhook), `validation`
and `flood` (what Telegram refuses, with its exact error texts), `state` (chats, messages,
the updates queue, events and observers), `handles` (simulated users and groups),
`records` (the value types tests read) and `html` (Telegram's HTML entity parser).
"""

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
