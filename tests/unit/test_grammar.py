from __future__ import annotations

import pickle
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from domain import grammar as g
from domain.errors import ERROR_CODES, CommandError
from domain.grammar import ClientRef, NeedSpec
from domain.matching import match_client
from domain.model import Risk
from domain.vocab import CHANNELS, channel_label, need_source, parse_channel
from domain.when import parse_when

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=SH)  # a Saturday
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(UTC)


def log(args: str) -> g.LogEntry:
    return g.parse_log(args, NOW, SH)


def plan(args: str) -> g.PlanSpec:
    return g.parse_plan(args, NOW, SH)


# ------------------------------------------------------------------ /new

NEW_OK = [
    ("王芳", g.NewClient("王芳")),
    ("  王芳  ", g.NewClient("王芳")),
    ("王芳 #班干部", g.NewClient("王芳", ("班干部",))),
    ("王芳 #班干部 #贫困生 #班干部", g.NewClient("王芳", ("班干部", "贫困生"))),
    ("王芳 ＃留学生", g.NewClient("王芳", ("留学生",))),
    ("王芳 #竞赛达人，", g.NewClient("王芳", ("竞赛达人",))),
    ('王芳 #"class rep"', g.NewClient("王芳", ("class rep",))),
    (
        "王芳 sid=2025001 major=Marketing grade=2025",
        g.NewClient("王芳", (), "2025001", "Marketing", "2025"),
    ),
    (
        "王芳 学号=2025001 专业=市场营销 年级=大二",
        g.NewClient("王芳", (), "2025001", "市场营销", "大二"),
    ),
    ("王芳 学号＝2025001", g.NewClient("王芳", (), "2025001")),
    ("王芳 SID=A1 Major=CS", g.NewClient("王芳", (), "A1", "CS")),
    ('王芳 major="Computer Science"', g.NewClient("王芳", (), None, "Computer Science")),
    ('"Li Ming" #留学生 grade=2024', g.NewClient("Li Ming", ("留学生",), None, None, "2024")),
    ("“Li  Ming”", g.NewClient("Li Ming")),
    ("「欧阳 娜娜」", g.NewClient("欧阳 娜娜")),
    ("'Anna Lee'", g.NewClient("Anna Lee")),
    ("O'Brien", g.NewClient("O'Brien")),
    ("Alice", g.NewClient("Alice")),
    ("王芳2", g.NewClient("王芳2")),
    ("王芳， #班干部", g.NewClient("王芳", ("班干部",))),
    ("\n王芳\n#班干部\nsid=1", g.NewClient("王芳", ("班干部",), "1")),
    ("王" * 64, g.NewClient("王" * 64)),
]


@pytest.mark.parametrize(("args", "expected"), NEW_OK)
def test_new(args: str, expected: g.NewClient) -> None:
    assert g.parse_new(args) == expected


# ------------------------------------------------------------------ /log

LOG_OK = [
    ("王芳 聊了实习", g.LogEntry(ClientRef("王芳"), "聊了实习")),
    ("3 talked", g.LogEntry(ClientRef("3"), "talked")),
    ('"Li Ming" talked after class', g.LogEntry(ClientRef("Li Ming", True), "talked after class")),
    ("王芳：今天聊了很多", g.LogEntry(ClientRef("王芳"), "今天聊了很多")),
    ("Wang, missed class", g.LogEntry(ClientRef("Wang"), "missed class")),
    (
        "wf missed two classes, works nights #tutoring #?recognition via=face trust=2 risk=high next=1w",
        g.LogEntry(
            ClientRef("wf"),
            "missed two classes, works nights",
            (NeedSpec("tutoring", True), NeedSpec("recognition", False)),
            "face",
            2,
            None,
            Risk.HIGH,
            utc(2026, 12, 5, 9, 0),
        ),
    ),
    (
        "王芳 via=宿舍 trust=4 聊了实习 #实习推荐 sat=5 #隐性:希望被认可 risk=低",
        g.LogEntry(
            ClientRef("王芳"),
            "聊了实习",
            (NeedSpec("实习推荐", True), NeedSpec("希望被认可", False)),
            "dorm",
            4,
            5,
            Risk.LOW,
        ),
    ),
    (
        "王芳 渠道＝微信 信任＝3 满意=2 风险=危机 下次=明天 聊了 ＃学业辅导 #？社会支持 #implicit:future",
        g.LogEntry(
            ClientRef("王芳"),
            "聊了",
            (NeedSpec("学业辅导"), NeedSpec("社会支持", False), NeedSpec("future", False)),
            "chat",
            3,
            2,
            Risk.CRISIS,
            utc(2026, 11, 29, 9, 0),
        ),
    ),
    (
        "王芳 谈话 next=12-01 14:30 后面还有",
        g.LogEntry(ClientRef("王芳"), "谈话 后面还有", next_due=utc(2026, 12, 1, 14, 30)),
    ),
    (
        "王芳 谈话 next=下周一 15:00",
        g.LogEntry(ClientRef("王芳"), "谈话", next_due=utc(2026, 11, 30, 15, 0)),
    ),
    (
        '王芳 谈话 next="12-01 14:30"',
        g.LogEntry(ClientRef("王芳"), "谈话", next_due=utc(2026, 12, 1, 14, 30)),
    ),
    (
        "王芳 谈话 next=明天 trust=3",
        g.LogEntry(ClientRef("王芳"), "谈话", trust=3, next_due=utc(2026, 11, 29, 9, 0)),
    ),
    (
        "王芳 谈话 next=3d 然后",
        g.LogEntry(ClientRef("王芳"), "谈话 然后", next_due=utc(2026, 12, 1, 9, 0)),
    ),
    # x=y with an unknown key is text; so is a hashtag of digits
    ("王芳 a=b and 1+1=2 ranked #1", g.LogEntry(ClientRef("王芳"), "a=b and 1+1=2 ranked #1")),
    (
        "王芳 see https://x.org/?a=b#frag",
        g.LogEntry(ClientRef("王芳"), "see https://x.org/?a=b#frag"),
    ),
    # a quoted phrase in the notes is not an option
    ('王芳 他说 "trust=5 是玩笑" 哈', g.LogEntry(ClientRef("王芳"), '他说 "trust=5 是玩笑" 哈')),
    ("王芳 聊了 #实习 #实习", g.LogEntry(ClientRef("王芳"), "聊了", (NeedSpec("实习"),))),
    (
        "王芳 TRUST=5 Via=Phone 通话",
        g.LogEntry(ClientRef("王芳"), "通话", channel="phone", trust=5),
    ),
    ("王芳 trust=５ 好", g.LogEntry(ClientRef("王芳"), "好", trust=5)),
    (
        "王芳 聊了 risk=high， 然后 trust=4.",
        g.LogEntry(ClientRef("王芳"), "聊了 然后", trust=4, risk=Risk.HIGH),
    ),
    ("#3 talked", g.LogEntry(ClientRef("#3"), "talked")),
]


@pytest.mark.parametrize(("args", "expected"), LOG_OK)
def test_log(args: str, expected: g.LogEntry) -> None:
    assert log(args) == expected


NOTES_EXACT = [
    # (args after the client, expected notes)
    ("a  b\tc", "a  b\tc"),
    ("line one\n  indented line\n\nafter blank", "line one\n  indented line\n\nafter blank"),
    ("<b>bold?</b> & 1 < 2 > 0 &amp; 😀👍🏽", "<b>bold?</b> & 1 < 2 > 0 &amp; 😀👍🏽"),
    ("first\ntrust=3 risk=high\nlast", "first\nlast"),
    ("first\n  trust=3\nlast", "first\nlast"),
    ("first trust=3\nsecond", "first\nsecond"),
    ("trust=3 first\nsecond", "first\nsecond"),
    ("first #need middle  double", "first middle  double"),
    ("\n\n  text  \n\n", "text"),
    ("说了“你好” 然后‘走了’", "说了“你好” 然后‘走了’"),
    ("a\u3000b", "a\u3000b"),
]


@pytest.mark.parametrize(("rest", "notes"), NOTES_EXACT)
def test_notes_exact(rest: str, notes: str) -> None:
    assert log("王芳 " + rest).notes == notes


def test_notes_5000_chars_exact() -> None:
    unit = "第一行 <script>&amp; 😀\n  two  spaces\t"
    body = (unit * (5000 // len(unit) + 1))[:5000].strip()
    entry = log(f"王芳 {body} trust=4")
    assert entry.notes == body
    assert entry.trust == 4
    assert len(entry.notes) == len(body)


def test_notes_8000_ok() -> None:
    assert len(log("王芳 " + "x" * 8000).notes) == 8000


# ------------------------------------------------------------------ /status /goal /plan

STATUS_OK = [
    ("王芳", g.StatusUpdate(ClientRef("王芳"))),
    ("王芳 trust=4", g.StatusUpdate(ClientRef("王芳"), trust=4)),
    ("王芳 trust=4 sat=3 risk=medium", g.StatusUpdate(ClientRef("王芳"), 4, 3, Risk.MEDIUM)),
    ("王芳 信任=2 满意度=1 风险=高", g.StatusUpdate(ClientRef("王芳"), 2, 1, Risk.HIGH)),
    ("12 risk=c", g.StatusUpdate(ClientRef("12"), risk=Risk.CRISIS)),
    ('"Li Ming" satisfaction=5', g.StatusUpdate(ClientRef("Li Ming", True), satisfaction=5)),
]


@pytest.mark.parametrize(("args", "expected"), STATUS_OK)
def test_status(args: str, expected: g.StatusUpdate) -> None:
    got = g.parse_status(args)
    assert got == expected
    assert got.is_query == (args in ("王芳",))


GOAL_OK = [
    ("王芳 2027 年考研", g.Goal(ClientRef("王芳"), "2027 年考研")),
    ("wf  graduate\n  then work abroad ", g.Goal(ClientRef("wf"), "graduate\n  then work abroad")),
    ("王芳 trust=5 is a=b text", g.Goal(ClientRef("王芳"), "trust=5 is a=b text")),
]


@pytest.mark.parametrize(("args", "expected"), GOAL_OK)
def test_goal(args: str, expected: g.Goal) -> None:
    assert g.parse_goal(args) == expected


PLAN_OK = [
    (
        "王芳 下周一 15:00 看看辅导计划",
        g.PlanSpec(ClientRef("王芳"), utc(2026, 11, 30, 15, 0), "看看辅导计划"),
    ),
    (
        "王芳 下周一 看看辅导计划",
        g.PlanSpec(ClientRef("王芳"), utc(2026, 11, 30, 9, 0), "看看辅导计划"),
    ),
    ("王芳 12-01 14:30 call", g.PlanSpec(ClientRef("王芳"), utc(2026, 12, 1, 14, 30), "call")),
    ("王芳 12-01 call", g.PlanSpec(ClientRef("王芳"), utc(2026, 12, 1, 9, 0), "call")),
    (
        "wf 3d check\n the team",
        g.PlanSpec(ClientRef("wf"), utc(2026, 12, 1, 9, 0), "check\n the team"),
    ),
    (
        "wf tomorrow 9am call back",
        g.PlanSpec(ClientRef("wf"), utc(2026, 11, 29, 9, 0), "call back"),
    ),
    ('wf "12-01 14:30" call', g.PlanSpec(ClientRef("wf"), utc(2026, 12, 1, 14, 30), "call")),
    ("wf 14:30 call", g.PlanSpec(ClientRef("wf"), utc(2026, 11, 28, 14, 30), "call")),
    ("wf 明天下午3点 回访", g.PlanSpec(ClientRef("wf"), utc(2026, 11, 29, 15, 0), "回访")),
]


@pytest.mark.parametrize(("args", "expected"), PLAN_OK)
def test_plan(args: str, expected: g.PlanSpec) -> None:
    assert plan(args) == expected


# ------------------------------------------------------------------ refs, lang, scores

REF_OK = [
    ("王芳", ClientRef("王芳"), 2),
    ("  王芳  rest", ClientRef("王芳"), 4),
    ('"Li  Ming" x', ClientRef("Li Ming", True), 10),
    ("「王 芳」", ClientRef("王 芳", True), 5),
    ("12", ClientRef("12"), 2),
    ("王芳：notes", ClientRef("王芳"), 3),
]


@pytest.mark.parametrize(("args", "ref", "rest"), REF_OK)
def test_client_ref(args: str, ref: ClientRef, rest: int) -> None:
    assert g.parse_client_ref(args) == (ref, rest)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("王芳", "王芳"),
        ("  Wang   Fang ", "Wang Fang"),
        ('"Li Ming"', "Li Ming"),
        ("7", "7"),
        ("「王芳」", "王芳"),
        ("王芳：", "王芳"),
    ],
)
def test_client_only(args: str, expected: str) -> None:
    assert g.parse_client_only(args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", None),
        ("  ", None),
        ("zh", "zh"),
        ("CN", "zh"),
        ("中文", "zh"),
        ("zh-CN", "zh"),
        ("en", "en"),
        ("English", "en"),
        ("英文", "en"),
        ("英语", "en"),
    ],
)
def test_lang(args: str, expected: str | None) -> None:
    assert g.parse_lang(args) == expected


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("", 9, None),
        ("  ", 7, None),
        ("2 2 1 0 0 0 1 1 0", 9, (2, 2, 1, 0, 0, 0, 1, 1, 0)),
        ("221000110", 9, (2, 2, 1, 0, 0, 0, 1, 1, 0)),
        ("3,3,3,3,3,3,3", 7, (3,) * 7),
        ("０１２３０１２", 7, (0, 1, 2, 3, 0, 1, 2)),
        ("1，2，3、0 1 2 3", 7, (1, 2, 3, 0, 1, 2, 3)),
    ],
)
def test_scores(text: str, n: int, expected: tuple[int, ...] | None) -> None:
    assert g.parse_scores(text, n) == expected


def test_screening() -> None:
    assert g.parse_screening("王芳 221000110", 9) == g.ScreeningSpec(
        ClientRef("王芳"), (2, 2, 1, 0, 0, 0, 1, 1, 0)
    )
    assert g.parse_screening("3", 7) == g.ScreeningSpec(ClientRef("3"), None)


# ------------------------------------------------------------------ errors

P = {"now": NOW, "tz": SH}
BAD: list[tuple[str, str, str, dict[str, object]]] = [
    # (function, args, code, params)
    ("log", "", "missing_client", {"command": "log"}),
    ("log", "   \n ", "missing_client", {"command": "log"}),
    ("log", "trust=3 hello", "missing_client", {"command": "log"}),
    ("log", "#need hello", "missing_client", {"command": "log"}),
    ("status", "", "missing_client", {"command": "status"}),
    ("goal", "", "missing_client", {"command": "goal"}),
    ("plan", "", "missing_client", {"command": "plan"}),
    ("client_only", "", "missing_client", {"command": "map"}),
    ("client_only", '""', "missing_client", {"command": "map"}),
    ("screening", "", "missing_client", {"command": "phq9"}),
    ("log", '"Li Ming met', "unclosed_quote", {"quote": '"', "command": "log"}),
    ("client_only", "“Li", "unclosed_quote", {"quote": "“", "command": "map"}),
    ("new", '"Li Ming', "unclosed_quote", {"quote": '"', "command": "new"}),
    ("new", "", "missing_name", {}),
    ("new", '""', "missing_name", {}),
    ("new", "#班干部", "missing_name", {}),
    ("new", "sid=1", "missing_name", {}),
    ("new", "王" * 65, "name_too_long", {"length": 65, "max": 64}),
    ("new", "12345", "name_is_number", {"name": "12345"}),
    ("new", "１２", "name_is_number", {"name": "１２"}),
    ("new", "/王芳", "name_bad_start", {"name": "/王芳", "char": "/"}),
    ("new", '"#王芳"', "name_bad_start", {"name": "#王芳", "char": "#"}),
    ("new", '"Li\nMing"', "name_bad_char", {"name": "Li Ming"}),
    ("new", "王 芳", "new_extra_words", {"name": "王", "extra": "芳"}),
    ("new", "Li Ming #a", "new_extra_words", {"name": "Li", "extra": "Ming"}),
    (
        "new",
        "王芳 class=3",
        "unknown_key",
        {"key": "class", "known": "sid, major, grade", "command": "new"},
    ),
    (
        "status",
        "王芳 via=face",
        "unknown_key",
        {"key": "via", "known": "trust, sat, risk", "command": "status"},
    ),
    ("new", "王芳 #", "empty_tag", {"command": "new"}),
    ("log", "王芳 hi #", "empty_tag", {"command": "log"}),
    ("log", "王芳 hi #?", "empty_tag", {"command": "log"}),
    ("new", "王芳 #" + "长" * 33, "tag_too_long", {"tag": "长" * 32 + "…", "max": 32}),
    ("log", "王芳 hi #" + "x" * 201, "tag_too_long", {"tag": "x" * 32 + "…", "max": 200}),
    (
        "new",
        "王芳 " + " ".join(f"#t{i}" for i in range(21)),
        "too_many_tags",
        {"max": 20, "have": 21},
    ),
    (
        "status",
        "王芳 " + " ".join(f"#t{i}" for i in range(300)),
        "too_many_tags",
        {"max": 20, "have": 21},
    ),
    ("new", "王芳 sid=", "empty_value", {"key": "sid", "command": "new"}),
    ("log", "王芳 hi trust=", "empty_value", {"key": "trust", "command": "log"}),
    ("log", "王芳 hi next=", "empty_value", {"key": "next", "command": "log"}),
    ("status", "王芳 risk=", "empty_value", {"key": "risk", "command": "status"}),
    ("log", "王芳 hi trust=3 trust=4", "duplicate_option", {"key": "trust"}),
    ("log", "王芳 hi trust=3 信任=4", "duplicate_option", {"key": "信任"}),
    ("new", "王芳 sid=1 学号=2", "duplicate_option", {"key": "学号"}),
    ("status", "王芳 sat=1 sat=2", "duplicate_option", {"key": "sat"}),
    ("new", "王芳 major=" + "m" * 65, "value_too_long", {"key": "major", "max": 64}),
    ("log", "王芳 hi trust=9", "bad_trust", {"value": "9"}),
    ("log", "王芳 hi trust=0", "bad_trust", {"value": "0"}),
    ("log", "王芳 hi trust=3.5", "bad_trust", {"value": "3.5"}),
    ("status", "王芳 trust=high", "bad_trust", {"value": "high"}),
    ("log", "王芳 hi sat=6", "bad_satisfaction", {"value": "6"}),
    ("status", "王芳 满意=很好", "bad_satisfaction", {"value": "很好"}),
    ("log", "王芳 hi risk=extreme", "bad_risk", {"value": "extreme"}),
    ("status", "王芳 risk=9", "bad_risk", {"value": "9"}),
    ("log", "王芳 hi via=pigeon", "bad_channel", {"value": "pigeon"}),
    ("log", "王芳", "log_needs_notes", {"client": "王芳"}),
    ("log", "王芳 #实习 trust=3", "log_needs_notes", {"client": "王芳"}),
    ("log", '"Li Ming" via=face', "log_needs_notes", {"client": '"Li Ming"'}),
    ("log", "王芳 " + "x" * 8001, "notes_too_long", {"length": 8001, "max": 8000}),
    ("status", "王芳 4", "status_extra_words", {"client": "王芳", "words": "4"}),
    ("status", "Wang Fang trust=3", "status_extra_words", {"client": "Wang", "words": "Fang"}),
    ("goal", "王芳", "goal_needs_text", {"client": "王芳"}),
    ("goal", "王芳 " + "g" * 2001, "text_too_long", {"length": 2001, "max": 2000}),
    ("plan", "王芳 明天 " + "p" * 2001, "text_too_long", {"length": 2001, "max": 2000}),
    ("plan", "王芳", "plan_needs_when", {"client": "王芳"}),
    ("plan", "王芳 明天", "plan_needs_text", {"client": "王芳", "when": "明天"}),
    ("plan", "王芳 明天 9:00", "plan_needs_text", {"client": "王芳", "when": "明天 9:00"}),
    ("plan", "王芳 someday call", "bad_when", {"text": "someday"}),
    ("plan", "王芳 02-30 call", "bad_when", {"text": "02-30"}),
    ("plan", "王芳 someday hi", "bad_when", {"text": "someday"}),
    (
        "plan",
        "王芳 11-28 08:00 call",
        "past_when",
        {"text": "11-28 08:00", "when": "2026-11-28 08:00"},
    ),
    ("plan", "王芳 today call", "past_when", {"text": "today", "when": "2026-11-28 09:00"}),
    ("plan", "王芳 2026-01-01 hi", "past_when", {"text": "2026-01-01", "when": "2026-01-01 09:00"}),
    ("lang", "fr", "bad_lang", {"value": "fr"}),
    ("lang", "klingon", "bad_lang", {"value": "klingon"}),
    ("scores9", "2 2 1", "scores_count", {"expected": 9, "got": 3, "command": "phq9"}),
    ("scores7", "12301230", "scores_count", {"expected": 7, "got": 8, "command": "gad7"}),
    ("scores9", "2 2 4 0 0 0 1 1 0", "bad_score", {"item": 3, "value": "4", "command": "phq9"}),
    ("scores7", "01x0120", "bad_score", {"item": 3, "value": "x", "command": "gad7"}),
    ("scores7", "1 2 -1", "bad_score", {"item": 3, "value": "-1", "command": "gad7"}),
    ("screening", "王芳 2 2 5", "bad_score", {"item": 3, "value": "5", "command": "phq9"}),
]

CALL = {
    "new": g.parse_new,
    "log": lambda a: g.parse_log(a, NOW, SH),
    "status": g.parse_status,
    "goal": g.parse_goal,
    "plan": lambda a: g.parse_plan(a, NOW, SH),
    "client_only": g.parse_client_only,
    "lang": g.parse_lang,
    "scores9": lambda a: g.parse_scores(a, 9),
    "scores7": lambda a: g.parse_scores(a, 7),
    "screening": lambda a: g.parse_screening(a, 9),
}


@pytest.mark.parametrize(("fn", "args", "code", "params"), BAD)
def test_bad_input(fn: str, args: str, code: str, params: dict[str, object]) -> None:
    with pytest.raises(CommandError) as e:
        CALL[fn](args)
    assert e.value.code == code
    assert e.value.params == params


def test_every_code_is_raised_in_the_table() -> None:
    from tests.unit.test_outcome_strengths import OUTCOME_BAD  # /log outcome=
    from tests.unit.test_practice_mode import VALUE_BAD  # practice mode /status
    from tests.unit.test_recurrence import BAD as RECURRENCE_BAD  # recurring /plan
    from tests.unit.test_roster import ROSTER_BAD  # roster import
    from tests.unit.test_schedule import BAD as SCHEDULE_BAD  # /settings codes live there

    assert (
        {code for _, _, code, _ in BAD + SCHEDULE_BAD}
        | {code for _, code, _ in RECURRENCE_BAD + OUTCOME_BAD + VALUE_BAD}
        | {"practice_only"}  # raised by services.records on campus (tests/e2e/test_practice.py)
        | {code for _, _, code in ROSTER_BAD}
    ) == ERROR_CODES


_ENV = Environment(
    loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined
)
_ALLOWED_TAG = re.compile(r"</?(b|i|code)>")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_code_has_a_template(lang: str) -> None:
    for code in ERROR_CODES:
        assert (TEMPLATES / lang / "errors" / f"{code}.j2").is_file(), (lang, code)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(("fn", "args", "code", "params"), BAD)
def test_templates_render_raised_params(
    lang: str, fn: str, args: str, code: str, params: dict[str, object]
) -> None:
    with pytest.raises(CommandError) as e:
        CALL[fn](args)
    text = _ENV.get_template(f"{lang}/errors/{e.value.code}.j2").render(**e.value.params)
    assert text.strip()
    assert "{{" not in text and "{%" not in text
    assert "<" not in _ALLOWED_TAG.sub("", text), text  # only Telegram-safe tags
    assert "/" in text  # shows a working command
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", text)


def test_template_escapes_params() -> None:
    with pytest.raises(CommandError) as e:
        g.parse_log("王芳 hi via=<b>x&y", NOW, SH)
    text = _ENV.get_template(f"en/errors/{e.value.code}.j2").render(**e.value.params)
    assert "&lt;b&gt;x&amp;y" in text


def test_command_error_basics() -> None:
    err = CommandError("bad_trust", value="9")
    assert (err.code, err.params) == ("bad_trust", {"value": "9"})
    assert str(err) == "bad_trust(value='9')"
    back = pickle.loads(pickle.dumps(err))
    assert (back.code, back.params) == ("bad_trust", {"value": "9"})
    assert isinstance(err, Exception)


# ------------------------------------------------------------------ vocab


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("face", "face"),
        ("面谈", "face"),
        ("当面", "face"),
        ("F2F", "face"),
        ("in-person", "face"),
        ("phone", "phone"),
        ("电话", "phone"),
        ("call", "phone"),
        ("chat", "chat"),
        ("线上", "chat"),
        ("微信", "chat"),
        ("WeChat", "chat"),
        ("qq", "chat"),
        ("online", "chat"),
        ("message", "chat"),
        ("dorm", "dorm"),
        ("宿舍", "dorm"),
        ("宿舍走访", "dorm"),
        ("dorm-visit", "dorm"),
        ("dorm_visit", "dorm"),
        ("email", "email"),
        ("邮件", "email"),
        ("class", "class"),
        ("课堂", "class"),
        ("observation", "class"),
        ("观察", "class"),
        ("parent", "parent"),
        ("家长", "parent"),
        ("teacher", "teacher"),
        ("老师", "teacher"),
        ("任课老师", "teacher"),
        ("group", "group"),
        ("团体", "group"),
        ("班会", "group"),
        ("survey", "survey"),
        ("问卷", "survey"),
        ("other", "other"),
        ("其他", "other"),
        ("pigeon", None),
        ("", None),
    ],
)
def test_parse_channel(text: str, code: str | None) -> None:
    assert parse_channel(text) == code


def test_channel_labels() -> None:
    assert channel_label("dorm", "zh") == "宿舍走访"
    assert channel_label("dorm", "en") == "dorm visit"
    assert channel_label("face", "zh-hans") == "面谈"
    assert channel_label("unknown", "en") == "unknown"
    assert channel_label(None, "en") == ""
    for code, ch in CHANNELS.items():
        assert parse_channel(ch.zh) == code and parse_channel(ch.en) == code
    assert g.CHANNELS is CHANNELS
    assert need_source("dorm") == "dorm" and need_source(None) is None
    assert need_source("nope") is None


# ------------------------------------------------------------------ robustness


_ALPHABET = st.sampled_from(
    list(" \n\t#＃?？=＝\"'“”「」‘’:：，,.-/0123456789abcdemnotwhy王芳明天下周一点半后")
    + ["trust=", "sat=", "risk=", "via=", "next=", "sid=", "#?", "12-01", "14:30", "😀", "<&>"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=30).map("".join))
def test_parsers_raise_only_command_errors(text: str) -> None:
    for fn in (*CALL.values(), lambda a: parse_when(a, NOW, SH), lambda a: match_client(a, [])):
        try:
            fn(text)
        except CommandError as e:
            assert e.code in ERROR_CODES


def test_team_subcommands_in_either_language():
    from domain.grammar import team_subcommand

    assert team_subcommand("移交") == team_subcommand("handover") == "handover"
    assert team_subcommand("LIST") == team_subcommand("列表") == "list"
    assert team_subcommand("停用") == "deactivate" and team_subcommand("作废") == "revoke"
    assert team_subcommand("学生") is None
