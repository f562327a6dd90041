"""What the fake Bot API holds: chats and their messages, the updates queue, callback
queries, uploaded files, command menus, the calls log, and the events observers see.

Every change is announced twice: ``notify()`` wakes whoever waits (``wait_for``, ``idle``,
a long poll, the webhook pusher), ``emit(event)`` tells the observers (the demo's page).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .records import CallbackAnswer, CallRecord, MessageView, ServerEvent
from .validation import (
    DEFAULT_EXCLUDED_UPDATES,
    bad,
    check_writable,
    reply_to,
    scope_key,
)

__all__ = ["WAIT", "Chat", "State", "StoredMessage"]

_LOG = logging.getLogger("bot.fakeapi.server")

# How long the test helpers wait for an event by default. Waits end as soon as the event
# happens, so a generous deadline costs nothing on a quick machine and spares a busy one.
WAIT = 30.0


@dataclass
class StoredMessage:
    message_id: int
    from_bot: bool
    versions: list[MessageView] = field(default_factory=list)
    deleted: bool = False

    @property
    def current(self) -> MessageView:
        return self.versions[-1]


@dataclass
class Chat:
    id: int
    type: str
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    title: str | None = None
    seen: bool = False  # the bot may write here (user started the bot / bot is in group)
    blocked: bool = False
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
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


class State:
    """The server's memory and its change notifications (no HTTP, no validation of calls)."""

    def __init__(self, bot_user: dict[str, Any]):
        self._bot_user = dict(bot_user)
        self.calls: list[CallRecord] = []
        self.closed = False
        self.logged_out = False
        self.chats: dict[int, Chat] = {}
        # updates
        self.updates: list[dict[str, Any]] = []
        self.replays: list[dict[str, Any]] = []  # redelivered as they are, whatever the offset
        self.sent_updates: list[dict[str, Any]] = []  # every update ever enqueued, in order
        self.next_update_id = 700_000_001
        self.max_delivered_update_id = 0
        self.allowed_updates: list[str] | None = None
        self.poll_generation = 0
        # webhook mode (setWebhook): updates are POSTed to the bot instead of fetched
        self.webhook: dict[str, Any] | None = None
        self.webhook_posts: list[tuple[int, int]] = []  # (update_id, HTTP status) per POST
        # the rest of what the bot set or answered
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.default_menu_button: dict[str, Any] = {"type": "commands"}
        self.queries: dict[str, tuple[int, int, str]] = {}  # id -> chat, message, data
        self.answers: dict[str, CallbackAnswer] = {}
        self._query_ids = itertools.count(4_000_000_000_001)
        self.files: dict[str, tuple[bytes, str | None, str, str]] = {}  # id->bytes,name,mime,path
        self._file_counter = itertools.count(1)
        # activity, waiting, observers
        self.inflight = 0
        self.last_activity = time.monotonic()
        self._changed = asyncio.Event()
        self._observers: list[Callable[[ServerEvent], None]] = []

    @property
    def bot_user(self) -> dict[str, Any]:
        return dict(self._bot_user)

    # ------------------------------------------------------------------ events
    def notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next ``notify()``; take it *before* checking, then wait on it."""
        return self._changed

    def subscribe(self, callback: Callable[[ServerEvent], None]) -> Callable[[], None]:
        self._observers.append(callback)

        def unsubscribe() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unsubscribe

    def emit(self, event: ServerEvent) -> None:
        for callback in list(self._observers):
            try:
                callback(event)
            except Exception:  # an observer's bug must not change what the bot is answered
                _LOG.exception("fake Bot API observer failed on %s", event.kind)

    @property
    def errors(self) -> list[CallRecord]:
        return [c for c in self.calls if c.status not in (200, 499)]

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
                    f"timed out after {timeout}s waiting for {what}" + self.diagnostics()
                )
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def diagnostics(self) -> str:
        lines = [c for c in self.calls if c.method.lower() != "getupdates"][-8:]
        errs = [f"{c.method} -> {c.status} {c.description}" for c in self.errors[-5:]]
        return (
            f"\n  undelivered updates: {len(self.undelivered())}"
            f"\n  last calls: {[(c.method, c.status) for c in lines]}"
            f"\n  recent errors: {errs}"
        )

    async def idle(self, timeout: float, quiet: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            event = self._changed
            now = time.monotonic()
            busy = self.inflight > 0 or bool(self.undelivered()) or bool(self.replays)
            if not busy:
                left = self.last_activity + quiet - now
                if left <= 0:
                    return
            else:
                left = deadline - now
            if now >= deadline:
                raise AssertionError(
                    f"bot did not become idle within {timeout}s" + self.diagnostics()
                )
            try:
                await asyncio.wait_for(event.wait(), max(0.001, min(left, deadline - now)))
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ updates
    def undelivered(self) -> list[dict[str, Any]]:
        return [u for u in self.updates if u["update_id"] > self.max_delivered_update_id]

    def delivered(self, update_id: int) -> None:
        self.max_delivered_update_id = max(self.max_delivered_update_id, update_id)

    async def enqueue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, **payload}
        self.next_update_id += 1
        self.updates.append(update)
        self.sent_updates.append(update)
        self.last_activity = time.monotonic()
        self.notify()
        await asyncio.sleep(0)
        return update

    async def redeliver(self, update: dict[str, Any]) -> None:
        self.replays.append(update)
        self.last_activity = time.monotonic()
        self.notify()
        await asyncio.sleep(0)

    def is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self.allowed_updates

    def drop_unallowed(self) -> None:
        self.updates = [u for u in self.updates if self.is_allowed(u)]

    async def enqueue_callback(
        self,
        chat: Chat,
        from_user: dict[str, Any],
        stored: StoredMessage,
        button: dict[str, Any],
    ) -> str:
        qid = str(next(self._query_ids))
        self.queries[qid] = (chat.id, stored.message_id, button["callback_data"])
        query = {
            "id": qid,
            "from": from_user,
            "message": stored.current.raw,
            "chat_instance": str(abs(chat.id) * 7919 + self._bot_user["id"] % 1000),
            "data": button["callback_data"],
        }
        await self.enqueue_update({"callback_query": query})
        return qid

    # ------------------------------------------------------------------ chats and messages
    def resolve_chat(self, ref: int | str) -> Chat:
        """The chat named by ``validation.chat_ref``; 400 "chat not found" otherwise."""
        chat = None
        if isinstance(ref, str):
            for candidate in self.chats.values():
                if candidate.username and candidate.username.lower() == ref[1:].lower():
                    chat = candidate
        else:
            chat = self.chats.get(ref)
        if chat is None:
            raise bad("chat not found")
        return chat

    def chat_for_write(self, ref: int | str) -> Chat:
        chat = self.resolve_chat(ref)
        check_writable(private=chat.type == "private", blocked=chat.blocked, seen=chat.seen)
        return chat

    def find_message(self, chat: Chat, message_id: int, missing: str) -> StoredMessage:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise bad(missing)
        return stored

    def reply_target(self, chat: Chat, params: dict[str, Any]) -> dict[str, Any] | None:
        reply_id, allow = reply_to(params)
        if reply_id is None:
            return None
        stored = chat.messages.get(reply_id)
        if stored is None or stored.deleted:
            if allow:
                return None
            raise bad("message to be replied not found")
        raw = dict(stored.current.raw)
        raw.pop("reply_to_message", None)
        return raw

    def add_user_message(
        self, chat: Chat, from_user: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        """A message a (simulated) person sends: stored and shown, not yet enqueued."""
        chat.seen = True
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": from_user,
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
        chat.messages[message["message_id"]] = StoredMessage(
            message["message_id"], from_bot=False, versions=[view]
        )
        self.emit(ServerEvent("message", chat.id, view, from_bot=False))
        return message

    def add_bot_message(
        self,
        chat: Chat,
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
        """A message the bot sent (already validated); returns the Message it is answered."""
        reply = self.reply_target(chat, params)
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": self.bot_user,
            "chat": chat.as_dict(),
            "date": int(time.time()),
        }
        if reply is not None:
            message["reply_to_message"] = reply
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
        chat.messages[view.message_id] = StoredMessage(view.message_id, True, [view])
        chat.bot_order.append(view.message_id)
        self.emit(ServerEvent("message", chat.id, view, from_bot=True))
        return message

    def add_version(
        self,
        chat: Chat,
        stored: StoredMessage,
        *,
        text: str | None,
        html: str | None,
        parse_mode: str | None,
        entities: list[dict[str, Any]],
        inline: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """An edit of ``stored`` (already validated); returns the edited Message."""
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
        self.emit(ServerEvent("edit", chat.id, view, from_bot=stored.from_bot))
        return raw

    def delete_message(self, chat: Chat, stored: StoredMessage) -> None:
        stored.deleted = True
        self.emit(ServerEvent("delete", chat.id, stored.current, from_bot=stored.from_bot))

    def answer_query(self, answer: CallbackAnswer) -> None:
        self.answers[answer.query_id] = answer
        chat_id, message_id, _data = self.queries[answer.query_id]
        stored = self.chats[chat_id].messages.get(message_id) if chat_id in self.chats else None
        self.emit(
            ServerEvent(
                "callback_answer",
                chat_id,
                stored.current if stored is not None else None,
                from_bot=True,
                answer=answer,
            )
        )

    # ------------------------------------------------------------------ files
    def next_file_number(self) -> int:
        return next(self._file_counter)

    # ------------------------------------------------------------------ command menus
    def set_commands(self, key: tuple[str, str], commands: list[dict[str, str]]) -> None:
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        self.emit(ServerEvent("commands"))

    def delete_commands(self, key: tuple[str, str]) -> None:
        self.commands.pop(key, None)
        self.emit(ServerEvent("commands"))

    def menu_commands(self, chat_id: int, language_code: str | None) -> list[dict[str, str]]:
        """Resolved like Telegram does: chat scope, then all_private_chats, then default;
        in each, the user's language (its first two letters) before the language-less list."""
        lang = (language_code or "")[:2].lower()
        scopes = [{"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"}]
        scopes.append({"type": "default"})
        for scope in scopes:
            for key_lang in ([lang] if lang else []) + [""]:
                found = self.commands.get((scope_key(scope), key_lang))
                if found:
                    return found
        return []
