"""The fake Bot API's rules in isolation (bot/fakeapi/validation.py, flood.py): each one
refuses the bad case with Telegram's exact error text and lets the good case through."""

from __future__ import annotations

import json
import struct
import time
import zlib

import pytest

from bot.fakeapi import validation as v
from bot.fakeapi.flood import FloodPolicy


def refused(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(v.ApiError) as caught:
        call(*args, **kwargs)
    return caught.value.code, caught.value.description


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def jpeg(width: int, height: int) -> bytes:
    app0 = (
        b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    )
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


# ----------------------------------------------------------------------------- the envelope


def test_api_error_payload_is_telegrams_envelope():
    assert v.bad("chat not found").payload() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat not found",
    }
    assert v.too_many_requests(7).payload() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


# ----------------------------------------------------------------------------- text


def test_text_of_4096_characters_passes_and_4097_is_too_long():
    assert v.format_text("a" * 4096, None, None) == ("a" * 4096, [])
    assert refused(v.format_text, "a" * 4097, None, None) == (
        400,
        "Bad Request: message is too long",
    )


def test_length_counts_utf16_units_after_html_parsing():
    emoji = "😀" * 2048  # 4096 UTF-16 units
    assert v.format_text(f"<b>{emoji}</b>", "HTML", None)[0] == emoji
    assert refused(v.format_text, emoji + "a", None, None)[1] == "Bad Request: message is too long"


def test_empty_and_blank_texts_are_refused():
    for text in (None, "", "   \n", "<b> </b>"):
        assert refused(v.format_text, text, "HTML", None)[1] == "Bad Request: message text is empty"


def test_captions_may_be_empty_but_not_over_1024():
    assert v.format_text(None, None, None, caption=True) == ("", [])
    assert v.format_text("a" * 1024, None, None, caption=True)[0] == "a" * 1024
    assert refused(v.format_text, "a" * 1025, None, None, caption=True)[1] == (
        "Bad Request: message caption is too long"
    )


def test_bad_html_is_refused_with_the_parsers_reason():
    code, text = refused(v.format_text, "<b>open", "HTML", None)
    assert code == 400
    assert text.startswith("Bad Request: can't parse entities: ")
    assert refused(v.format_text, "a < b", "HTML", None)[1].startswith(
        "Bad Request: can't parse entities: "
    )
    assert v.format_text("<b>bold</b> &lt;", "html", None) == (
        "bold <",
        [{"type": "bold", "offset": 0, "length": 4}],
    )


def test_only_html_parse_mode_is_implemented():
    assert (
        "MarkdownV2/Markdown are not supported"
        in refused(v.format_text, "*x*", "MarkdownV2", None)[1]
    )
    assert (
        refused(v.format_text, "x", "rich", None)[1] == "Bad Request: unsupported parse_mode 'rich'"
    )


def test_explicit_entities_must_lie_inside_the_text():
    good = [{"type": "bold", "offset": 0, "length": 2}]
    assert v.format_text("hi", None, json.dumps(good)) == ("hi", good)
    for entity in (
        {"type": "bold", "offset": 1, "length": 2},
        {"type": "bold", "offset": 0, "length": 0},
        {"offset": 0, "length": 1},
    ):
        assert refused(v.format_text, "hi", None, [entity])[1] == (
            f"Bad Request: can't parse entities: invalid entity {entity!r}"
        )
    assert refused(v.format_text, "hi", None, "[oops")[1] == (
        "Bad Request: can't parse entities JSON object"
    )


# ----------------------------------------------------------------------------- keyboards


def inline(*buttons: dict) -> dict:
    return {"reply_markup": json.dumps({"inline_keyboard": [list(buttons)]})}


def test_callback_data_is_1_to_64_bytes():
    ok = {"text": "x", "callback_data": "é" * 32}  # 64 bytes
    assert v.reply_markup(inline(ok)) == ({"inline_keyboard": [[ok]]}, None)
    for data in ("", "é" * 32 + "a", "a" * 65, 5):
        assert refused(v.reply_markup, inline({"text": "x", "callback_data": data})) == (
            400,
            "Bad Request: BUTTON_DATA_INVALID",
        )


def test_inline_button_needs_text_and_exactly_one_action():
    assert refused(v.reply_markup, inline({"text": "x"}))[1] == (
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
        "inline keyboard"
    )
    assert refused(
        v.reply_markup, inline({"text": "x", "callback_data": "a", "url": "https://e.com"})
    )[1] == (
        "Bad Request: can't parse inline keyboard button: exactly one of the optional fields "
        "must be used, got ['callback_data', 'url']"
    )
    assert refused(v.reply_markup, inline({"text": " ", "callback_data": "a"}))[1] == (
        "Bad Request: BUTTON_TEXT_INVALID"
    )
    assert refused(v.reply_markup, inline({"text": 1, "callback_data": "a"}))[1] == (
        'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String'
    )


def test_inline_keyboard_shape_size_and_urls():
    assert refused(v.inline_keyboard, [{"text": "x"}])[1] == (
        "Bad Request: can't parse inline keyboard button: InlineKeyboardMarkup must be an "
        "Array of Arrays"
    )
    assert refused(v.inline_keyboard, [["x"]])[1] == (
        "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must be an Object"
    )
    button = {"text": "x", "callback_data": "a"}
    assert len(v.inline_keyboard([[button] * 10] * 10)) == 10
    assert (
        refused(v.inline_keyboard, [[button] * 101])[1] == "Bad Request: reply markup is too long"
    )
    assert refused(v.inline_keyboard, [[{"text": "x", "url": "www.e.com"}]])[1] == (
        "Bad Request: inline keyboard button URL 'www.e.com' is invalid: Wrong HTTP URL"
    )
    assert v.inline_keyboard([[{"text": "x", "url": "tg://user?id=1", "pay": None}]]) == [
        [{"text": "x", "url": "tg://user?id=1"}]
    ]


def test_reply_keyboards_and_edits_take_only_inline_markup():
    keyboard = {"keyboard": [["a", {"text": "b"}]]}
    assert v.reply_markup({"reply_markup": keyboard}) == (None, keyboard)
    assert v.reply_markup({"reply_markup": ""}) == (None, None)
    assert refused(v.reply_markup, {"reply_markup": keyboard}, inline_only=True)[1] == (
        "Bad Request: inline keyboard expected"
    )
    assert refused(v.reply_markup, {"reply_markup": {"keyboard": [[""]]}})[1] == (
        "Bad Request: can't parse keyboard button: text is empty"
    )
    assert refused(v.reply_markup, {"reply_markup": "{"})[1] == (
        "Bad Request: can't parse reply keyboard markup JSON object"
    )
    assert refused(v.reply_markup, {"reply_markup": {"remove_keyboard": False}})[1] == (
        "Bad Request: can't parse reply keyboard markup JSON object"
    )


def test_an_edit_must_change_something():
    v.check_modified(("new", [], None), ("old", [], None))
    assert refused(v.check_modified, ("same", [], None), ("same", [], None)) == (
        400,
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same as a content and reply markup of the current message",
    )


# ----------------------------------------------------------------------------- commands


def test_command_names_are_1_to_32_lowercase_letters_digits_underscores():
    ok = [{"command": "log_2", "description": "Log"}, {"command": "a" * 32, "description": "x"}]
    assert v.bot_commands(ok) == ok
    for name in ("Log", "log-it", "", "a" * 33, "/log", None):
        assert refused(v.bot_commands, [{"command": name, "description": "d"}])[1] == (
            "Bad Request: BOT_COMMAND_INVALID"
        )


def test_command_descriptions_count_and_shape():
    for desc in ("", "  ", "d" * 257, None):
        assert refused(v.bot_commands, [{"command": "log", "description": desc}])[1] == (
            "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
        )
    many = [{"command": f"c{i}", "description": "d"} for i in range(101)]
    assert refused(v.bot_commands, many)[1] == "Bad Request: BOT_COMMANDS_TOO_MUCH"
    assert refused(v.bot_commands, {"command": "log"})[1] == (
        "Bad Request: can't parse bot commands JSON object"
    )
    assert refused(v.bot_commands, ["log"])[1] == "Bad Request: can't parse BotCommand"


def test_command_scopes_and_language_codes():
    assert v.command_scope(None) == {"type": "default"}
    assert v.command_scope({"type": "chat", "chat_id": "-5"}) == {"type": "chat", "chat_id": -5}
    assert v.command_scope_loose("all_private_chats") == {"type": "all_private_chats"}
    for scope in ({"type": "everyone"}, {"type": "chat"}, {"type": "chat_member", "chat_id": 1}):
        assert refused(v.command_scope, scope)[1] == (
            "Bad Request: can't parse bot command scope JSON object"
        )
    assert v.language_code({"language_code": "zh"}) == "zh"
    assert v.language_code({}) == ""
    for lang in ("zh-hans", "EN", "e"):
        assert refused(v.language_code, {"language_code": lang})[1] == (
            "Bad Request: LANG_CODE_INVALID"
        )


# ----------------------------------------------------------------------------- parameters


def test_parameters_are_coerced_like_telegram_does():
    assert v.int_value({"n": "12"}, "n") == 12
    assert v.int_value({"n": "1.0"}, "n") == 1
    assert v.int_value({"n": ""}, "n") is None
    assert refused(v.int_value, {"offset": "x"}, "offset")[1] == (
        "Bad Request: invalid offset specified"
    )
    assert refused(v.int_value, {"offset": True}, "offset")[1] == (
        "Bad Request: invalid offset specified"
    )
    assert v.bool_value({"b": "true"}, "b") is True
    assert v.bool_value({"b": "no"}, "b") is False
    assert v.str_value({"s": {"a": 1}}, "s") == '{"a": 1}'


def test_chats_and_messages_must_be_named():
    assert v.chat_ref({"chat_id": "@Ann"}) == "@Ann"
    assert v.chat_ref({"chat_id": "-100"}) == -100
    assert refused(v.chat_ref, {})[1] == "Bad Request: chat_id is empty"
    assert refused(v.chat_ref, {"chat_id": "ann"})[1] == "Bad Request: invalid chat_id specified"
    assert v.message_id({"message_id": "3"}) == 3
    assert refused(v.message_id, {})[1] == "Bad Request: message identifier is not specified"
    assert refused(v.message_id, {"inline_message_id": "x", "message_id": 1})[1] == (
        "Bad Request: inline messages are not supported by this fake Bot API"
    )


def test_a_bot_writes_only_to_users_who_started_it_and_did_not_block_it():
    v.check_writable(private=True, blocked=False, seen=True)
    v.check_writable(private=False, blocked=False, seen=False)
    assert refused(v.check_writable, private=True, blocked=False, seen=False) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    assert refused(v.check_writable, private=True, blocked=True, seen=True) == (
        403,
        "Forbidden: bot was blocked by the user",
    )


def test_reply_parameters():
    assert v.reply_to({"reply_to_message_id": "4"}) == (4, False)
    assert v.reply_to(
        {"reply_parameters": json.dumps({"message_id": 5, "allow_sending_without_reply": True})}
    ) == (5, True)
    assert refused(v.reply_to, {"reply_parameters": {"message_id": "5"}})[1] == (
        "Bad Request: can't parse reply parameters JSON object"
    )


def test_callback_answers_actions_and_menu_buttons():
    v.callback_answer_text("x" * 200)
    assert refused(v.callback_answer_text, "x" * 201)[1] == "Bad Request: MESSAGE_TOO_LONG"
    assert v.chat_action("typing") == "typing"
    assert refused(v.chat_action, "dancing")[1] == "Bad Request: wrong parameter action in request"
    assert v.menu_button({"menu_button": '{"type": "commands"}'}) == {"type": "commands"}
    assert v.menu_button({}) is None
    for button in ({"type": "apps"}, {"type": "web_app", "text": "x"}):
        assert refused(v.menu_button, {"menu_button": button})[1] == (
            "Bad Request: can't parse menu button JSON object"
        )


def test_updates_and_webhooks():
    assert v.allowed_updates({"allowed_updates": "[]"}, strict=True) is None
    assert v.allowed_updates({"allowed_updates": ["message"]}, strict=True) == ["message"]
    assert refused(v.allowed_updates, {"allowed_updates": "{}"}, strict=True)[1] == (
        "Bad Request: can't parse allowed updates JSON object"
    )
    assert v.webhook({"secret_token": "s_1-A"}, "https://bot.example/hook") == "s_1-A"
    assert v.webhook({}, "http://127.0.0.1:8443/hook") is None
    assert refused(v.webhook, {}, "http://bot.example/hook")[1] == (
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    )
    assert refused(v.webhook, {"secret_token": "no spaces"}, "https://e.com")[1] == (
        "Bad Request: bad webhook: secret token contains unallowed characters"
    )


# ----------------------------------------------------------------------------- files


def test_documents_and_photos():
    v.document_upload(b"x")
    assert refused(v.document_upload, b"")[1] == "Bad Request: file must be non-empty"
    assert refused(v.document_upload, b"x" * (v.MAX_DOCUMENT + 1)) == (
        413,
        "Request Entity Too Large",
    )
    assert v.photo_upload(png(800, 600)) == (800, 600)
    assert v.photo_upload(jpeg(640, 480)) == (640, 480)
    assert refused(v.photo_upload, b"GIF89a....")[1] == "Bad Request: IMAGE_PROCESS_FAILED"
    assert refused(v.photo_upload, png(9000, 1001))[1] == "Bad Request: PHOTO_INVALID_DIMENSIONS"
    assert refused(v.photo_upload, png(2100, 100))[1] == "Bad Request: PHOTO_INVALID_DIMENSIONS"
    assert refused(v.photo_upload, png(10, 10) + b"\0" * v.MAX_PHOTO)[1] == (
        "Bad Request: file is too big"
    )
    assert refused(v.downloadable, b"\0" * (v.MAX_DOWNLOAD + 1))[1] == (
        "Bad Request: file is too big"
    )


# ----------------------------------------------------------------------------- 429


def test_fail_next_refuses_only_the_named_methods_then_lets_them_through():
    flood = FloodPolicy()
    flood.fail_next(1, 3, None)
    flood.check("getMe", {}, 0.0)  # not a send method: untouched, the refusal stays queued
    error = pytest.raises(v.ApiError, flood.check, "sendMessage", {"chat_id": 1}, 0.0).value
    assert (error.code, error.description, error.parameters) == (
        429,
        "Too Many Requests: retry after 3",
        {"retry_after": 3},
    )
    flood.check("sendMessage", {"chat_id": 1}, 0.0)


def test_rate_limits_refuse_a_burst_with_the_seconds_to_wait():
    flood = FloodPolicy()
    flood.enable(30.0, 30.0, 1.0, 3.0, 20.0, None)
    now = time.monotonic() + 0.5  # the buckets are filled now; the checks come just after
    for _ in range(3):
        flood.check("sendMessage", {"chat_id": 7}, now)
    error = pytest.raises(v.ApiError, flood.check, "sendMessage", {"chat_id": 7}, now).value
    assert error.code == 429 and error.parameters == {"retry_after": 1}
    flood.check("sendMessage", {"chat_id": 8}, now)  # another chat has its own bucket
    flood.disable()
    for _ in range(10):
        flood.check("sendMessage", {"chat_id": 7}, now)
