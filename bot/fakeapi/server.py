"""A strict fake Telegram Bot API server (aiohttp, loopback) for the e2e tests and the demo.

Run it in the test's event loop::

    server = FakeTelegramServer()
    await server.start()
    app = ApplicationBuilder().token(server.token).base_url(server.base_url)
          .base_file_url(server.base_file_url).build()

It answers like Telegram does (same JSON envelope, same error descriptions) and is
deliberately strict so that bot bugs (bad HTML, over-long texts, bad callback data,
"message is not modified", unanswered callback queries, ...) surface in tests.

Observers (the demo's chat page) see every message, edit, deletion and callback answer as
it happens: ``unsubscribe = server.subscribe(callback)``; ``callback(event: ServerEvent)``
is called synchronously in the server's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import mimetypes
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .html import HtmlParseError, parse_html, utf16_len

__all__ = [
    "DEFAULT_TOKEN",
    "SEND_METHODS",
    "ApiError",
    "CallRecord",
    "CallbackAnswer",
    "FakeGroup",
    "FakeTelegramServer",
    "FakeUser",
    "MessageView",
    "ServerEvent",
]

_LOG = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAFakeTokenForCareMapTests_abcdefghij"
#: methods that the 429 policies apply to by default
SEND_METHODS = frozenset({"sendMessage", "sendDocument"})

MAX_TEXT = 4096
MAX_CAPTION = 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
INLINE_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
# Telegram's default when allowed_updates was never given / given as []
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND_AT_START = re.compile(r"/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{1,64})?")
_URL_RE = re.compile(r"(?:https?|tg)://[^\s]+", re.IGNORECASE)


# How long the test helpers wait for an event by default. Waits end as soon as the event
# happens, so a generous deadline costs nothing on a quick machine and spares a busy one.
WAIT = 30.0

class ApiError(Exception):
    """An error answered to the bot as ``{"ok": false, ...}``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call the bot made. ``t`` is ``time.monotonic()`` when it arrived."""

    method: str
    params: dict[str, Any]
    status: int
    t: float
    description: str | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class MessageView:
    """An immutable snapshot of one version of a message in a chat."""

    message_id: int
    chat_id: int
    text: str | None  # plain text (or caption) after entity parsing
    html: str | None  # the raw text/caption exactly as the bot sent it
    parse_mode: str | None
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None  # inline keyboard only (as Telegram echoes it)
    raw: dict[str, Any]  # the Message object as returned to the bot
    version: int = 0  # 0 = as sent, 1.. = after n edits
    document: dict[str, Any] | None = None
    file_bytes: bytes | None = None
    reply_keyboard: dict[str, Any] | None = None  # keyboard/remove_keyboard/force_reply sent
    photo: dict[str, Any] | None = None  # sendPhoto: the largest PhotoSize

    @property
    def caption(self) -> str | None:
        return self.text if self.document is not None or self.photo is not None else None

    @property
    def file_name(self) -> str | None:
        return self.document.get("file_name") if self.document else None

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Rows of ``(text, callback_data or url)`` of the inline keyboard."""
        if not self.reply_markup:
            return []
        return [
            [(b["text"], b.get("callback_data", b.get("url"))) for b in row]
            for row in self.reply_markup.get("inline_keyboard", [])
        ]

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    def entity_types(self) -> list[str]:
        return [e["type"] for e in self.entities]

    def find_button(self, key: str) -> dict[str, Any]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        flat = [b for row in rows for b in row]
        for button in flat:
            if button["text"] == key:
                return button
        for button in flat:
            if button.get("callback_data") == key:
                return button
        raise LookupError(
            f"message {self.message_id} has no inline button {key!r}; buttons: {self.buttons}"
        )


@dataclass(frozen=True)
class CallbackAnswer:
    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(frozen=True)
class ServerEvent:
    """What an observer (``server.subscribe``) is told.

    ``kind``: ``"message"`` (a new message, from the bot or from a user: see ``from_bot``),
    ``"edit"`` (``message`` is the new version), ``"delete"``, ``"callback_answer"``
    (``answer`` is set, ``message`` is the message whose button was tapped) or
    ``"commands"`` (setMyCommands/deleteMyCommands changed the command menus).
    """

    kind: str
    chat_id: int | None = None
    message: MessageView | None = None
    from_bot: bool = False
    answer: CallbackAnswer | None = None


@dataclass
class _StoredMessage:
    message_id: int
    from_bot: bool
    versions: list[MessageView] = field(default_factory=list)
    deleted: bool = False

    @property
    def current(self) -> MessageView:
        return self.versions[-1]


@dataclass
class _Chat:
    id: int
    type: str
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    title: str | None = None
    seen: bool = False  # the bot may write here (user started the bot / bot is in group)
    blocked: bool = False
    next_message_id: int = 1
    messages: dict[int, _StoredMessage] = field(default_factory=dict)
    bot_order: list[int] = field(default_factory=list)  # ids of bot messages in send order
    cursor: int = 0  # how many of bot_order were consumed by expect_message
    edit_cursor: dict[int, int] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None
    actions: list[str] = field(default_factory=list)
    menu_button: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        return d

    def take_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


class _Bucket:
    def __init__(self, capacity: float, per_second: float):
        self.capacity = capacity
        self.rate = per_second
        self.tokens = capacity
        self.last = time.monotonic()

    def take(self, now: float) -> int | None:
        """Consume one token; return None if allowed, else seconds to wait (>=1)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))


# --------------------------------------------------------------------------- param helpers


def _json_value(params: dict[str, Any], key: str, what: str) -> Any:
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {what} JSON object") from None
    return value


def _int_value(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad(f"invalid {key} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                as_float = float(value)
            except ValueError:
                raise _bad(f"invalid {key} specified") from None
            return int(as_float)
    raise _bad(f"invalid {key} specified")


def _bool_value(params: dict[str, Any], key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _str_value(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


# --------------------------------------------------------------------------- chat handles


class _ChatHandle:
    """Test-side view of one chat (shared by users' private chats and groups)."""

    def __init__(self, server: FakeTelegramServer, chat: _Chat):
        self._server = server
        self._chat = chat

    @property
    def chat_id(self) -> int:
        return self._chat.id

    # ---- state
    @property
    def messages(self) -> list[MessageView]:
        """All bot messages in this chat that still exist, current state (after edits)."""
        chat = self._chat
        return [
            chat.messages[mid].current for mid in chat.bot_order if not chat.messages[mid].deleted
        ]

    @property
    def history(self) -> list[MessageView]:
        """Every message in this chat that still exists, the user's and the bot's, oldest
        first, current state (after edits); ``view.raw["from"]["is_bot"]`` tells who."""
        chat = self._chat
        return [chat.messages[mid].current for mid in sorted(chat.messages) if not chat.messages[mid].deleted]

    @property
    def all_sent(self) -> list[MessageView]:
        """Every bot message as originally sent, including deleted ones."""
        return [self._chat.messages[mid].versions[0] for mid in self._chat.bot_order]

    @property
    def last(self) -> MessageView | None:
        msgs = self.messages
        return msgs[-1] if msgs else None

    @property
    def unread(self) -> list[MessageView]:
        """Bot messages not yet returned by :meth:`expect_message`."""
        chat = self._chat
        return [chat.messages[mid].versions[0] for mid in chat.bot_order[chat.cursor :]]

    @property
    def keyboard(self) -> dict[str, Any] | None:
        """The last reply keyboard / remove_keyboard / force_reply markup sent here."""
        return self._chat.reply_keyboard

    @property
    def actions(self) -> list[str]:
        return list(self._chat.actions)

    @property
    def menu_button(self) -> dict[str, Any] | None:
        return self._chat.menu_button

    def is_deleted(self, message: MessageView | int) -> bool:
        stored = self._chat.messages.get(_mid(message))
        return stored is None or stored.deleted

    def current(self, message: MessageView | int) -> MessageView:
        return self._chat.messages[_mid(message)].current

    # ---- waiting
    async def expect_message(
        self, timeout: float = WAIT, contains: str | None = None, skip_others: bool = False
    ) -> MessageView:
        """Wait for the next bot message in this chat not yet returned by this method.

        With ``contains``, the message's plain text must contain it; a non-matching next
        message is an AssertionError unless ``skip_others=True`` (then it is skipped).
        """
        chat = self._chat

        def check() -> MessageView | None:
            while chat.cursor < len(chat.bot_order):
                view = chat.messages[chat.bot_order[chat.cursor]].versions[0]
                chat.cursor += 1
                if contains is None or contains in (view.text or ""):
                    return view
                if not skip_others:
                    raise AssertionError(
                        f"next bot message in chat {chat.id} is {view.text!r}; "
                        f"expected it to contain {contains!r}"
                    )
            return None

        what = f"a bot message in chat {chat.id}" + (
            f" containing {contains!r}" if contains else ""
        )
        return await self._server.wait_for(check, timeout, what)

    async def expect_edit(self, message: MessageView | int, timeout: float = WAIT) -> MessageView:
        """Wait for the next edit of ``message``; returns the edited version."""
        chat = self._chat
        mid = _mid(message)

        def check() -> MessageView | None:
            stored = chat.messages.get(mid)
            if stored is None:
                return None
            consumed = chat.edit_cursor.get(mid, 1)
            if len(stored.versions) > consumed:
                chat.edit_cursor[mid] = consumed + 1
                return stored.versions[consumed]
            return None

        return await self._server.wait_for(check, timeout, f"an edit of message {mid}")

    async def expect_deleted(self, message: MessageView | int, timeout: float = WAIT) -> None:
        mid = _mid(message)

        def check() -> bool | None:
            stored = self._chat.messages.get(mid)
            return True if stored is not None and stored.deleted else None

        await self._server.wait_for(check, timeout, f"deletion of message {mid}")

    async def expect_callback_answer(self, query_id: str, timeout: float = WAIT) -> CallbackAnswer:
        return await self._server.expect_callback_answer(query_id, timeout)

    # ---- acting
    def _new_user_message(self, from_user: FakeUser, **fields: Any) -> dict[str, Any]:
        chat = self._chat
        chat.seen = True
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": from_user.as_dict(),
            "chat": chat.as_dict(),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in fields.items() if v is not None})
        text = message.get("text")
        view = MessageView(
            message_id=message["message_id"],
            chat_id=chat.id,
            text=text,
            html=text,
            parse_mode=None,
            entities=tuple(message.get("entities", ())),
            reply_markup=None,
            raw=message,
        )
        chat.messages[message["message_id"]] = _StoredMessage(
            message["message_id"], from_bot=False, versions=[view]
        )
        self._server._emit(ServerEvent("message", chat.id, view, from_bot=False))
        return message

    async def _send_from(
        self, from_user: FakeUser, text: str, reply_to: MessageView | int | None = None
    ) -> dict[str, Any]:
        entities = []
        m = _BOT_COMMAND_AT_START.match(text)
        if m:
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
        reply = None
        if reply_to is not None:
            reply = self._chat.messages[_mid(reply_to)].current.raw
        message = self._new_user_message(
            from_user, text=text, entities=entities or None, reply_to_message=reply
        )
        await self._server.enqueue_update({"message": message})
        return message

    async def _tap_from(self, from_user: FakeUser, message: MessageView | int, button: str) -> str:
        stored = self._chat.messages.get(_mid(message))
        if stored is None or stored.deleted or not stored.from_bot:
            raise LookupError(f"no bot message {_mid(message)} in chat {self._chat.id}")
        found = stored.current.find_button(button)
        if "callback_data" not in found:
            raise ValueError(f"button {found['text']!r} is not a callback button: {found}")
        return await self._server._enqueue_callback(self._chat, from_user, stored, found)


def _mid(message: MessageView | int | dict[str, Any]) -> int:
    if isinstance(message, MessageView):
        return message.message_id
    if isinstance(message, dict):
        return int(message["message_id"])
    return int(message)


class FakeUser(_ChatHandle):
    """A simulated person talking to the bot in a private chat (chat id == user id)."""

    def __init__(
        self,
        server: FakeTelegramServer,
        chat: _Chat,
        user_id: int,
        first_name: str,
        username: str | None,
        language_code: str | None,
        last_name: str | None,
    ):
        super().__init__(server, chat)
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            d["last_name"] = self.last_name
        if self.username is not None:
            d["username"] = self.username
        if self.language_code is not None:
            d["language_code"] = self.language_code
        return d

    @property
    def blocked(self) -> bool:
        return self._chat.blocked

    async def block(self, notify: bool = True) -> None:
        """The user blocks the bot: sends fail with 403; optionally a my_chat_member update."""
        self._chat.blocked = True
        if notify:
            await self._server.enqueue_update(
                {"my_chat_member": self._chat_member_update("member", "kicked")}
            )

    async def unblock(self, notify: bool = True) -> None:
        """The user unblocks (restarts) the bot; optionally a my_chat_member update."""
        self._chat.blocked = False
        if notify:
            await self._server.enqueue_update(
                {"my_chat_member": self._chat_member_update("kicked", "member")}
            )

    def _chat_member_update(self, old: str, new: str) -> dict[str, Any]:
        bot_user = self._server.bot_user
        now = int(time.time())
        member = {"user": bot_user, "status": old}
        if old == "kicked":
            member["until_date"] = 0
        new_member = {"user": bot_user, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        return {
            "chat": self._chat.as_dict(),
            "from": self.as_dict(),
            "date": now,
            "old_chat_member": member,
            "new_chat_member": new_member,
        }

    async def send(self, text: str, reply_to: MessageView | int | None = None) -> dict[str, Any]:
        """The user sends ``text``; returns the Message dict that was enqueued."""
        return await self._send_from(self, text, reply_to)

    async def tap(self, message: MessageView | int, button: str) -> str:
        """Tap the inline button (by text, else by callback_data); returns the query id."""
        return await self._tap_from(self, message, button)

    async def send_document(
        self, data: bytes, file_name: str, mime_type: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """The user sends a file (a roster spreadsheet…). Its bytes are kept like an upload,
        so the bot can fetch them with getFile and the file URL, as from Telegram."""
        return await self._server._user_document(self, data, file_name, mime_type, caption)

    async def forward(
        self,
        text: str,
        *,
        from_user: FakeUser | None = None,
        sender_name: str | None = None,
    ) -> dict[str, Any]:
        """Forward a text message into the bot chat (origin user, or hidden user)."""
        date = int(time.time()) - 60
        if from_user is not None:
            origin = {"type": "user", "date": date, "sender_user": from_user.as_dict()}
        else:
            origin = {"type": "hidden_user", "date": date, "sender_user_name": sender_name or "?"}
        message = self._new_user_message(self, text=text, forward_origin=origin)
        await self._server.enqueue_update({"message": message})
        return message


class FakeGroup(_ChatHandle):
    """A group chat the bot is a member of."""

    @property
    def title(self) -> str | None:
        return self._chat.title

    async def send(
        self, from_user: FakeUser, text: str, reply_to: MessageView | int | None = None
    ) -> dict[str, Any]:
        return await self._send_from(from_user, text, reply_to)

    async def tap(self, from_user: FakeUser, message: MessageView | int, button: str) -> str:
        return await self._tap_from(from_user, message, button)


# --------------------------------------------------------------------------- the server


class FakeTelegramServer:
    """Strict fake Bot API. Use ``async with FakeTelegramServer() as server:``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "caremap_test_bot",
        bot_first_name: str = "CareMap",
        host: str = "127.0.0.1",
    ):
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.host = host
        self.port: int | None = None
        self.calls: list[CallRecord] = []
        self.closed = False
        self.logged_out = False

        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, FakeGroup] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 700_000_001
        self._max_delivered_update_id = 0
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._default_menu_button: dict[str, Any] = {"type": "commands"}
        self._queries: dict[str, tuple[int, int, str]] = {}  # id -> chat, message, data
        self._answers: dict[str, CallbackAnswer] = {}
        self._query_ids = itertools.count(4_000_000_000_001)
        self._files: dict[str, tuple[bytes, str | None, str, str]] = {}  # id->bytes,name,mime,path
        self._file_counter = itertools.count(1)
        self._inflight = 0
        self._last_activity = time.monotonic()
        # 429 policies
        self._fail_queue: list[tuple[int, frozenset[str]]] = []
        self._fraction: tuple[float, int, frozenset[str], random.Random] | None = None
        self._limits: dict[str, Any] | None = None
        self._global_bucket: _Bucket | None = None
        self._chat_buckets: dict[int, _Bucket] = {}
        self._observers: list[Callable[[ServerEvent], None]] = []

        self._methods: dict[str, Callable[..., Any]] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in (
                "getMe",
                "getUpdates",
                "deleteWebhook",
                "getWebhookInfo",
                "setMyCommands",
                "getMyCommands",
                "deleteMyCommands",
                "sendMessage",
                "editMessageText",
                "editMessageReplyMarkup",
                "deleteMessage",
                "answerCallbackQuery",
                "sendDocument",
                "sendPhoto",
                "getFile",
                "sendChatAction",
                "setChatMenuButton",
                "getChatMenuButton",
                "getChat",
                "close",
                "logOut",
            )
        }

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeTelegramServer:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop serving. Pending long polls return immediately."""
        self.closed = True
        self._notify()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeTelegramServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_url(...)`` (the token is appended by PTB)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ------------------------------------------------------------------ test-side API
    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "en",
        *,
        last_name: str | None = None,
        started: bool = False,
    ) -> FakeUser:
        """Get or create a simulated user. ``started=True``: the bot may already write to
        them (as if they had /start-ed it earlier); otherwise the first thing they send
        opens the chat."""
        if user_id in self._users:
            user = self._users[user_id]
            if started:
                user._chat.seen = True
            return user
        if user_id <= 0:
            raise ValueError("user ids are positive")
        chat = _Chat(
            id=user_id,
            type="private",
            first_name=first_name,
            last_name=last_name,
            username=username,
            seen=started,
        )
        self._chats[user_id] = chat
        user = FakeUser(self, chat, user_id, first_name, username, language_code, last_name)
        self._users[user_id] = user
        return user

    def group(
        self, chat_id: int, title: str = "Test group", *, supergroup: bool = False
    ) -> FakeGroup:
        if chat_id in self._groups:
            return self._groups[chat_id]
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = _Chat(
            id=chat_id, type="supergroup" if supergroup else "group", title=title, seen=True
        )
        self._chats[chat_id] = chat
        group = FakeGroup(self, chat)
        self._groups[chat_id] = group
        return group

    def commands(
        self, language_code: str | None = None, scope: Any = None
    ) -> list[tuple[str, str]]:
        """Commands stored by setMyCommands for exactly this scope + language."""
        key = (_scope_key(_canon_scope_loose(scope)), language_code or "")
        return [(c["command"], c["description"]) for c in self._commands.get(key, [])]

    def all_commands(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """{(scope json, language_code): [(command, description), ...]} for every key set."""
        return {k: [(c["command"], c["description"]) for c in v] for k, v in self._commands.items()}

    def menu_commands(
        self, chat_id: int, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        """The command menu a user of this private chat sees, resolved like Telegram does:
        chat scope, then all_private_chats, then default; in each, the user's language
        (its first two letters) before the language-less list."""
        lang = (language_code or "")[:2].lower()
        scopes = [{"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"}]
        scopes.append({"type": "default"})
        for scope in scopes:
            for key_lang in ([lang] if lang else []) + [""]:
                found = self._commands.get((_scope_key(scope), key_lang))
                if found:
                    return [(c["command"], c["description"]) for c in found]
        return []

    # observers ------------------------------------------------------------
    def subscribe(self, callback: Callable[[ServerEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every message, edit, deletion, callback answer and
        command-menu change from now on; returns a function that unsubscribes."""
        self._observers.append(callback)

        def unsubscribe() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unsubscribe

    def _emit(self, event: ServerEvent) -> None:
        for callback in list(self._observers):
            try:
                callback(event)
            except Exception:  # an observer's bug must not change what the bot is answered
                _LOG.exception("fake Bot API observer failed on %s", event.kind)

    @property
    def default_menu_button(self) -> dict[str, Any]:
        return self._default_menu_button

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[CallRecord]:
        return [
            c
            for c in self.calls
            if c.method.lower() == method.lower() and (ok is None or c.ok == ok)
        ]

    @property
    def errors(self) -> list[CallRecord]:
        """Every call that was refused (status != 200), e.g. to assert ``== []``.

        Long polls abandoned by the client (status 499, PTB cancels its pending
        getUpdates on shutdown) are not errors and are left out."""
        return [c for c in self.calls if c.status not in (200, 499)]

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return self._answers.get(query_id)

    @property
    def unanswered_queries(self) -> list[str]:
        return [q for q in self._queries if q not in self._answers]

    def uploaded_file(self, file_id: str) -> tuple[bytes, str | None, str]:
        data, name, mime, _ = self._files[file_id]
        return data, name, mime

    # 429 policies --------------------------------------------------------
    def fail_next(
        self, n: int = 1, retry_after: int = 1, methods: Iterable[str] | None = None
    ) -> None:
        """Refuse the next ``n`` calls of ``methods`` (default: SEND_METHODS) with 429."""
        ms = frozenset(methods) if methods is not None else SEND_METHODS
        self._fail_queue.extend([(retry_after, ms)] * n)

    def flood_fraction(
        self,
        fraction: float,
        retry_after: int = 1,
        seed: int = 0,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Refuse a (seeded) random ``fraction`` of calls of ``methods`` with 429.
        ``fraction=0`` switches it off."""
        ms = frozenset(methods) if methods is not None else SEND_METHODS
        self._fraction = (fraction, retry_after, ms, random.Random(seed)) if fraction else None

    def enable_rate_limits(
        self,
        global_per_second: float = 30.0,
        global_burst: float = 30.0,
        private_per_second: float = 1.0,
        private_burst: float = 3.0,
        group_per_minute: float = 20.0,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Telegram-like flood limits as token buckets (429 with a computed retry_after)."""
        self._limits = {
            "private": (private_burst, private_per_second),
            "group": (group_per_minute, group_per_minute / 60.0),
            "methods": frozenset(methods) if methods is not None else SEND_METHODS,
        }
        self._global_bucket = _Bucket(global_burst, global_per_second)
        self._chat_buckets.clear()

    def disable_rate_limits(self) -> None:
        self._limits = None
        self._global_bucket = None
        self._fail_queue.clear()
        self._fraction = None

    # waiting --------------------------------------------------------------
    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_for(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait (event-driven) until ``check()`` returns non-None; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._changed
            result = check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}" + self._diagnostics()
                )
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def _diagnostics(self) -> str:
        lines = [c for c in self.calls if c.method.lower() != "getupdates"][-8:]
        errs = [f"{c.method} -> {c.status} {c.description}" for c in self.errors[-5:]]
        return (
            f"\n  undelivered updates: {len(self._undelivered())}"
            f"\n  last calls: {[(c.method, c.status) for c in lines]}"
            f"\n  recent errors: {errs}"
        )

    async def expect_callback_answer(self, query_id: str, timeout: float = WAIT) -> CallbackAnswer:
        return await self.wait_for(
            lambda: self._answers.get(query_id), timeout, f"answerCallbackQuery({query_id})"
        )

    def _undelivered(self) -> list[dict[str, Any]]:
        return [u for u in self._updates if u["update_id"] > self._max_delivered_update_id]

    async def idle(self, timeout: float = WAIT, quiet: float = 0.25) -> None:
        """Wait until every update was fetched by the bot, no request is being handled, and
        no request (other than an idle long poll) arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._changed
            now = time.monotonic()
            busy = self._inflight > 0 or bool(self._undelivered())
            if not busy:
                left = self._last_activity + quiet - now
                if left <= 0:
                    return
            else:
                left = deadline - now
            if now >= deadline:
                raise AssertionError(
                    f"bot did not become idle within {timeout}s" + self._diagnostics()
                )
            try:
                await asyncio.wait_for(event.wait(), max(0.001, min(left, deadline - now)))
            except TimeoutError:
                pass

    # updates --------------------------------------------------------------
    async def enqueue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add a raw update (without update_id) to the shared queue; returns it."""
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._last_activity = time.monotonic()
        self._notify()
        await asyncio.sleep(0)
        return update

    async def _enqueue_callback(
        self, chat: _Chat, from_user: FakeUser, stored: _StoredMessage, button: dict[str, Any]
    ) -> str:
        qid = str(next(self._query_ids))
        self._queries[qid] = (chat.id, stored.message_id, button["callback_data"])
        query = {
            "id": qid,
            "from": from_user.as_dict(),
            "message": stored.current.raw,
            "chat_instance": str(abs(chat.id) * 7919 + self.bot_id % 1000),
            "data": button["callback_data"],
        }
        await self.enqueue_update({"callback_query": query})
        return qid

    # ------------------------------------------------------------------ HTTP plumbing
    async def _read_params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, tuple[str | None, bytes, str]]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str | None, bytes, str]] = {}
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise _bad("JSON body must be an object")
                params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = (value.filename, value.file.read(), value.content_type)
                    else:
                        params[key] = value
            else:
                await request.read()
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        t = time.monotonic()
        if request.match_info["token"] != self.token:
            return self._respond(method, {}, ApiError(401, "Unauthorized"), t)
        handler = self._methods.get(method.lower())
        if handler is None:
            return self._respond(method, {}, ApiError(404, "Not Found"), t)
        is_poll = method.lower() == "getupdates"
        if not is_poll:
            self._inflight += 1
            self._last_activity = t
            self._notify()
        params: dict[str, Any] = {}
        files: dict[str, tuple[str | None, bytes, str]] = {}
        try:
            params, files = await self._read_params(request)
            self._check_flood(method, params, t)
            result = await handler(params, files)
            outcome: Any = result
        except ApiError as exc:
            outcome = exc
        except Exception as exc:  # a bug in the fake itself: make it visible in .errors
            outcome = ApiError(500, f"Internal Server Error (fake API bug: {exc!r})")
        finally:
            if not is_poll:
                self._inflight -= 1
                self._last_activity = time.monotonic()
        if is_poll and (request.transport is None or request.transport.is_closing()):
            # PTB cancelled this long poll (e.g. on shutdown); nothing reaches the bot
            outcome = ApiError(499, "client closed the request (long poll abandoned)")
        elif is_poll and isinstance(outcome, list) and outcome:
            self._max_delivered_update_id = max(
                self._max_delivered_update_id, outcome[-1]["update_id"]
            )
            self._last_activity = time.monotonic()
        response = self._respond(method, params, outcome, t, files)
        self._notify()
        return response

    def _respond(
        self,
        method: str,
        params: dict[str, Any],
        outcome: Any,
        t: float,
        files: dict[str, tuple[str | None, bytes, str]] | None = None,
    ) -> web.Response:
        logged = dict(params)
        for key, (name, data, mime) in (files or {}).items():
            logged[key] = {"filename": name, "size": len(data), "mime_type": mime}
        if isinstance(outcome, ApiError):
            retry = (outcome.parameters or {}).get("retry_after")
            self.calls.append(
                CallRecord(method, logged, outcome.code, t, outcome.description, retry)
            )
            return web.json_response(outcome.payload(), status=outcome.code)
        self.calls.append(CallRecord(method, logged, 200, t))
        return web.json_response({"ok": True, "result": outcome})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        for data, _name, mime, file_path in self._files.values():
            if file_path == path:
                return web.Response(body=data, content_type=mime)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    # 429 ------------------------------------------------------------------
    def _check_flood(self, method: str, params: dict[str, Any], now: float) -> None:
        def refuse(seconds: int) -> ApiError:
            return ApiError(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )

        for index, (retry_after, methods) in enumerate(self._fail_queue):
            if method in methods:
                del self._fail_queue[index]
                raise refuse(retry_after)
        if self._fraction is not None:
            fraction, retry_after, methods, rng = self._fraction
            if method in methods and rng.random() < fraction:
                raise refuse(retry_after)
        if self._limits is not None and method in self._limits["methods"]:
            try:
                chat_id = _int_value(params, "chat_id")
            except ApiError:
                chat_id = None
            chat_wait = None
            if chat_id is not None:
                bucket = self._chat_buckets.get(chat_id)
                if bucket is None:
                    kind = "private" if chat_id > 0 else "group"
                    bucket = self._chat_buckets[chat_id] = _Bucket(*self._limits[kind])
                chat_wait = bucket.take(now)
            if chat_wait is not None:
                raise refuse(chat_wait)
            assert self._global_bucket is not None
            global_wait = self._global_bucket.take(now)
            if global_wait is not None:
                raise refuse(global_wait)

    # ------------------------------------------------------------------ validation helpers
    def _chat_for_write(self, params: dict[str, Any]) -> _Chat:
        chat = self._resolve_chat(params)
        if chat.type == "private":
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.seen:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _resolve_chat(self, params: dict[str, Any]) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat = None
        if isinstance(raw, str) and raw.startswith("@"):
            for candidate in self._chats.values():
                if candidate.username and candidate.username.lower() == raw[1:].lower():
                    chat = candidate
        else:
            chat = self._chats.get(_int_value(params, "chat_id") or 0)
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _format(
        self,
        text: Any,
        parse_mode: Any,
        entities_raw: Any,
        *,
        caption: bool = False,
    ) -> tuple[str, list[dict[str, Any]]]:
        if text is None:
            text = ""
        if not isinstance(text, str):
            text = str(text)
        if parse_mode not in (None, ""):
            mode = str(parse_mode).lower()
            if mode == "html":
                try:
                    plain, entities = parse_html(text)
                except HtmlParseError as exc:
                    raise _bad(f"can't parse entities: {exc}") from None
            elif mode in ("markdown", "markdownv2"):
                raise _bad(
                    f"unsupported parse_mode {parse_mode!r}: this fake Bot API only "
                    "implements HTML (MarkdownV2/Markdown are not supported by the fake)"
                )
            else:
                raise _bad(f"unsupported parse_mode {parse_mode!r}")
        else:
            plain = text
            if isinstance(entities_raw, str):
                try:
                    entities_raw = json.loads(entities_raw)
                except ValueError:
                    raise _bad("can't parse entities JSON object") from None
            entities = list(entities_raw or [])
            total = utf16_len(plain)
            for ent in entities:
                if (
                    not isinstance(ent, dict)
                    or "type" not in ent
                    or not isinstance(ent.get("offset"), int)
                    or not isinstance(ent.get("length"), int)
                    or ent["offset"] < 0
                    or ent["length"] <= 0
                    or ent["offset"] + ent["length"] > total
                ):
                    raise _bad(f"can't parse entities: invalid entity {ent!r}")
        if caption:
            if utf16_len(plain) > MAX_CAPTION:
                raise _bad("message caption is too long")
        else:
            if not plain.strip():
                raise _bad("message text is empty")
            if utf16_len(plain) > MAX_TEXT:
                raise _bad("message is too long")
        return plain, entities

    def _markup(
        self, params: dict[str, Any], *, inline_only: bool = False
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Returns (inline_markup, other_markup), validated and normalised."""
        if params.get("reply_markup") in (None, ""):
            return None, None
        raw = _json_value(params, "reply_markup", "reply keyboard markup")
        if not isinstance(raw, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            return {"inline_keyboard": _validate_inline_keyboard(raw["inline_keyboard"])}, None
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in raw:
            rows = raw["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse reply keyboard markup JSON object")
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text:
                        raise _bad("can't parse keyboard button: text is empty")
            return None, raw
        if raw.get("remove_keyboard") is True or raw.get("force_reply") is True:
            return None, raw
        raise _bad("can't parse reply keyboard markup JSON object")

    def _find_message(self, chat: _Chat, params: dict[str, Any], missing: str) -> _StoredMessage:
        if params.get("inline_message_id"):
            raise _bad("inline messages are not supported by this fake Bot API")
        message_id = _int_value(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise _bad(missing)
        return stored

    def _store_bot_message(
        self,
        chat: _Chat,
        *,
        text: str | None,
        html: str | None,
        parse_mode: str | None,
        entities: list[dict[str, Any]],
        inline: dict[str, Any] | None,
        other: dict[str, Any] | None,
        params: dict[str, Any],
        document: dict[str, Any] | None = None,
        file_bytes: bytes | None = None,
        photo: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        reply_to = self._reply_target(chat, params)
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": self.bot_user,
            "chat": chat.as_dict(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if document is not None or photo is not None:
            if document is not None:
                message["document"] = document
            else:
                message["photo"] = [photo]
            if text:
                message["caption"] = text
            if entities:
                message["caption_entities"] = entities
        else:
            message["text"] = text
            if entities:
                message["entities"] = entities
        if inline is not None:
            message["reply_markup"] = inline
        if other is not None:
            chat.reply_keyboard = other
        view = MessageView(
            message_id=message["message_id"],
            chat_id=chat.id,
            text=text,
            html=html,
            parse_mode=parse_mode,
            entities=tuple(entities),
            reply_markup=inline,
            raw=message,
            document=document,
            file_bytes=file_bytes,
            reply_keyboard=other,
            photo=photo,
        )
        chat.messages[view.message_id] = _StoredMessage(view.message_id, True, [view])
        chat.bot_order.append(view.message_id)
        self._emit(ServerEvent("message", chat.id, view, from_bot=True))
        return message

    def _reply_target(self, chat: _Chat, params: dict[str, Any]) -> dict[str, Any] | None:
        reply_id = _int_value(params, "reply_to_message_id")
        allow = _bool_value(params, "allow_sending_without_reply")
        if params.get("reply_parameters") not in (None, ""):
            rp = _json_value(params, "reply_parameters", "reply parameters")
            if not isinstance(rp, dict) or not isinstance(rp.get("message_id"), int):
                raise _bad("can't parse reply parameters JSON object")
            reply_id = rp["message_id"]
            allow = bool(rp.get("allow_sending_without_reply", allow))
        if reply_id is None:
            return None
        stored = chat.messages.get(reply_id)
        if stored is None or stored.deleted:
            if allow:
                return None
            raise _bad("message to be replied not found")
        raw = dict(stored.current.raw)
        raw.pop("reply_to_message", None)
        return raw

    # ------------------------------------------------------------------ methods
    async def _m_getMe(self, params: dict[str, Any], files: Any) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        offset = _int_value(params, "offset")
        limit = _int_value(params, "limit")
        limit = 100 if limit is None else max(1, min(100, limit))
        timeout = _int_value(params, "timeout") or 0
        if params.get("allowed_updates") not in (None, ""):
            allowed = _json_value(params, "allowed_updates", "allowed updates")
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates JSON object")
            self._allowed_updates = allowed or None
        if offset is not None:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older pending long poll gets 409 Conflict, like Telegram
        deadline = time.monotonic() + max(0, timeout)
        while True:
            event = self._changed
            self._updates = [u for u in self._updates if self._is_allowed(u)]
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
            if self._updates or self.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
        return self._updates[:limit]

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    async def _m_deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        if _bool_value(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any], files: Any) -> Any:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = _json_value(params, "scope", "bot command scope") if params.get("scope") else None
        scope = _canon_scope(scope)
        if scope.get("chat_id") is not None and scope["type"] != "default":
            probe = {"chat_id": scope["chat_id"]}
            self._resolve_chat(probe)
        lang = _str_value(params, "language_code") or ""
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise _bad("LANG_CODE_INVALID")
        return _scope_key(scope), lang

    async def _m_setMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        commands = _json_value(params, "commands", "bot commands")
        if not isinstance(commands, list):
            raise _bad("can't parse bot commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        cleaned = []
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise _bad("can't parse BotCommand")
            name, desc = cmd.get("command"), cmd.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(desc, str) or not 1 <= len(desc.strip()) <= 256 or len(desc) > 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": desc})
        key = self._commands_key(params)
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        self._emit(ServerEvent("commands"))
        return True

    async def _m_getMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        return list(self._commands.get(self._commands_key(params), []))

    async def _m_deleteMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        self._commands.pop(self._commands_key(params), None)
        self._emit(ServerEvent("commands"))
        return True

    async def _m_sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        chat = self._chat_for_write(params)
        raw_text = params.get("text")
        parse_mode = _str_value(params, "parse_mode")
        plain, entities = self._format(raw_text, parse_mode, params.get("entities"))
        inline, other = self._markup(params)
        return self._store_bot_message(
            chat,
            text=plain,
            html=raw_text,
            parse_mode=parse_mode,
            entities=entities,
            inline=inline,
            other=other,
            params=params,
        )

    async def _m_editMessageText(self, params: dict[str, Any], files: Any) -> Any:
        chat = self._resolve_chat(params)
        stored = self._find_message(chat, params, "message to edit not found")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        current = stored.current
        if current.document is not None:
            raise _bad("there is no text in the message to edit")
        raw_text = params.get("text")
        parse_mode = _str_value(params, "parse_mode")
        plain, entities = self._format(raw_text, parse_mode, params.get("entities"))
        # like Telegram: omitting reply_markup removes the inline keyboard
        inline, _ = self._markup(params, inline_only=True)
        if (plain, list(entities), inline) == (
            current.text,
            list(current.entities),
            current.reply_markup,
        ):
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        return self._new_version(
            chat,
            stored,
            text=plain,
            html=raw_text,
            parse_mode=parse_mode,
            entities=entities,
            inline=inline,
        )

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any], files: Any) -> Any:
        chat = self._resolve_chat(params)
        stored = self._find_message(chat, params, "message to edit not found")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        current = stored.current
        inline, _ = self._markup(params, inline_only=True)
        if inline == current.reply_markup:
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        return self._new_version(
            chat,
            stored,
            text=current.text,
            html=current.html,
            parse_mode=current.parse_mode,
            entities=list(current.entities),
            inline=inline,
        )

    def _new_version(
        self,
        chat: _Chat,
        stored: _StoredMessage,
        *,
        text: str | None,
        html: str | None,
        parse_mode: str | None,
        entities: list[dict[str, Any]],
        inline: dict[str, Any] | None,
    ) -> dict[str, Any]:
        current = stored.current
        raw = dict(current.raw)
        text_key, ent_key = (
            ("caption", "caption_entities") if current.document else ("text", "entities")
        )
        raw.pop(ent_key, None)
        raw.pop("reply_markup", None)
        if text is not None:
            raw[text_key] = text
        if entities:
            raw[ent_key] = entities
        if inline is not None:
            raw["reply_markup"] = inline
        raw["edit_date"] = int(time.time())
        view = MessageView(
            message_id=current.message_id,
            chat_id=chat.id,
            text=text,
            html=html,
            parse_mode=parse_mode,
            entities=tuple(entities),
            reply_markup=inline,
            raw=raw,
            version=current.version + 1,
            document=current.document,
            file_bytes=current.file_bytes,
            reply_keyboard=current.reply_keyboard,
        )
        stored.versions.append(view)
        self._emit(ServerEvent("edit", chat.id, view, from_bot=stored.from_bot))
        return raw

    async def _m_deleteMessage(self, params: dict[str, Any], files: Any) -> Any:
        chat = self._resolve_chat(params)
        stored = self._find_message(chat, params, "message to delete not found")
        stored.deleted = True
        self._emit(ServerEvent("delete", chat.id, stored.current, from_bot=stored.from_bot))
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> Any:
        qid = _str_value(params, "callback_query_id")
        if not qid or qid not in self._queries or qid in self._answers:
            raise _bad(QUERY_INVALID[len("Bad Request: ") :])
        text = _str_value(params, "text")
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        url = _str_value(params, "url")
        answer = self._answers[qid] = CallbackAnswer(
            query_id=qid,
            text=text,
            show_alert=_bool_value(params, "show_alert"),
            url=url,
            cache_time=_int_value(params, "cache_time") or 0,
        )
        chat_id, message_id, _data = self._queries[qid]
        stored = self._chats[chat_id].messages.get(message_id) if chat_id in self._chats else None
        self._emit(
            ServerEvent(
                "callback_answer",
                chat_id,
                stored.current if stored is not None else None,
                from_bot=True,
                answer=answer,
            )
        )
        return True

    async def _m_sendDocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat = self._chat_for_write(params)
        upload = files.get("document")
        value = params.get("document")
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            name, data, mime = upload
            if not data:
                raise _bad("file must be non-empty")
            if len(data) > 50 * 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            if not mime or mime == "application/octet-stream":
                mime = (mimetypes.guess_type(name or "")[0]) or "application/octet-stream"
            n = next(self._file_counter)
            file_id = f"BQACAgIAAxkDAAI{n:08d}fake"
            ext = (name or "file").rsplit(".", 1)[-1] if name and "." in name else "bin"
            self._files[file_id] = (data, name, mime, f"documents/file_{n}.{ext}")
        elif isinstance(value, str) and value in self._files:
            file_id = value
            data, name, mime, _ = self._files[value]
        elif value in (None, ""):
            raise _bad("there is no document in the request")
        else:
            raise _bad("wrong file identifier/HTTP URL specified")
        document = {
            "file_id": file_id,
            "file_unique_id": "AgAD" + file_id[-12:],
            "file_size": len(data),
            "mime_type": mime,
        }
        if name:
            document["file_name"] = name
        raw_caption = params.get("caption")
        parse_mode = _str_value(params, "parse_mode")
        plain, entities = self._format(
            raw_caption, parse_mode, params.get("caption_entities"), caption=True
        )
        inline, other = self._markup(params)
        return self._store_bot_message(
            chat,
            text=plain or None,
            html=raw_caption,
            parse_mode=parse_mode,
            entities=entities,
            inline=inline,
            other=other,
            params=params,
            document=document,
            file_bytes=data,
        )

    async def _user_document(
        self, user: FakeUser, data: bytes, file_name: str, mime_type: str | None,
        caption: str | None,
    ) -> dict[str, Any]:
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ValueError("send_document needs non-empty bytes")
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        n = next(self._file_counter)
        file_id = f"BQACAgIAAxkBAAI{n:08d}user"
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        self._files[file_id] = (bytes(data), file_name, mime, f"documents/file_{n}.{ext}")
        fields: dict[str, Any] = {"document": {
            "file_id": file_id, "file_unique_id": "AgAD" + file_id[-12:],
            "file_name": file_name, "mime_type": mime, "file_size": len(data),
        }}
        if caption is not None:
            fields["caption"] = caption
        message = user._new_user_message(user, **fields)
        await self.enqueue_update({"message": message})
        return message

    async def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        """A new photo upload (PNG or JPEG, at most 10 MB, width + height ≤ 10000, sides at
        most 20:1, as Telegram requires); file ids and URLs are not supported here."""
        chat = self._chat_for_write(params)
        upload = files.get("photo")
        value = params.get("photo")
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is None:
            raise _bad("there is no photo in the request")
        _name, data, _mime = upload
        if not data:
            raise _bad("file must be non-empty")
        if len(data) > 10 * 1024 * 1024:
            raise _bad("file is too big")
        size = _image_size(data)
        if size is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        n = next(self._file_counter)
        file_id = f"AgACAgIAAxkDAAI{n:08d}photo"
        png = data[:4] == b"\x89PNG"
        self._files[file_id] = (data, None, "image/png" if png else "image/jpeg",
                                f"photos/file_{n}.{'png' if png else 'jpg'}")
        photo = {"file_id": file_id, "file_unique_id": "AQAD" + file_id[-12:], "width": width,
                 "height": height, "file_size": len(data)}
        raw_caption = params.get("caption")
        parse_mode = _str_value(params, "parse_mode")
        plain, entities = self._format(
            raw_caption, parse_mode, params.get("caption_entities"), caption=True
        )
        inline, other = self._markup(params)
        return self._store_bot_message(
            chat, text=plain or None, html=raw_caption, parse_mode=parse_mode, entities=entities,
            inline=inline, other=other, params=params, file_bytes=data, photo=photo,
        )

    async def _m_getFile(self, params: dict[str, Any], files: Any) -> Any:
        file_id = _str_value(params, "file_id")
        if not file_id or file_id not in self._files:
            raise _bad("invalid file_id")
        data, _name, _mime, path = self._files[file_id]
        if len(data) > 20 * 1024 * 1024:  # the Bot API serves bots files of 20 MB at most
            raise _bad("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": "AgAD" + file_id[-12:],
            "file_size": len(data),
            "file_path": path,
        }

    async def _m_sendChatAction(self, params: dict[str, Any], files: Any) -> Any:
        chat = self._chat_for_write(params)
        action = _str_value(params, "action")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        chat.actions.append(action)
        return True

    def _menu_button(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if params.get("menu_button") in (None, ""):
            return None
        button = _json_value(params, "menu_button", "menu button")
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad("can't parse menu button JSON object")
        if button["type"] == "web_app" and not (
            isinstance(button.get("text"), str) and isinstance(button.get("web_app"), dict)
        ):
            raise _bad("can't parse menu button JSON object")
        return button

    async def _m_setChatMenuButton(self, params: dict[str, Any], files: Any) -> Any:
        button = self._menu_button(params) or {"type": "default"}
        if params.get("chat_id") not in (None, ""):
            chat = self._resolve_chat(params)
            if chat.type != "private":
                raise _bad("chat must be a private chat")
            chat.menu_button = button
        else:
            self._default_menu_button = (
                {"type": "commands"} if button["type"] == "default" else button
            )
        return True

    async def _m_getChatMenuButton(self, params: dict[str, Any], files: Any) -> Any:
        if params.get("chat_id") not in (None, ""):
            chat = self._resolve_chat(params)
            if chat.menu_button and chat.menu_button.get("type") != "default":
                return chat.menu_button
        return self._default_menu_button

    async def _m_getChat(self, params: dict[str, Any], files: Any) -> Any:
        chat = self._resolve_chat(params)
        if chat.type == "private" and not chat.seen:
            raise _bad("chat not found")
        return {
            **chat.as_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _m_close(self, params: dict[str, Any], files: Any) -> Any:
        return True

    async def _m_logOut(self, params: dict[str, Any], files: Any) -> Any:
        self.logged_out = True
        return True


# --------------------------------------------------------------------------- helpers


def _validate_inline_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad(
            "can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays"
        )
    if sum(len(r) for r in rows) > 100:
        raise _bad("reply markup is too long")
    out = []
    for row in rows:
        new_row = []
        for button in row:
            if not isinstance(button, dict):
                raise _bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str):
                raise _bad(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not text.strip():
                raise _bad("BUTTON_TEXT_INVALID")
            actions = [k for k in INLINE_BUTTON_ACTIONS if button.get(k) is not None]
            if not actions:
                raise _bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if len(actions) > 1:
                raise _bad(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    f"must be used, got {sorted(actions)}"
                )
            if "callback_data" in actions:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
            if "url" in actions:
                url = button["url"]
                if not isinstance(url, str) or not _URL_RE.fullmatch(url):
                    raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
            new_row.append({k: v for k, v in button.items() if v is not None})
        out.append(new_row)
    return out


def _canon_scope(scope: Any) -> dict[str, Any]:
    if scope is None:
        return {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
        raise _bad("can't parse bot command scope JSON object")
    kind = scope["type"]
    out: dict[str, Any] = {"type": kind}
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat_id = scope.get("chat_id")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        if not isinstance(chat_id, int | str):
            raise _bad("can't parse bot command scope JSON object")
        out["chat_id"] = chat_id
    if kind == "chat_member":
        if not isinstance(scope.get("user_id"), int):
            raise _bad("can't parse bot command scope JSON object")
        out["user_id"] = scope["user_id"]
    return out


def _canon_scope_loose(scope: Any) -> dict[str, Any]:
    """Test-side: accept None, a type name, a dict or a PTB BotCommandScope."""
    if scope is None:
        return {"type": "default"}
    if isinstance(scope, str):
        return {"type": scope}
    if hasattr(scope, "to_dict"):
        scope = scope.to_dict()
    return _canon_scope(scope)


def _scope_key(scope: dict[str, Any]) -> str:
    return json.dumps(scope, sort_keys=True)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, or None when it is neither."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + length
    return None
