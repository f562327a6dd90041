"""Issue 13: input typed the way people type Chinese on a phone, as one table.

Full-width slashes and letters, Chinese colons and equals signs, everyday times, typos.
Every row is what a counsellor typed and what the bot must make of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain import grammar as g
from domain.grammar import ClientRef, InputWarning
from domain.model import Risk
from domain.when import parse_when

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=SH)  # a Saturday
KNOWN = (
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
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(UTC)


# ------------------------------------------------------------------ commands

COMMAND_FORMS = [
    ("／log 学生B 路上碰到", ("log", "学生B 路上碰到", False)),
    ("／ｌｏｇ 学生B 路上碰到", ("log", "学生B 路上碰到", False)),
    ("/ｍａｐ 学生B", ("map", "学生B", True)),
    ("／map学生B", ("map", "学生B", False)),  # no space after the name
    ("、log 学生B 在图书馆", ("log", "学生B 在图书馆", False)),  # a Chinese keyboard's "/"
    ("／today", ("today", "", False)),
    ("／phq9 学生B", ("phq9", "学生B", False)),
    ("／ＬＯＧ 学生B\n第二行", ("log", "学生B\n第二行", False)),
    ("／log@caremap_bot 学生B 你好", ("log", "学生B 你好", False)),
    ("今天来办公室", None),
    ("／", None),
    ("／ 学生B", None),
]


@pytest.mark.parametrize(("text", "expected"), COMMAND_FORMS)
def test_split_command(text: str, expected: tuple[str, str, bool] | None) -> None:
    assert g.split_command(text) == expected


TYPOS = [
    ("lgo", "log"),
    ("lo", "log"),
    ("logg", "log"),
    ("mpa", "map"),
    ("clinets", "clients"),
    ("clients", None),  # no typo: nothing to suggest
    ("statsu", "status"),
    ("tody", "today"),
    ("xyz", None),
    ("phq8", "phq9"),
]


@pytest.mark.parametrize(("typed", "meant"), TYPOS)
def test_suggest_command(typed: str, meant: str | None) -> None:
    assert g.suggest_command(typed, KNOWN) == meant


# ------------------------------------------------------------------ /log options

LOG_FORMS = [
    # `：` and `＝` work like `=`
    (
        "学生B 路上碰到 trust：4 next：周五",
        g.LogEntry(ClientRef("学生B"), "路上碰到", trust=4, next_due=utc(2026, 12, 4, 9, 0)),
    ),
    (
        "学生B 路上碰到 trust＝4 risk＝high",
        g.LogEntry(ClientRef("学生B"), "路上碰到", trust=4, risk=Risk.HIGH),
    ),
    (
        "学生B 路上碰到 trust:4 via:电话",
        g.LogEntry(ClientRef("学生B"), "路上碰到", channel="phone", trust=4),
    ),
    (
        "学生B 路上碰到 信任：4 风险：高 下次：明天下午",
        g.LogEntry(
            ClientRef("学生B"),
            "路上碰到",
            trust=4,
            risk=Risk.HIGH,
            next_due=utc(2026, 11, 29, 15, 0),
        ),
    ),
    (
        "学生B 路上碰到 trust： 4",  # a space after the colon
        g.LogEntry(ClientRef("学生B"), "路上碰到", trust=4),
    ),
    (
        "学生B 路上碰到 trust=４，",  # full-width digit and a trailing comma
        g.LogEntry(ClientRef("学生B"), "路上碰到", trust=4),
    ),
    # everyday times after next=
    (
        "学生B 路上碰到 next=下周",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_due=utc(2026, 11, 30, 9, 0)),
    ),
    (
        "学生B 路上碰到 next=明天下午",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_due=utc(2026, 11, 29, 15, 0)),
    ),
    (
        "学生B 路上碰到 next=下周三上午",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_due=utc(2026, 12, 2, 9, 0)),
    ),
    (
        "学生B 路上碰到 next=周五晚上",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_due=utc(2026, 12, 4, 19, 0)),
    ),
    (
        "学生B 路上碰到 next=3天后",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_due=utc(2026, 12, 1, 9, 0)),
    ),
    (
        "学生B 路上碰到 next=2d",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_due=utc(2026, 11, 30, 9, 0)),
    ),
    # a date the bot cannot read: the note is kept, the date is asked for
    (
        "学生B 路上碰到 next=过几天",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_unread="过几天", next_error="bad_when"),
    ),
    (
        "学生B 路上碰到 next=昨天",
        g.LogEntry(ClientRef("学生B"), "路上碰到", next_unread="昨天", next_error="bad_when"),
    ),
    (
        "学生B 路上碰到 next=2026-01-01",
        g.LogEntry(
            ClientRef("学生B"), "路上碰到", next_unread="2026-01-01", next_error="past_when"
        ),
    ),
    # an option the bot cannot read is never silently kept as text: it is said back
    (
        "学生B 路上碰到 trsut=4",
        g.LogEntry(
            ClientRef("学生B"),
            "路上碰到 trsut=4",
            warnings=(InputWarning("unknown_option", "trsut=4", "trust"),),
        ),
    ),
    (
        "学生B 路上碰到 nxet：周五",
        g.LogEntry(
            ClientRef("学生B"),
            "路上碰到 nxet：周五",
            warnings=(InputWarning("unknown_option", "nxet：周五", "next"),),
        ),
    ),
    (
        "学生B 路上碰到 心情=不错",
        g.LogEntry(
            ClientRef("学生B"),
            "路上碰到 心情=不错",
            warnings=(InputWarning("unknown_option", "心情=不错", ""),),
        ),
    ),
    # prose with a colon stays prose, silently
    (
        "学生B 原因：家里的事 时间 14:30",
        g.LogEntry(ClientRef("学生B"), "原因：家里的事 时间 14:30"),
    ),
    ("学生B 见 https://x.org/?a=b", g.LogEntry(ClientRef("学生B"), "见 https://x.org/?a=b")),
]


@pytest.mark.parametrize(("args", "expected"), LOG_FORMS)
def test_log_forms(args: str, expected: g.LogEntry) -> None:
    assert g.parse_log(args, NOW, SH) == expected


def test_status_and_new_take_chinese_colons() -> None:
    s = g.parse_status("学生B trust：3 风险：中")
    assert (s.trust, s.risk) == (3, Risk.MEDIUM)
    n = g.parse_new("周晓雯 学号：2025027 专业：会计")
    assert (n.sid, n.major) == ("2025027", "会计")


# ------------------------------------------------------------------ <when>

WHEN_FORMS = [
    ("下周", utc(2026, 11, 30, 9, 0)),
    ("明天下午", utc(2026, 11, 29, 15, 0)),
    ("下周三上午", utc(2026, 12, 2, 9, 0)),
    ("周五晚上", utc(2026, 12, 4, 19, 0)),
    ("明天", utc(2026, 11, 29, 9, 0)),
    ("3天后", utc(2026, 12, 1, 9, 0)),
    ("2d", utc(2026, 11, 30, 9, 0)),
    ("两周后", utc(2026, 12, 12, 9, 0)),
    ("下周一", utc(2026, 11, 30, 9, 0)),
    ("１２月１日 下午３点", utc(2026, 12, 1, 15, 0)),
]


@pytest.mark.parametrize(("text", "expected"), WHEN_FORMS)
def test_when_forms(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, SH) == expected


def test_a_name_or_pinyin_at_the_start_of_a_note():
    from domain.matching import named_at_start
    from domain.model import Client

    clients = [
        Client(id=i, counsellor_id=1, number=i, name=n)
        for i, n in enumerate(("田欣怡", "王芳", "王芳芳", "Li Ming"), start=1)
    ]
    assert [c.name for c in named_at_start("田欣怡 今天来办公室问转专业的流程", clients)] == [
        "田欣怡"
    ]
    assert [c.name for c in named_at_start("田欣怡今天来办公室", clients)] == ["田欣怡"]
    assert [c.name for c in named_at_start("txy 今天来办公室", clients)] == ["田欣怡"]
    assert [c.name for c in named_at_start("tianxinyi：来问转专业", clients)] == ["田欣怡"]
    assert [c.name for c in named_at_start("王芳芳说她很累", clients)] == ["王芳芳", "王芳"]
    assert named_at_start("今天在食堂碰到", clients) == []
    assert named_at_start("the meeting went well", clients) == []
