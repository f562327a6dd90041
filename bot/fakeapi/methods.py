"""The Bot API methods the fake implements, one coroutine each, named as in the Bot API.

Each takes the call's ``params`` (and uploaded ``files``), applies Telegram's checks
(``validation``), changes the ``State`` and returns the ``result`` the bot is answered.
Getting updates (long polling and the webhook pusher) is in ``delivery.py``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any

from . import validation as v
from .records import CallbackAnswer
from .state import State

__all__ = ["MessageMethods"]

Method = Callable[[dict[str, Any], Any], Awaitable[Any]]


class MessageMethods:
    """Messages, keyboards, callback answers, files, command menus and chat info."""

    NAMES = (
        "getMe",
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

    def __init__(self, state: State):
        self.state = state

    def table(self) -> dict[str, Method]:
        return {name: getattr(self, name) for name in self.NAMES}

    async def getMe(self, params: dict[str, Any], files: Any) -> Any:
        return {
            **self.state.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ------------------------------------------------------------------ command menus
    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = v.json_value(params, "scope", "bot command scope") if params.get("scope") else None
        scope = v.command_scope(scope)
        if scope.get("chat_id") is not None and scope["type"] != "default":
            self.state.resolve_chat(v.chat_ref({"chat_id": scope["chat_id"]}))
        return v.scope_key(scope), v.language_code(params)

    async def setMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        cleaned = v.bot_commands(v.json_value(params, "commands", "bot commands"))
        self.state.set_commands(self._commands_key(params), cleaned)
        return True

    async def getMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        return list(self.state.commands.get(self._commands_key(params), []))

    async def deleteMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        self.state.delete_commands(self._commands_key(params))
        return True

    # ------------------------------------------------------------------ messages
    async def sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        chat = self.state.chat_for_write(v.chat_ref(params))
        raw_text = params.get("text")
        parse_mode = v.str_value(params, "parse_mode")
        plain, entities = v.format_text(raw_text, parse_mode, params.get("entities"))
        inline, other = v.reply_markup(params)
        return self.state.add_bot_message(
            chat,
            text=plain,
            html=raw_text,
            parse_mode=parse_mode,
            entities=entities,
            inline=inline,
            other=other,
            params=params,
        )

    def _editable(self, params: dict[str, Any]) -> tuple[Any, Any]:
        chat = self.state.resolve_chat(v.chat_ref(params))
        stored = self.state.find_message(chat, v.message_id(params), "message to edit not found")
        if not stored.from_bot:
            raise v.bad("message can't be edited")
        return chat, stored

    async def editMessageText(self, params: dict[str, Any], files: Any) -> Any:
        chat, stored = self._editable(params)
        current = stored.current
        if current.document is not None:
            raise v.bad("there is no text in the message to edit")
        raw_text = params.get("text")
        parse_mode = v.str_value(params, "parse_mode")
        plain, entities = v.format_text(raw_text, parse_mode, params.get("entities"))
        # like Telegram: omitting reply_markup removes the inline keyboard
        inline, _ = v.reply_markup(params, inline_only=True)
        v.check_modified(
            (plain, list(entities), inline),
            (current.text, list(current.entities), current.reply_markup),
        )
        return self.state.add_version(
            chat,
            stored,
            text=plain,
            html=raw_text,
            parse_mode=parse_mode,
            entities=entities,
            inline=inline,
        )

    async def editMessageReplyMarkup(self, params: dict[str, Any], files: Any) -> Any:
        chat, stored = self._editable(params)
        current = stored.current
        inline, _ = v.reply_markup(params, inline_only=True)
        v.check_modified((inline,), (current.reply_markup,))
        return self.state.add_version(
            chat,
            stored,
            text=current.text,
            html=current.html,
            parse_mode=current.parse_mode,
            entities=list(current.entities),
            inline=inline,
        )

    async def deleteMessage(self, params: dict[str, Any], files: Any) -> Any:
        chat = self.state.resolve_chat(v.chat_ref(params))
        stored = self.state.find_message(chat, v.message_id(params), "message to delete not found")
        self.state.delete_message(chat, stored)
        return True

    async def answerCallbackQuery(self, params: dict[str, Any], files: Any) -> Any:
        qid = v.str_value(params, "callback_query_id")
        if not qid or qid not in self.state.queries or qid in self.state.answers:
            raise v.bad_text(v.QUERY_INVALID)
        text = v.str_value(params, "text")
        v.callback_answer_text(text)
        self.state.answer_query(
            CallbackAnswer(
                query_id=qid,
                text=text,
                show_alert=v.bool_value(params, "show_alert"),
                url=v.str_value(params, "url"),
                cache_time=v.int_value(params, "cache_time") or 0,
            )
        )
        return True

    # ------------------------------------------------------------------ files
    @staticmethod
    def _upload(params: dict[str, Any], files: dict[str, Any], key: str) -> Any:
        upload = files.get(key)
        value = params.get(key)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        return upload

    async def sendDocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        state = self.state
        chat = state.chat_for_write(v.chat_ref(params))
        upload = self._upload(params, files, "document")
        value = params.get("document")
        if upload is not None:
            name, data, mime = upload
            v.document_upload(data)
            if not mime or mime == "application/octet-stream":
                mime = (mimetypes.guess_type(name or "")[0]) or "application/octet-stream"
            n = state.next_file_number()
            file_id = f"BQACAgIAAxkDAAI{n:08d}fake"
            ext = (name or "file").rsplit(".", 1)[-1] if name and "." in name else "bin"
            state.files[file_id] = (data, name, mime, f"documents/file_{n}.{ext}")
        elif isinstance(value, str) and value in state.files:
            file_id = value
            data, name, mime, _ = state.files[value]
        elif value in (None, ""):
            raise v.bad("there is no document in the request")
        else:
            raise v.bad("wrong file identifier/HTTP URL specified")
        document = {
            "file_id": file_id,
            "file_unique_id": "AgAD" + file_id[-12:],
            "file_size": len(data),
            "mime_type": mime,
        }
        if name:
            document["file_name"] = name
        raw_caption = params.get("caption")
        parse_mode = v.str_value(params, "parse_mode")
        plain, entities = v.format_text(
            raw_caption, parse_mode, params.get("caption_entities"), caption=True
        )
        inline, other = v.reply_markup(params)
        return state.add_bot_message(
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

    async def sendPhoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        """A new photo upload (see ``validation.photo_upload``); file ids and URLs are not
        supported here."""
        state = self.state
        chat = state.chat_for_write(v.chat_ref(params))
        upload = self._upload(params, files, "photo")
        if upload is None:
            raise v.bad("there is no photo in the request")
        _name, data, _mime = upload
        width, height = v.photo_upload(data)
        n = state.next_file_number()
        file_id = f"AgACAgIAAxkDAAI{n:08d}photo"
        png = data[:4] == b"\x89PNG"
        state.files[file_id] = (
            data,
            None,
            "image/png" if png else "image/jpeg",
            f"photos/file_{n}.{'png' if png else 'jpg'}",
        )
        photo = {
            "file_id": file_id,
            "file_unique_id": "AQAD" + file_id[-12:],
            "width": width,
            "height": height,
            "file_size": len(data),
        }
        raw_caption = params.get("caption")
        parse_mode = v.str_value(params, "parse_mode")
        plain, entities = v.format_text(
            raw_caption, parse_mode, params.get("caption_entities"), caption=True
        )
        inline, other = v.reply_markup(params)
        return state.add_bot_message(
            chat,
            text=plain or None,
            html=raw_caption,
            parse_mode=parse_mode,
            entities=entities,
            inline=inline,
            other=other,
            params=params,
            file_bytes=data,
            photo=photo,
        )

    async def getFile(self, params: dict[str, Any], files: Any) -> Any:
        file_id = v.str_value(params, "file_id")
        if not file_id or file_id not in self.state.files:
            raise v.bad("invalid file_id")
        data, _name, _mime, path = self.state.files[file_id]
        v.downloadable(data)
        return {
            "file_id": file_id,
            "file_unique_id": "AgAD" + file_id[-12:],
            "file_size": len(data),
            "file_path": path,
        }

    # ------------------------------------------------------------------ chats
    async def sendChatAction(self, params: dict[str, Any], files: Any) -> Any:
        chat = self.state.chat_for_write(v.chat_ref(params))
        chat.actions.append(v.chat_action(v.str_value(params, "action")))
        return True

    async def setChatMenuButton(self, params: dict[str, Any], files: Any) -> Any:
        button = v.menu_button(params) or {"type": "default"}
        if not v.is_empty(params, "chat_id"):
            chat = self.state.resolve_chat(v.chat_ref(params))
            if chat.type != "private":
                raise v.bad("chat must be a private chat")
            chat.menu_button = button
        else:
            self.state.default_menu_button = (
                {"type": "commands"} if button["type"] == "default" else button
            )
        return True

    async def getChatMenuButton(self, params: dict[str, Any], files: Any) -> Any:
        if not v.is_empty(params, "chat_id"):
            chat = self.state.resolve_chat(v.chat_ref(params))
            if chat.menu_button and chat.menu_button.get("type") != "default":
                return chat.menu_button
        return self.state.default_menu_button

    async def getChat(self, params: dict[str, Any], files: Any) -> Any:
        chat = self.state.resolve_chat(v.chat_ref(params))
        if chat.type == "private" and not chat.seen:
            raise v.bad("chat not found")
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

    async def close(self, params: dict[str, Any], files: Any) -> Any:
        return True

    async def logOut(self, params: dict[str, Any], files: Any) -> Any:
        self.state.logged_out = True
        return True
