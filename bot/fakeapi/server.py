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

``FakeTelegramServer`` is the façade over the package's parts: ``routing`` (HTTP and
method dispatch), ``methods`` and ``delivery`` (the Bot API methods), ``validation`` and
``flood`` (what Telegram refuses, with its error texts), ``state`` (chats, messages, the
updates queue, events) and ``handles`` (the simulated users and groups).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from . import validation as v
from .delivery import Delivery
from .flood import SEND_METHODS, FloodPolicy
from .handles import FakeGroup, FakeUser, expect_callback_answer
from .methods import MessageMethods
from .records import CallbackAnswer, CallRecord, MessageView, ServerEvent, message_id_of
from .routing import Router
from .state import WAIT, Chat, State
from .validation import ApiError

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

DEFAULT_TOKEN = "123456789:AAFakeTokenForCareMapTests_abcdefghij"


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
        self.state = State(self.bot_user)
        self.flood = FloodPolicy()
        self.delivery = Delivery(self.state)
        self.methods = MessageMethods(self.state)
        self._router = Router(
            token, self.state, self.flood, {**self.delivery.table(), **self.methods.table()}
        )
        self._runner: web.AppRunner | None = None
        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, FakeGroup] = {}

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeTelegramServer:
        self._runner = web.AppRunner(
            self._router.application(), access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop serving. Pending long polls return immediately."""
        self.state.closed = True
        self.state.notify()
        self.delivery.stop()
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

    # ------------------------------------------------------------------ what the bot did
    @property
    def calls(self) -> list[CallRecord]:
        """Every HTTP call the bot made, in order."""
        return self.state.calls

    @property
    def closed(self) -> bool:
        return self.state.closed

    @property
    def logged_out(self) -> bool:
        return self.state.logged_out

    @property
    def webhook_posts(self) -> list[tuple[int, int]]:
        """(update_id, HTTP status) per webhook POST."""
        return self.state.webhook_posts

    @property
    def sent_updates(self) -> list[dict[str, Any]]:
        """Every update ever enqueued, in order."""
        return self.state.sent_updates

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
        return self.state.errors

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self.state.updates)

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return self.state.answers.get(query_id)

    @property
    def unanswered_queries(self) -> list[str]:
        return [q for q in self.state.queries if q not in self.state.answers]

    def uploaded_file(self, file_id: str) -> tuple[bytes, str | None, str]:
        data, name, mime, _ = self.state.files[file_id]
        return data, name, mime

    @property
    def default_menu_button(self) -> dict[str, Any]:
        return self.state.default_menu_button

    def commands(
        self, language_code: str | None = None, scope: Any = None
    ) -> list[tuple[str, str]]:
        """Commands stored by setMyCommands for exactly this scope + language."""
        key = (v.scope_key(v.command_scope_loose(scope)), language_code or "")
        return [(c["command"], c["description"]) for c in self.state.commands.get(key, [])]

    def all_commands(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """{(scope json, language_code): [(command, description), ...]} for every key set."""
        return {
            k: [(c["command"], c["description"]) for c in cmds]
            for k, cmds in self.state.commands.items()
        }

    def menu_commands(
        self, chat_id: int, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        """The command menu a user of this private chat sees, resolved like Telegram does:
        chat scope, then all_private_chats, then default; in each, the user's language
        (its first two letters) before the language-less list."""
        found = self.state.menu_commands(chat_id, language_code)
        return [(c["command"], c["description"]) for c in found]

    # ------------------------------------------------------------------ people and groups
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
        chat = Chat(
            id=user_id,
            type="private",
            first_name=first_name,
            last_name=last_name,
            username=username,
            seen=started,
        )
        self.state.chats[user_id] = chat
        user = FakeUser(self.state, chat, user_id, first_name, username, language_code, last_name)
        self._users[user_id] = user
        return user

    def group(
        self, chat_id: int, title: str = "Test group", *, supergroup: bool = False
    ) -> FakeGroup:
        if chat_id in self._groups:
            return self._groups[chat_id]
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = Chat(
            id=chat_id, type="supergroup" if supergroup else "group", title=title, seen=True
        )
        self.state.chats[chat_id] = chat
        group = FakeGroup(self.state, chat)
        self._groups[chat_id] = group
        return group

    # ------------------------------------------------------------------ observers
    def subscribe(self, callback: Callable[[ServerEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every message, edit, deletion, callback answer and
        command-menu change from now on; returns a function that unsubscribes."""
        return self.state.subscribe(callback)

    # ------------------------------------------------------------------ 429 policies
    def fail_next(
        self, n: int = 1, retry_after: int = 1, methods: Iterable[str] | None = None
    ) -> None:
        """Refuse the next ``n`` calls of ``methods`` (default: SEND_METHODS) with 429."""
        self.flood.fail_next(n, retry_after, methods)

    def fail_next_with(
        self, code: int, description: str, n: int = 1, methods: Iterable[str] | None = None
    ) -> None:
        """Refuse the next ``n`` calls of ``methods`` (default: SEND_METHODS) with an
        arbitrary error, e.g. ``fail_next_with(400, "Bad Request: chat not found")``."""
        self.flood.fail_next_with(code, description, n, methods)

    def flood_fraction(
        self,
        fraction: float,
        retry_after: int = 1,
        seed: int = 0,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Refuse a (seeded) random ``fraction`` of calls of ``methods`` with 429.
        ``fraction=0`` switches it off."""
        self.flood.flood_fraction(fraction, retry_after, seed, methods)

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
        self.flood.enable(
            global_per_second,
            global_burst,
            private_per_second,
            private_burst,
            group_per_minute,
            methods,
        )

    def disable_rate_limits(self) -> None:
        self.flood.disable()

    # ------------------------------------------------------------------ waiting
    async def wait_for(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait (event-driven) until ``check()`` returns non-None; AssertionError on timeout."""
        return await self.state.wait_for(check, timeout, what)

    async def expect_callback_answer(self, query_id: str, timeout: float = WAIT) -> CallbackAnswer:
        return await expect_callback_answer(self.state, query_id, timeout)

    async def idle(self, timeout: float = WAIT, quiet: float = 0.25) -> None:
        """Wait until every update was fetched by the bot, no request is being handled, and
        no request (other than an idle long poll) arrived for ``quiet`` seconds."""
        await self.state.idle(timeout, quiet)

    # ------------------------------------------------------------------ updates
    async def enqueue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add a raw update (without update_id) to the shared queue; returns it."""
        return await self.state.enqueue_update(payload)

    def restart_update_ids(self, first: int) -> None:
        """Number the next updates from `first` on, ids used before included: Telegram picks
        the next id at random after a week without updates, and a bot moved to a new token
        starts a sequence of its own. (A bot polling with a higher offset would confirm
        them unseen, as it would with Telegram: restart the bot, or use a webhook.)"""
        self.state.next_update_id = first
        self.state.max_delivered_update_id = min(self.state.max_delivered_update_id, first - 1)

    async def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an update again, with its original update_id, on the next getUpdates
        whatever the offset — as Telegram does when the bot died before confirming it."""
        await self.state.redeliver(update)

    async def enqueue_callback(self, user: FakeUser, message: MessageView | int, data: str) -> str:
        """A callback query from ``user`` on ``message`` in their own chat carrying ``data``,
        whatever the message's buttons say (a modified client, a double tap, a forged id):
        the bot must not trust it. Returns the query id."""
        chat = self.state.chats[user.id]
        stored = chat.messages[message_id_of(message)]
        return await self.state.enqueue_callback(
            chat, user.as_dict(), stored, {"callback_data": data}
        )

    # ------------------------------------------------------------------ waiting, webhook
    def notify(self) -> None:
        """Wake whatever waits on the fake (``wait_for``, ``idle``, ``expect_*``) to check
        again: for a test whose condition changes outside the fake (its own counter)."""
        self.state.notify()

    async def webhook_info(self) -> dict[str, Any]:
        """What ``getWebhookInfo`` answers now (``url`` is ``""`` when none is set)."""
        info: dict[str, Any] = await self.delivery.getWebhookInfo({}, None)
        return info
