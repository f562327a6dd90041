"""The test side of the fake Bot API: simulated people (``FakeUser``) and groups
(``FakeGroup``) that send, tap and wait for what the bot answers in their chat."""

from __future__ import annotations

import itertools
import mimetypes
import re
import time
from typing import Any

from .html import utf16_len
from .records import CallbackAnswer, MessageView, message_id_of
from .state import WAIT, Chat, State

__all__ = ["ChatHandle", "FakeGroup", "FakeUser", "expect_callback_answer"]

_BOT_COMMAND_AT_START = re.compile(r"/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{1,64})?")
_MEDIA_IDS = itertools.count(1)


async def expect_callback_answer(state: State, query_id: str, timeout: float) -> CallbackAnswer:
    return await state.wait_for(
        lambda: state.answers.get(query_id), timeout, f"answerCallbackQuery({query_id})"
    )


class ChatHandle:
    """Test-side view of one chat (shared by users' private chats and groups)."""

    def __init__(self, state: State, chat: Chat):
        self._state = state
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
        return [
            chat.messages[mid].current
            for mid in sorted(chat.messages)
            if not chat.messages[mid].deleted
        ]

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
        stored = self._chat.messages.get(message_id_of(message))
        return stored is None or stored.deleted

    def current(self, message: MessageView | int) -> MessageView:
        return self._chat.messages[message_id_of(message)].current

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
        return await self._state.wait_for(check, timeout, what)

    async def expect_edit(self, message: MessageView | int, timeout: float = WAIT) -> MessageView:
        """Wait for the next edit of ``message``; returns the edited version."""
        chat = self._chat
        mid = message_id_of(message)

        def check() -> MessageView | None:
            stored = chat.messages.get(mid)
            if stored is None:
                return None
            consumed = chat.edit_cursor.get(mid, 1)
            if len(stored.versions) > consumed:
                chat.edit_cursor[mid] = consumed + 1
                return stored.versions[consumed]
            return None

        return await self._state.wait_for(check, timeout, f"an edit of message {mid}")

    async def expect_deleted(self, message: MessageView | int, timeout: float = WAIT) -> None:
        mid = message_id_of(message)

        def check() -> bool | None:
            stored = self._chat.messages.get(mid)
            return True if stored is not None and stored.deleted else None

        await self._state.wait_for(check, timeout, f"deletion of message {mid}")

    async def expect_callback_answer(self, query_id: str, timeout: float = WAIT) -> CallbackAnswer:
        return await expect_callback_answer(self._state, query_id, timeout)

    # ---- acting
    def _new_user_message(self, from_user: FakeUser, **fields: Any) -> dict[str, Any]:
        return self._state.add_user_message(self._chat, from_user.as_dict(), **fields)

    async def _send_from(
        self, from_user: FakeUser, text: str, reply_to: MessageView | int | None = None
    ) -> dict[str, Any]:
        entities = []
        m = _BOT_COMMAND_AT_START.match(text)
        if m:
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
        reply = None
        if reply_to is not None:
            reply = self._chat.messages[message_id_of(reply_to)].current.raw
        message = self._new_user_message(
            from_user, text=text, entities=entities or None, reply_to_message=reply
        )
        await self._state.enqueue_update({"message": message})
        return message

    async def _tap_from(self, from_user: FakeUser, message: MessageView | int, button: str) -> str:
        stored = self._chat.messages.get(message_id_of(message))
        if stored is None or stored.deleted or not stored.from_bot:
            raise LookupError(f"no bot message {message_id_of(message)} in chat {self._chat.id}")
        found = stored.current.find_button(button)
        if "callback_data" not in found:
            raise ValueError(f"button {found['text']!r} is not a callback button: {found}")
        return await self._state.enqueue_callback(self._chat, from_user.as_dict(), stored, found)


class FakeUser(ChatHandle):
    """A simulated person talking to the bot in a private chat (chat id == user id)."""

    def __init__(
        self,
        state: State,
        chat: Chat,
        user_id: int,
        first_name: str,
        username: str | None,
        language_code: str | None,
        last_name: str | None,
    ):
        super().__init__(state, chat)
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
            await self._state.enqueue_update(
                {"my_chat_member": self._chat_member_update("member", "kicked")}
            )

    async def unblock(self, notify: bool = True) -> None:
        """The user unblocks (restarts) the bot; optionally a my_chat_member update."""
        self._chat.blocked = False
        if notify:
            await self._state.enqueue_update(
                {"my_chat_member": self._chat_member_update("kicked", "member")}
            )

    def _chat_member_update(self, old: str, new: str) -> dict[str, Any]:
        bot_user = self._state.bot_user
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

    async def send_media(self, kind: str, caption: str | None = None) -> dict[str, Any]:
        """The user sends a photo, voice message, document, sticker or location (``kind``),
        optionally with a caption (a leading /command gets its bot_command entity)."""
        n = next(_MEDIA_IDS)
        file = {"file_id": f"FAKE-{kind}-{n}", "file_unique_id": f"u{kind}{n}"}
        payloads: dict[str, Any] = {
            "photo": [{**file, "width": 90, "height": 90, "file_size": 1200}],
            "voice": {**file, "duration": 3, "mime_type": "audio/ogg"},
            "document": {**file, "file_name": "谈话记录.pdf", "mime_type": "application/pdf"},
            "sticker": {
                **file,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            },
            "location": {"latitude": 31.2304, "longitude": 121.4737},
        }
        if kind not in payloads:
            raise ValueError(f"send_media: one of {sorted(payloads)}, not {kind!r}")
        fields: dict[str, Any] = {kind: payloads[kind]}
        if caption is not None:
            fields["caption"] = caption
            m = _BOT_COMMAND_AT_START.match(caption)
            if m:
                fields["caption_entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))}
                ]
        message = self._new_user_message(self, **fields)
        await self._state.enqueue_update({"message": message})
        return message

    async def send_document(
        self,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """The user sends a file (a roster spreadsheet…). Its bytes are kept like an upload,
        so the bot can fetch them with getFile and the file URL, as from Telegram."""
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ValueError("send_document needs non-empty bytes")
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        n = self._state.next_file_number()
        file_id = f"BQACAgIAAxkBAAI{n:08d}user"
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        self._state.files[file_id] = (bytes(data), file_name, mime, f"documents/file_{n}.{ext}")
        fields: dict[str, Any] = {
            "document": {
                "file_id": file_id,
                "file_unique_id": "AgAD" + file_id[-12:],
                "file_name": file_name,
                "mime_type": mime,
                "file_size": len(data),
            }
        }
        if caption is not None:
            fields["caption"] = caption
        message = self._new_user_message(self, **fields)
        await self._state.enqueue_update({"message": message})
        return message

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
        await self._state.enqueue_update({"message": message})
        return message


class FakeGroup(ChatHandle):
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
