"""Unit tests of the fake Bot API server (and of the e2e harness)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
import warnings

import aiohttp
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MenuButtonCommands,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    filters,
)

from tests.e2e.harness import application_builder, running_bot
from tests.fakeapi import FakeTelegramServer, HtmlParseError, parse_html

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)


@pytest_asyncio.fixture
async def bot(fake_api: FakeTelegramServer):
    async with Bot(
        fake_api.token, base_url=fake_api.base_url, base_file_url=fake_api.base_file_url
    ) as b:
        yield b


@pytest.fixture
def ann(fake_api: FakeTelegramServer):
    return fake_api.user(1001, "Ann", username="ann", started=True)


def last_error(server: FakeTelegramServer) -> str | None:
    return server.calls[-1].description


def seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after will become a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def raw_post(server: FakeTelegramServer, method: str, *, token: str | None = None, **kw):
    url = f"{server.base_url}{token or server.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, **kw) as resp:
        return resp.status, await resp.json()


# ----------------------------------------------------------------------------- HTML parser


def test_html_nested_tags_and_entities_offsets():
    text, entities = parse_html(
        "<b>bold <i>both</i></b> &lt;tag&gt; &amp; &quot;q&quot; &#128512;&#x41; "
        '<a href="https://e.com/?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler> '
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>q</blockquote>"
    )
    assert text == 'bold both <tag> & "q" 😀A link s x = 1q'
    assert entities == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
        # 😀 counts as 2 UTF-16 code units, so 'link' starts at 26
        {"type": "text_link", "offset": 26, "length": 4, "url": "https://e.com/?a=1&b=2"},
        {"type": "spoiler", "offset": 31, "length": 1},
        {"type": "pre", "offset": 33, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 38, "length": 1},
    ]


def test_html_offsets_count_utf16_code_units():
    text, entities = parse_html("😀 中<b>x</b>")
    assert text == "😀 中x"
    assert entities == [{"type": "bold", "offset": 4, "length": 1}]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("a<b", "Unclosed start tag at byte offset 1"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x&nbsp;y", "Unsupported HTML entity (escape '&' as &amp;) at byte offset 1"),
        ("fish & chips", "Unsupported HTML entity (escape '&' as &amp;) at byte offset 5"),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<span>x</span>", 'Unsupported start tag "span" at byte offset 0'),
        ("中<b>x", 'Can\'t find end tag corresponding to start tag "b" at byte offset 3'),
        ("<b><i>x</b></i>", 'Unmatched end tag, expected "</i>", found "</b>" at byte offset 7'),
        ("x</b>", 'Unexpected end tag "b" at byte offset 1'),
    ],
)
def test_html_rejections(source, reason):
    with pytest.raises(HtmlParseError) as info:
        parse_html(source)
    assert str(info.value) == reason


async def test_html_through_bot(fake_api, bot, ann):
    sent = await bot.send_message(ann.id, "<b>Hi</b> a &lt; b", parse_mode=ParseMode.HTML)
    assert sent.text == "Hi a < b"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 2)]
    view = ann.last
    assert (view.text, view.html, view.entity_types()) == (
        "Hi a < b",
        "<b>Hi</b> a &lt; b",
        ["bold"],
    )

    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ann.id, "a<b", parse_mode=ParseMode.HTML)
    assert last_error(fake_api) == (
        "Bad Request: can't parse entities: Unclosed start tag at byte offset 1"
    )
    with pytest.raises(BadRequest):
        await bot.send_message(ann.id, "x *y*", parse_mode=ParseMode.MARKDOWN_V2)
    assert "only implements HTML" in last_error(fake_api)
    assert len(ann.messages) == 1


# ----------------------------------------------------------------------------- text limits


@pytest.mark.parametrize(
    ("text", "parse_mode", "ok"),
    [
        ("a" * 4096, None, True),
        ("a" * 4097, None, False),
        ("&lt;" * 4096, "HTML", True),  # 16384 chars sent, 4096 after entity parsing
        ("&lt;" * 4097, "HTML", False),
        ("<b>" + "x" * 4096 + "</b>", "HTML", True),
        ("😀" * 2048, None, True),  # 2048 code points = 4096 UTF-16 code units
        ("😀" * 2048 + "a", None, False),
    ],
)
async def test_text_length_limit(fake_api, bot, ann, text, parse_mode, ok):
    if ok:
        await bot.send_message(ann.id, text, parse_mode=parse_mode)
        assert fake_api.calls[-1].status == 200
    else:
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(ann.id, text, parse_mode=parse_mode)
        assert last_error(fake_api) == "Bad Request: message is too long"


async def test_empty_text_rejected(fake_api, ann):
    status, body = await raw_post(fake_api, "sendMessage", json={"chat_id": ann.id, "text": ""})
    assert (status, body) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
    )
    status, body = await raw_post(
        fake_api, "sendMessage", json={"chat_id": ann.id, "text": "<b> </b>", "parse_mode": "HTML"}
    )
    assert body["description"] == "Bad Request: message text is empty"


# ----------------------------------------------------------------------------- keyboards


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        ("a" * 64, True),
        ("a" * 65, False),
        ("中" * 21, True),  # 63 bytes
        ("中" * 22, False),  # only 22 characters, but 66 bytes
    ],
)
async def test_callback_data_byte_limit(fake_api, bot, ann, data, ok):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("go", callback_data=data)]])
    if ok:
        await bot.send_message(ann.id, "pick", reply_markup=markup)
        assert ann.last.buttons == [[("go", data)]]
    else:
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(ann.id, "pick", reply_markup=markup)
        assert last_error(fake_api) == "Bad Request: BUTTON_DATA_INVALID"
        assert ann.messages == []


async def test_inline_button_needs_exactly_one_action(fake_api, ann):
    for markup in (
        {"inline_keyboard": [[{"text": "x"}]]},
        {"inline_keyboard": [[{"text": "x", "callback_data": "a", "url": "https://e.com"}]]},
    ):
        status, body = await raw_post(
            fake_api, "sendMessage", json={"chat_id": ann.id, "text": "t", "reply_markup": markup}
        )
        assert status == 400
        assert body["description"].startswith("Bad Request: can't parse inline keyboard button")


# ----------------------------------------------------------------------------- commands


async def test_set_my_commands_validation_and_scopes(fake_api, bot):
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("new_1", "Add")])
    await bot.set_my_commands(
        [BotCommand("start", "开始")], scope=BotCommandScopeAllPrivateChats(), language_code="zh"
    )
    assert fake_api.commands() == [("start", "Start"), ("new_1", "Add")]
    assert fake_api.commands("zh", "all_private_chats") == [("start", "开始")]
    assert fake_api.commands("zh") == []
    got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="zh")
    assert [(c.command, c.description) for c in got] == [("start", "开始")]

    for name in ("Start", "a" * 33, "with-dash", ""):
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand(name, "x")])
        assert last_error(fake_api) == "Bad Request: BOT_COMMAND_INVALID"
    await bot.set_my_commands([BotCommand("a" * 32, "x" * 256)])
    for desc in ("", "x" * 257):
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("ok", desc)])
        assert last_error(fake_api) == "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand(f"c{i}", "x") for i in range(101)])
    assert fake_api.commands() == [("a" * 32, "x" * 256)]
    await bot.delete_my_commands()
    assert fake_api.commands() == []


# ----------------------------------------------------------------------------- edits, deletes


async def test_edit_not_modified_and_keyboard_removal(fake_api, bot, ann):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]])
    msg = await bot.send_message(ann.id, "<b>v1</b>", parse_mode="HTML", reply_markup=markup)
    first = await ann.expect_message()

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>v1</b>", ann.id, msg.message_id, parse_mode="HTML", reply_markup=markup
        )
    assert last_error(fake_api) == NOT_MODIFIED
    # same plain text but different entities is a modification
    await bot.edit_message_text("v1", ann.id, msg.message_id, reply_markup=markup)
    edited = await ann.expect_edit(first)
    assert (edited.text, edited.entities, edited.buttons) == ("v1", (), [[("ok", "ok")]])
    # omitting reply_markup removes the inline keyboard, like Telegram
    await bot.edit_message_text("v1", ann.id, msg.message_id)
    assert (await ann.expect_edit(first)).buttons == []
    with pytest.raises(BadRequest):
        await bot.edit_message_reply_markup(ann.id, msg.message_id)
    assert last_error(fake_api) == NOT_MODIFIED

    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", ann.id, 999)
    await bot.delete_message(ann.id, msg.message_id)
    assert ann.messages == [] and ann.is_deleted(first)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(ann.id, msg.message_id)


# ----------------------------------------------------------------------------- chats, auth


async def test_chat_errors(fake_api, bot):
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")
    stranger = fake_api.user(2002, "Stranger")  # never talked to the bot
    with pytest.raises(Forbidden):
        await bot.send_message(stranger.id, "hi")
    assert last_error(fake_api) == "Forbidden: bot can't initiate conversation with a user"
    await stranger.send("/start")
    await bot.send_message(stranger.id, "hi")
    await stranger.block(notify=False)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(stranger.id, "hi")
    assert fake_api.calls[-1].status == 403
    chat = await bot.get_chat(stranger.id)
    assert chat.first_name == "Stranger"


async def test_http_level_errors_and_encodings(fake_api, ann):
    assert await raw_post(fake_api, "getMe", token="1:wrong") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert await raw_post(fake_api, "sendMessagee", json={}) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    markup = json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "x"}]]})
    # urlencoded form, every value a string (this is what PTB sends)
    status, body = await raw_post(
        fake_api,
        "sendMessage",
        data={"chat_id": str(ann.id), "text": "form", "reply_markup": markup},
    )
    assert status == 200 and body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
    # multipart form
    form = aiohttp.FormData()
    form.add_field("chat_id", str(ann.id))
    form.add_field("document", b"hello", filename="notes.txt", content_type="text/plain")
    status, body = await raw_post(fake_api, "sendDocument", data=form)
    assert status == 200 and body["result"]["document"]["file_name"] == "notes.txt"
    assert ann.last.file_bytes == b"hello"


async def test_send_document_and_download(fake_api, bot, ann):
    payload = "名单,1\n".encode() * 100
    msg = await bot.send_document(
        ann.id,
        InputFile(payload, filename="export.csv"),
        caption="<i>export</i>",
        parse_mode="HTML",
    )
    view = await ann.expect_message()
    assert (view.file_name, view.file_bytes, view.caption) == ("export.csv", payload, "export")
    assert view.entity_types() == ["italic"]
    file = await bot.get_file(msg.document.file_id)
    assert bytes(await file.download_as_bytearray()) == payload


# ----------------------------------------------------------------------------- 429


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next_raises_retry_after(fake_api, bot, ann):
    fake_api.fail_next(1, retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(ann.id, "x")
    assert seconds(info.value) == 3
    refused = fake_api.calls[-1]
    assert (refused.status, refused.retry_after, refused.description) == (
        429,
        3,
        "Too Many Requests: retry after 3",
    )
    await bot.send_message(ann.id, "y")  # only one was refused
    assert [m.text for m in ann.messages] == ["y"]


async def test_429_payload_and_real_limits(fake_api, ann):
    fake_api.enable_rate_limits(private_burst=3, private_per_second=1.0)
    statuses = []
    for i in range(4):
        status, body = await raw_post(
            fake_api, "sendMessage", json={"chat_id": ann.id, "text": str(i)}
        )
        statuses.append(status)
    assert statuses == [200, 200, 200, 429]
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    times = [c.t for c in fake_api.calls_to("sendMessage")]
    assert times == sorted(times)


async def test_flood_fraction_is_seeded(fake_api, ann):
    async def run() -> list[int]:
        fake_api.flood_fraction(0.5, seed=7)
        out = []
        for _ in range(20):
            status, _ = await raw_post(
                fake_api, "sendMessage", json={"chat_id": ann.id, "text": "x"}
            )
            out.append(status)
        return out

    first, second = await run(), await run()
    assert first == second and 200 in first and 429 in first


# ----------------------------------------------------------------------------- long polling


async def test_get_updates_offsets_limit_and_long_poll(fake_api, bot, ann):
    for text in ("one", "two", "three"):
        await ann.send(text)
    ups = await bot.get_updates(limit=2)
    assert [u.message.text for u in ups] == ["one", "two"]
    ups = await bot.get_updates(offset=ups[-1].update_id + 1)  # confirms one, two
    assert [u.message.text for u in ups] == ["three"]
    assert [u["message"]["text"] for u in fake_api.pending_updates] == ["three"]
    last_id = ups[-1].update_id
    assert await bot.get_updates(offset=last_id + 1, timeout=0) == ()
    assert fake_api.pending_updates == []

    # long poll returns as soon as an update arrives
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(offset=last_id + 1, timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await ann.send("/start@caremap_test_bot hello")
    ups = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1.0
    (update,) = ups
    assert update.update_id == last_id + 1
    assert update.message.text == "/start@caremap_test_bot hello"
    assert [(e.type, e.offset, e.length) for e in update.message.entities] == [
        ("bot_command", 0, 23)
    ]


async def test_allowed_updates_filter(fake_api, bot, ann):
    await ann.send("hello")
    msg = await bot.send_message(
        ann.id,
        "q",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="d")]]),
    )
    await ann.tap(msg.message_id, "b")
    ups = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in ups] == ["d"]


# ----------------------------------------------------------------------------- callback queries


async def test_answer_callback_query_once(fake_api, bot, ann):
    msg = await bot.send_message(
        ann.id,
        "q",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]]),
    )
    qid = await ann.tap(msg.message_id, "Yes")
    (update,) = await bot.get_updates()
    assert (update.callback_query.id, update.callback_query.data) == (qid, "y")
    assert update.callback_query.message.message_id == msg.message_id
    await bot.answer_callback_query(qid, "done", show_alert=True)
    answer = await ann.expect_callback_answer(qid)
    assert (answer.text, answer.show_alert) == ("done", True)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(qid)
    assert last_error(fake_api) == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    with pytest.raises(LookupError):
        await ann.tap(msg.message_id, "No")


# ----------------------------------------------------------------------------- real Application


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    name = update.effective_user.first_name
    await update.effective_message.reply_html(
        f"Hello <b>{name}</b> &lt;{' '.join(context.args)}&gt;",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]]),
    )


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer(f"got {query.data}")
    await query.edit_message_text(f"You chose {query.data}")


async def test_application_round_trip(fake_api):
    app = application_builder(fake_api).build()
    app.add_handler(CommandHandler("start", _start, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(_button))
    ann = fake_api.user(1001, "Ann")
    group = fake_api.group(-100, "Team")

    async with running_bot(app, fake_api):
        await ann.send("/start abc")
        reply = await ann.expect_message(contains="Hello")
        assert reply.text == "Hello Ann <abc>"
        assert reply.html == "Hello <b>Ann</b> &lt;abc&gt;"
        assert reply.buttons == [[("Yes", "yes")]]

        qid = await ann.tap(reply, "Yes")
        answer = await ann.expect_callback_answer(qid)
        assert answer.text == "got yes"
        edited = await ann.expect_edit(reply)
        assert (edited.text, edited.buttons) == ("You chose yes", [])

        await group.send(ann, "/start")
        await fake_api.idle(timeout=30)
        assert group.messages == []
        assert ann.unread == []
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1.5

    methods = [c.method for c in fake_api.calls]
    assert methods[0] == "getMe"
    assert "deleteWebhook" in methods
    assert fake_api.errors == []
    assert fake_api.pending_updates == []  # everything confirmed on shutdown


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_application_with_rate_limiter_retries_after_429(fake_api):
    app = application_builder(fake_api).rate_limiter(AIORateLimiter(max_retries=2)).build()
    app.add_handler(CommandHandler("start", _start))
    ann = fake_api.user(1001, "Ann")
    fake_api.fail_next(1, retry_after=1)
    async with running_bot(app, fake_api):
        await ann.send("/start")
        reply = await ann.expect_message(timeout=30)
        assert reply.text == "Hello Ann <>"
    refused, accepted = fake_api.calls_to("sendMessage")
    assert (refused.status, accepted.status) == (429, 200)
    assert accepted.t - refused.t >= 1.0  # the limiter waited retry_after before retrying


async def test_expect_message_assertions(fake_api, bot, ann):
    await bot.send_message(ann.id, "first")
    await bot.send_message(ann.id, "second")
    with pytest.raises(AssertionError, match="'first'; expected it to contain 'second'"):
        await ann.expect_message(contains="second")
    assert (await ann.expect_message()).text == "second"
    with pytest.raises(AssertionError, match="timed out after 0.05s"):
        await ann.expect_message(timeout=0.05)
    await bot.send_message(ann.id, "third")
    await bot.send_message(ann.id, "fourth")
    assert (await ann.expect_message(contains="fourth", skip_others=True)).text == "fourth"
    assert [m.text for m in ann.messages] == ["first", "second", "third", "fourth"]


async def test_concurrent_get_updates_conflict(fake_api):
    first = asyncio.create_task(raw_post(fake_api, "getUpdates", json={"timeout": 5}))
    await asyncio.sleep(0.05)
    assert await raw_post(fake_api, "getUpdates", json={"timeout": 0}) == (
        200,
        {"ok": True, "result": []},
    )
    status, body = await asyncio.wait_for(first, 1)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")


async def test_chat_action_and_menu_button(fake_api, bot, ann):
    await bot.send_chat_action(ann.id, "typing")
    assert ann.actions == ["typing"]
    status, body = await raw_post(
        fake_api, "sendChatAction", json={"chat_id": ann.id, "action": "dancing"}
    )
    assert (status, body["description"]) == (400, "Bad Request: wrong parameter action in request")
    await bot.set_chat_menu_button(ann.id, MenuButtonCommands())
    assert ann.menu_button == {"type": "commands"}
