"""What Telegram checks before it accepts a call, as pure functions (no server state).

Each rule raises :class:`ApiError` with Telegram's own error text (``Bad Request: …``), so
a bot bug surfaces in a test exactly as it would in production. The 429 policies are in
``flood.py``; the rules that depend on what the server holds (a chat that does not exist,
a message already deleted, a query already answered) are applied by ``state.py`` and
``methods.py`` with the constants and helpers below.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .html import HtmlParseError, parse_html, utf16_len

__all__ = [
    "CHAT_ACTIONS",
    "CONFLICT",
    "DEFAULT_EXCLUDED_UPDATES",
    "INLINE_BUTTON_ACTIONS",
    "MAX_CAPTION",
    "MAX_TEXT",
    "NOT_MODIFIED",
    "QUERY_INVALID",
    "SCOPE_TYPES",
    "ApiError",
    "bad",
]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes (UTF-8)
MAX_BUTTONS = 100
MAX_COMMANDS = 100
MAX_ANSWER_TEXT = 200
MAX_DOCUMENT = 50 * 1024 * 1024  # what a bot may upload
MAX_PHOTO = 10 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile serves a bot
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
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
COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
URL_RE = re.compile(r"(?:https?|tg)://[^\s]+", re.IGNORECASE)
LANG_RE = re.compile(r"[a-z]{2}")
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


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


def bad(reason: str) -> ApiError:
    """A 400 ``Bad Request: <reason>``."""
    return ApiError(400, f"Bad Request: {reason}")


def bad_text(description: str) -> ApiError:
    """A 400 from a full ``Bad Request: …`` description (NOT_MODIFIED, QUERY_INVALID)."""
    return bad(description[len("Bad Request: ") :])


def too_many_requests(seconds: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


# --------------------------------------------------------------------------- parameters


def json_value(params: dict[str, Any], key: str, what: str) -> Any:
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad(f"can't parse {what} JSON object") from None
    return value


def int_value(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad(f"invalid {key} specified")
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
                raise bad(f"invalid {key} specified") from None
            return int(as_float)
    raise bad(f"invalid {key} specified")


def bool_value(params: dict[str, Any], key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def str_value(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def is_empty(params: dict[str, Any], key: str) -> bool:
    return params.get(key) in (None, "")


# --------------------------------------------------------------------------- chats, messages


def chat_ref(params: dict[str, Any]) -> int | str:
    """The chat a call names: ``"@username"`` or a chat id (0 when it is not a number)."""
    raw = params.get("chat_id")
    if raw is None or raw == "":
        raise bad("chat_id is empty")
    if isinstance(raw, str) and raw.startswith("@"):
        return raw
    return int_value(params, "chat_id") or 0


def check_writable(*, private: bool, blocked: bool, seen: bool) -> None:
    """A bot may write in a private chat only once the user started it and until they block it."""
    if private:
        if blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not seen:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")


def message_id(params: dict[str, Any]) -> int:
    if params.get("inline_message_id"):
        raise bad("inline messages are not supported by this fake Bot API")
    mid = int_value(params, "message_id")
    if mid is None:
        raise bad("message identifier is not specified")
    return mid


def reply_to(params: dict[str, Any]) -> tuple[int | None, bool]:
    """(message id to reply to or None, allow_sending_without_reply)."""
    reply_id = int_value(params, "reply_to_message_id")
    allow = bool_value(params, "allow_sending_without_reply")
    if not is_empty(params, "reply_parameters"):
        rp = json_value(params, "reply_parameters", "reply parameters")
        if not isinstance(rp, dict) or not isinstance(rp.get("message_id"), int):
            raise bad("can't parse reply parameters JSON object")
        reply_id = rp["message_id"]
        allow = bool(rp.get("allow_sending_without_reply", allow))
    return reply_id, allow


def check_modified(new: tuple[Any, ...], current: tuple[Any, ...]) -> None:
    """An edit must change the text, its entities or the inline keyboard."""
    if new == current:
        raise bad_text(NOT_MODIFIED)


# --------------------------------------------------------------------------- text


def format_text(
    text: Any, parse_mode: Any, entities_raw: Any, *, caption: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, entities) of a message text or caption, as Telegram parses it."""
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
                raise bad(f"can't parse entities: {exc}") from None
        elif mode in ("markdown", "markdownv2"):
            raise bad(
                f"unsupported parse_mode {parse_mode!r}: this fake Bot API only "
                "implements HTML (MarkdownV2/Markdown are not supported by the fake)"
            )
        else:
            raise bad(f"unsupported parse_mode {parse_mode!r}")
    else:
        plain = text
        if isinstance(entities_raw, str):
            try:
                entities_raw = json.loads(entities_raw)
            except ValueError:
                raise bad("can't parse entities JSON object") from None
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
                raise bad(f"can't parse entities: invalid entity {ent!r}")
    if caption:
        if utf16_len(plain) > MAX_CAPTION:
            raise bad("message caption is too long")
    else:
        if not plain.strip():
            raise bad("message text is empty")
        if utf16_len(plain) > MAX_TEXT:
            raise bad("message is too long")
    return plain, entities


# --------------------------------------------------------------------------- keyboards


def reply_markup(
    params: dict[str, Any], *, inline_only: bool = False
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Returns (inline_markup, other_markup), validated and normalised."""
    if is_empty(params, "reply_markup"):
        return None, None
    raw = json_value(params, "reply_markup", "reply keyboard markup")
    if not isinstance(raw, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        return {"inline_keyboard": inline_keyboard(raw["inline_keyboard"])}, None
    if inline_only:
        raise bad("inline keyboard expected")
    if "keyboard" in raw:
        rows = raw["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad("can't parse reply keyboard markup JSON object")
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise bad("can't parse keyboard button: text is empty")
        return None, raw
    if raw.get("remove_keyboard") is True or raw.get("force_reply") is True:
        return None, raw
    raise bad("can't parse reply keyboard markup JSON object")


def inline_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad(
            "can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays"
        )
    if sum(len(r) for r in rows) > MAX_BUTTONS:
        raise bad("reply markup is too long")
    return [[inline_button(button) for button in row] for row in rows]


def inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not text.strip():
        raise bad("BUTTON_TEXT_INVALID")
    actions = [k for k in INLINE_BUTTON_ACTIONS if button.get(k) is not None]
    if not actions:
        raise bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad(
            "can't parse inline keyboard button: exactly one of the optional fields "
            f"must be used, got {sorted(actions)}"
        )
    if "callback_data" in actions:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise bad("BUTTON_DATA_INVALID")
    if "url" in actions:
        url = button["url"]
        if not isinstance(url, str) or not URL_RE.fullmatch(url):
            raise bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return {k: v for k, v in button.items() if v is not None}


def menu_button(params: dict[str, Any]) -> dict[str, Any] | None:
    if is_empty(params, "menu_button"):
        return None
    button = json_value(params, "menu_button", "menu button")
    if not isinstance(button, dict) or button.get("type") not in (
        "commands",
        "web_app",
        "default",
    ):
        raise bad("can't parse menu button JSON object")
    if button["type"] == "web_app" and not (
        isinstance(button.get("text"), str) and isinstance(button.get("web_app"), dict)
    ):
        raise bad("can't parse menu button JSON object")
    return button


def callback_answer_text(text: str | None) -> None:
    if text is not None and len(text) > MAX_ANSWER_TEXT:
        raise bad("MESSAGE_TOO_LONG")


def chat_action(action: str | None) -> str:
    if action not in CHAT_ACTIONS:
        raise bad("wrong parameter action in request")
    return action


# --------------------------------------------------------------------------- commands


def bot_commands(commands: Any) -> list[dict[str, str]]:
    """The command list of setMyCommands, cleaned to ``{"command", "description"}``."""
    if not isinstance(commands, list):
        raise bad("can't parse bot commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad("BOT_COMMANDS_TOO_MUCH")
    cleaned = []
    for cmd in commands:
        if not isinstance(cmd, dict):
            raise bad("can't parse BotCommand")
        name, desc = cmd.get("command"), cmd.get("description")
        if not isinstance(name, str) or not COMMAND_RE.fullmatch(name):
            raise bad("BOT_COMMAND_INVALID")
        if not isinstance(desc, str) or not 1 <= len(desc.strip()) <= 256 or len(desc) > 256:
            raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": name, "description": desc})
    return cleaned


def command_scope(scope: Any) -> dict[str, Any]:
    """A BotCommandScope in canonical form (the key its commands are stored under)."""
    if scope is None:
        return {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
        raise bad("can't parse bot command scope JSON object")
    kind = scope["type"]
    out: dict[str, Any] = {"type": kind}
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat_id = scope.get("chat_id")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        if not isinstance(chat_id, int | str):
            raise bad("can't parse bot command scope JSON object")
        out["chat_id"] = chat_id
    if kind == "chat_member":
        if not isinstance(scope.get("user_id"), int):
            raise bad("can't parse bot command scope JSON object")
        out["user_id"] = scope["user_id"]
    return out


def command_scope_loose(scope: Any) -> dict[str, Any]:
    """Test-side: accept None, a type name, a dict or a PTB BotCommandScope."""
    if scope is None:
        return {"type": "default"}
    if isinstance(scope, str):
        return {"type": scope}
    if hasattr(scope, "to_dict"):
        scope = scope.to_dict()
    return command_scope(scope)


def scope_key(scope: dict[str, Any]) -> str:
    return json.dumps(scope, sort_keys=True)


def language_code(params: dict[str, Any]) -> str:
    lang = str_value(params, "language_code") or ""
    if lang and not LANG_RE.fullmatch(lang):
        raise bad("LANG_CODE_INVALID")
    return lang


# --------------------------------------------------------------------------- updates


def allowed_updates(params: dict[str, Any], *, strict: bool) -> list[str] | None:
    """The allowed_updates given (None when absent or empty). getUpdates (``strict``)
    refuses a non-list; setWebhook takes what it is given, as before."""
    allowed = json_value(params, "allowed_updates", "allowed updates")
    if strict and not isinstance(allowed, list):
        raise bad("can't parse allowed updates JSON object")
    return allowed or None


def webhook(params: dict[str, Any], url: str) -> str | None:
    """Checks a setWebhook URL and secret token; returns the secret."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise bad("bad webhook: An HTTPS URL must be provided for webhook")
    secret = str_value(params, "secret_token")
    if secret is not None and not SECRET_RE.fullmatch(secret):
        raise bad("bad webhook: secret token contains unallowed characters")
    return secret


# --------------------------------------------------------------------------- files


def document_upload(data: bytes) -> None:
    if not data:
        raise bad("file must be non-empty")
    if len(data) > MAX_DOCUMENT:
        raise ApiError(413, "Request Entity Too Large")


def photo_upload(data: bytes) -> tuple[int, int]:
    """(width, height) of a new photo: PNG or JPEG, at most 10 MB, width + height ≤ 10000,
    sides at most 20:1, as Telegram requires."""
    if not data:
        raise bad("file must be non-empty")
    if len(data) > MAX_PHOTO:
        raise bad("file is too big")
    size = image_size(data)
    if size is None:
        raise bad("IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise bad("PHOTO_INVALID_DIMENSIONS")
    return width, height


def downloadable(data: bytes) -> None:
    if len(data) > MAX_DOWNLOAD:  # the Bot API serves bots files of 20 MB at most
        raise bad("file is too big")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, or None when it is neither."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return (
                    int.from_bytes(data[i + 7 : i + 9], "big"),
                    int.from_bytes(data[i + 5 : i + 7], "big"),
                )
            i += 2 + length
    return None
