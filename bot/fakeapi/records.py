"""The fake Bot API's public value types: what a test reads (immutable snapshots)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CallRecord", "CallbackAnswer", "MessageView", "ServerEvent", "message_id_of"]


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
    ``"commands"`` (setMyCommands/deleteMyCommands changed the command menus) or
    ``"poll"`` (a getUpdates arrived; ``offset`` is its offset: every update below it is
    confirmed from now on).
    """

    kind: str
    chat_id: int | None = None
    message: MessageView | None = None
    from_bot: bool = False
    answer: CallbackAnswer | None = None
    offset: int | None = None


def message_id_of(message: MessageView | int | dict[str, Any]) -> int:
    if isinstance(message, MessageView):
        return message.message_id
    if isinstance(message, dict):
        return int(message["message_id"])
    return int(message)
