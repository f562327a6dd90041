"""Issue 13: zh/en parity. The same tour of the bot in Chinese and in English: every template
it renders exists and renders in both languages, and no Chinese reply carries English words
(command and option names, which are typed in ASCII, aside)."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from pathlib import Path

import pytest

from reminders.tick import run_once
from rendering.render import TEMPLATE_DIR, Renderer
from tests.conftest import ADMIN_ID, SECOND_ID

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# ASCII words a Chinese reply may hold: command and option names, units and names of
# instruments, formats and the product. Anything else English is a defect.
ALLOWED = {
    # commands
    "start",
    "help",
    "invite",
    "lang",
    "new",
    "log",
    "map",
    "clients",
    "status",
    "goal",
    "plan",
    "phq9",
    "gad7",
    "today",
    "tz",
    "settings",
    "find",
    "export",
    "forget",
    "undo",
    "refer",
    "resources",
    "supervisor",
    "team",
    "audit",
    "import",
    "overview",
    "archive",
    # options and their example values
    "via",
    "trust",
    "sat",
    "risk",
    "next",
    "sid",
    "major",
    "grade",
    "agenda",
    "quiet",
    "off",
    "zh",
    "en",
    "low",
    "medium",
    "high",
    "crisis",
    "id",
    # names
    "CareMap",
    "Telegram",
    "PHQ",
    "GAD",
    "CSV",
    "UTF",
    "BOM",
    "README",
    "txt",
    "zip",
    "English",
    "Asia",
    "Shanghai",
    "ACM",
    "Excel",
    "xlsx",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_CODE = re.compile(r"<code>.*?</code>", re.S)
_TAG = re.compile(r"<[^>]+>")


def english_words(text: str) -> set[str]:
    plain = html.unescape(_TAG.sub("", _CODE.sub("", text)))
    plain = re.sub(r"https?://\S+", "", plain)  # a link
    plain = re.sub(r"/[a-z0-9_]+", "", plain)  # a command named in the text
    plain = re.sub(r"\b[a-z]+=\S*", "", plain)  # an option with its value
    return {w for w in _WORD.findall(plain) if w not in ALLOWED}


TOUR = [
    "/help",
    "/new 学生B #贫困生 sid=2025102 major=市场营销",
    "/new 学生A #竞赛达人 sid=2025101",
    "/new 学生A",
    "/log 学生B 挂科 3 门，周末打工 #学业辅导 #?被认可 via=面谈 trust=2 risk=high next=1w",
    "/log 学生B 路上碰到 next=过几天",
    "/log 学生B 在食堂碰到 trsut=4",
    "/status 学生B",
    "/status 学生B trust=3 risk=medium",
    "/goal 学生B 补考全部通过",
    "/plan 学生B 明天下午 回访学业辅导",
    "/phq9 学生A 1 1 1 1 1 1 1 1 1",
    "/gad7 学生A 2222222",
    "/refer 学生B 学业辅导",
    "/refer 学生B",
    "/resources",
    "/map 学生B",
    "/map 学生A",
    "/clients",
    "/today",
    "/find 挂科",
    "/find 没有这个词",
    "/settings",
    "/settings agenda=7:30 quiet=22-7",
    "/tz Asia/Shanghai",
    "/lgo 学生B 图书馆",
    "/frobnicate",
    "/log",
    "/log 学生B",
    "/new",
    "/plan 学生B 过几天 回访",
    "/status 学生B risk=很高",
    "/map 没这个人",
    "/phq9 学生A 1 2",
    "/undo",
    "/undo",
    "/export",
    "/export csv",
    "今天在图书馆碰到，在补作业",
    "/invite",
]


async def _tour(env, lang_code: str) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = defaultdict(list)
    original = Renderer.render

    def recording(self, lang, name, /, **ctx):
        text = original(self, lang, name, **ctx)
        seen[f"{lang}:{name}"].append(text)
        return text

    Renderer.render = recording
    try:
        admin = env.server.user(ADMIN_ID, "小李", language_code=lang_code)
        await admin.send("/start")
        await admin.expect_message()
        for command in TOUR:
            await admin.send(command)
            await env.server.idle(timeout=60, quiet=0.2)
        invite = await admin.expect_message(contains="start=", skip_others=True)  # the /invite link
        code = re.search(r"start=([\w-]+)", invite.text).group(1)
        second = env.server.user(SECOND_ID, "王老师", language_code=lang_code)
        await second.send(f"/start {code}")
        await env.server.idle(timeout=60, quiet=0.2)
        for days in (1, 1, 7):  # reminders, alerts, agendas, reviews
            env.clock.advance(days=days)
            for _ in range(5):
                if not (await run_once(env.app)).get("sent"):
                    break
            await env.server.idle(timeout=60, quiet=0.2)
        for message in list(admin.messages):
            for label in message.button_texts:
                if label in ("✓ 完成", "✓ Done", "✅ 确认", "✅ Acknowledge"):
                    try:
                        await admin.tap(message, label)
                    except LookupError:  # that message has been edited since, without buttons
                        break
                    await env.server.idle(timeout=60, quiet=0.2)
                    break
    finally:
        Renderer.render = original
    return seen


@pytest.mark.parametrize("lang_code", ["zh-hans"])
async def test_chinese_tour_has_no_english_words(bot_env, lang_code):
    seen = await _tour(bot_env, lang_code)
    leaks = {}
    for key, texts in seen.items():
        # `commands` and `export_labels` are key|label data read by code: check the labels only
        if not key.startswith("zh:") or key.endswith(":commands"):
            continue
        if key.endswith(":export_labels"):
            texts = ["\n".join(line.split("|", 1)[-1] for line in t.splitlines()) for t in texts]
            continue
        for text in texts:
            words = english_words(text)
            if words:
                leaks.setdefault(key, set()).update(words)
    assert not leaks, leaks
    # the export speaks Chinese too: tier reasons as sentences, not JSON; channels and risks in words
    import csv
    import io
    import zipfile

    doc = next(
        m
        for m in bot_env.server.user(ADMIN_ID, "小李").messages
        if m.file_bytes and (m.file_name or "").endswith(".zip")
    )
    archive = zipfile.ZipFile(io.BytesIO(doc.file_bytes))
    tiers = list(csv.DictReader(io.StringIO(archive.read("tier_history.csv").decode("utf-8-sig"))))
    assert tiers and all("{" not in t["reasons"] for t in tiers), tiers[:2]
    assert any("风险" in t["reasons"] or "联系" in t["reasons"] for t in tiers), tiers[:2]
    risks = {t["new"] for t in tiers if t["dimension"] == "风险等级"}
    assert risks and risks <= {"低风险", "中风险", "高风险", "危机"}, risks
    talks = list(csv.DictReader(io.StringIO(archive.read("interactions.csv").decode("utf-8-sig"))))
    assert "面谈" in {t["channel"] for t in talks}
    zh_names = {k[3:] for k in seen if k.startswith("zh:")}
    assert len(zh_names) >= 40, sorted(zh_names)
    # everything rendered in Chinese renders in English too, with the same context
    for key, _texts in seen.items():
        name = key.split(":", 1)[1]
        assert (TEMPLATE_DIR / "en" / f"{name}.j2").is_file(), name
    assert bot_env.server.errors == []


async def test_english_tour_renders_the_same_templates(bot_env):
    seen = await _tour(bot_env, "en")
    en_names = {k[3:] for k in seen if k.startswith("en:")}
    assert len(en_names) >= 40, sorted(en_names)
    assert not {k for k in seen if k.startswith("zh:")}, "an English counsellor got Chinese"


def test_every_template_exists_in_both_languages():
    def names(lang: str) -> set[str]:
        root = TEMPLATE_DIR / lang
        return {str(p.relative_to(root)) for p in Path(root).rglob("*.j2")}

    assert names("zh") == names("en")
