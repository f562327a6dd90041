"""`python -m bot demo` in a real browser (Playwright driving Debian's Chromium).

One demo process and one page for the module: the first test walks through the chat
(/new, /log, an inline button edited in place, the command menu, the stranger's refusal,
the language switch), the second moves the bot's clock a day. Screenshots of each screen
go to screenshots/demo-*.png (git-ignored) for a human to look at.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "screenshots"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install -y chromium fonts-noto-cjk); "
        "never `playwright install`",
        allow_module_level=True,
    )
expect = sync_api.expect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    def __init__(self, proc: subprocess.Popen[str], url: str, workdir: Path, started: float):
        self.proc = proc
        self.url = url
        self.workdir = workdir
        self.started = started
        self.output: list[str] = []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    workdir = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CAREMAP_"))}
    # The demo must ignore these: its own SQLite file, no token.
    env["DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/never-used"
    env["PYTHONUNBUFFERED"] = "1"
    port = _free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "open http://" in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(30) or proc.poll() is not None:
        proc.kill()
        pytest.fail("the demo did not start:\n" + "".join(lines))
    url = re.search(r"open (http://\S+)", "".join(lines)).group(1)
    assert url == f"http://127.0.0.1:{port}"
    d = Demo(proc, url, workdir, started)
    d.output = lines
    try:
        yield d
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the demo did not stop on Ctrl-C:\n" + "".join(lines))
        assert code == 0, "".join(lines)
        assert "stopped" in "".join(lines)
        assert (workdir / "caremap-demo.db").exists()


@pytest.fixture(scope="module")
def page(demo: Demo) -> Iterator[object]:
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 360, "height": 740}, device_scale_factor=2, locale="zh-CN"
        )
        context.set_default_timeout(30_000)  # a ceiling on a busy machine; expect() returns at once
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto(demo.url)
        expect(pg.locator("body")).to_have_attribute("data-ready", "1")
        yield pg
        assert errors == [], errors
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"demo-{name}.png"))


def bot_rows(page):
    return page.locator("#messages .row.bot")


def send(page, text: str) -> None:
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def last_bot(page):
    return bot_rows(page).last


def bot_with(page, text):
    """The latest bot message containing `text` (the daily agenda may be pushed at any
    moment by the real-time tick, so "the last message" is not always the reply)."""
    return bot_rows(page).filter(has_text=text).last


def test_chat_walkthrough(demo: Demo, page) -> None:
    # Seeded at once: 小李's chat holds /start, /invite and the caseload.
    expect(page.locator("#people button.active")).to_contain_text("小李")
    expect(bot_with(page, "学生B")).to_be_visible()
    seconds = time.monotonic() - demo.started
    print(f"\nfresh start to a seeded chat on screen: {seconds:.1f} s")
    assert page.locator("#messages .row").count() >= 5
    shot(page, "01-seeded")

    # /new and /log, typed, Enter sends; formatting arrives as entities, rendered as elements.
    send(page, "/new 测试同学 #班干部 sid=20269999 major=软件工程")
    expect(bot_with(page, "测试同学")).to_be_visible()
    send(page, "/log 测试同学 聊了期中考试的压力, 睡得不好 #学业辅导 via=face trust=4 next=明天")
    expect(bot_with(page, "期中考试")).to_be_visible()
    assert page.locator("#messages .bubble b").count() > 0, "bold entities are rendered as <b>"
    shot(page, "02-new-and-log")

    # Plain text → "which client?" buttons → tap → that same message is edited in place.
    send(page, "今天在图书馆碰到测试同学, 在复习")
    question = bot_with(page, "关于谁")
    expect(question.locator(".keyboard button").first).to_be_visible()
    mid = question.get_attribute("data-mid")
    shot(page, "03-buttons")
    question.locator(".keyboard button", has_text="测试同学").first.click()
    edited = page.locator(f'#messages .row[data-mid="{mid}"]')
    expect(edited.locator(".keyboard")).to_have_count(0)
    expect(edited).to_contain_text("图书馆")
    expect(edited.locator(".meta")).to_contain_text("已编辑")
    # edited in place, not answered anew: no later message carries the note (counting all
    # rows would also count a reminder or the agenda the real-time tick may push meanwhile)
    later = page.locator(f'#messages .row[data-mid="{mid}"] ~ .row', has_text="图书馆")
    assert later.count() == 0, later.all_inner_texts()
    shot(page, "04-edited-in-place")

    # The command menu from setMyCommands, in the person's language, behind "/".
    page.locator("#menu-btn").click()
    menu = page.locator("#menu")
    expect(menu).to_be_visible()
    expect(menu.locator("button", has_text="/log")).to_be_visible()
    expect(menu).to_contain_text("记录")  # zh descriptions for a zh user
    shot(page, "05-command-menu")
    menu.locator("button", has_text="/clients").click()
    expect(menu).to_be_hidden()
    expect(bot_with(page, "学生B")).to_be_visible()

    # The stranger: an empty chat, START, a polite refusal.
    page.locator("#people button", has_text="Alex").click()
    expect(page.locator("#start")).to_be_visible()
    page.locator("#start").click()
    expect(last_bot(page)).to_contain_text("invited counsellors")
    shot(page, "06-stranger-refused")

    # Language switch: the stranger's language_code becomes zh; the bot answers in Chinese.
    page.locator("#lang").click()
    expect(page.locator("#lang")).to_have_attribute("data-lang", "zh")
    send(page, "/clients")
    expect(last_bot(page)).to_contain_text("受邀辅导员")
    expect(page.locator("#input")).to_have_attribute("placeholder", "输入消息")
    shot(page, "07-stranger-zh")

    # 小李 in English (no /lang stored: Telegram's language_code decides).
    page.locator("#people button", has_text="小李").click()
    page.locator("#lang").click()
    expect(page.locator("#lang")).to_have_attribute("data-lang", "en")
    send(page, "/help")
    expect(bot_with(page, "/log")).to_be_visible()
    page.locator("#menu-btn").click()
    expect(page.locator("#menu")).to_contain_text("Log a conversation")
    shot(page, "08-admin-en-menu")
    page.keyboard.press("Escape")
    page.locator("#lang").click()
    expect(page.locator("#lang")).to_have_attribute("data-lang", "zh")


def test_time_travel_one_day(demo: Demo, page) -> None:
    page.locator("#people button", has_text="小李").click()
    # due well inside the day the clock moves, whatever the real time of day the test runs at
    send(page, "/plan 学生A 20h 问问集训队周赛的成绩")
    expect(bot_with(page, "学生A")).to_be_visible()
    before = page.locator("#clock-now").inner_text()
    page.locator("#plus-day").click()
    clock = page.locator("#clock-now")
    expect(clock).to_have_attribute("data-offset-hours", "24")
    assert clock.inner_text() != before
    # reminders.tick.run_once paces its sends per chat: wait for it to report
    expect(clock).to_have_attribute("data-pending", "0", timeout=30_000)
    delivered = json.loads(clock.get_attribute("data-delivered") or "{}")
    error = clock.get_attribute("data-error")
    page.wait_for_timeout(500)
    shot(page, "09-plus-one-day")
    assert not error, f"reminders.tick.run_once failed: {error}"
    assert any(delivered.values()), (
        "reminders.tick.run_once delivered nothing after +1 day, though a follow-up was "
        f"due 20 hours on: {delivered!r}"
    )
    expect(page.locator("#messages")).to_contain_text("集训队周赛")
    # The follow-up comes with Done / Snooze: Done answers with a toast, edits in place.
    reminder = (
        page.locator("#messages .row.bot", has_text="集训队周赛")
        .filter(has=page.locator(".keyboard"))
        .last
    )
    expect(reminder).to_be_visible()
    expect(page.locator("#toast")).to_be_hidden(timeout=5_000)
    mid = reminder.get_attribute("data-mid")
    reminder.scroll_into_view_if_needed()
    reminder.locator(".keyboard button").first.click()
    expect(page.locator("#toast")).to_be_visible()
    edited = page.locator(f'#messages .row[data-mid="{mid}"]')
    expect(edited.locator(".meta")).to_contain_text("已编辑")
    expect(edited.locator(".keyboard")).to_have_count(0)
    shot(page, "10-reminder-done")


def test_the_overview_picture_shows(demo: Demo, page) -> None:
    """A chart the bot sends (sendPhoto) is drawn in the chat, not only its caption."""
    page.locator("#people button", has_text="小李").click()
    send(page, "/overview")
    img = bot_rows(page).locator("img.photo").last
    expect(img).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 100", arg=img.element_handle(), timeout=30_000
    )
    expect(bot_rows(page).filter(has=page.locator("img.photo")).last).to_contain_text("概览")
    shot(page, "10-overview")
