"""Recurring follow-ups: the grammar of `/plan … every …` and the occurrence arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.errors import CommandError
from domain.model import Risk
from domain.recurrence import (
    Recurrence,
    RecurringPlanSpec,
    StopSpec,
    next_occurrence,
    occurrence,
    parse_recurring_plan,
    stop_below_for,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # Saturday 10:00 in Shanghai


def local(dt: datetime) -> str:
    return dt.astimezone(SH).strftime("%Y-%m-%d %H:%M")


def parse(args: str):
    return parse_recurring_plan(args, NOW, SH)


@pytest.mark.parametrize(
    ("args", "every", "first", "text", "until"),
    [
        (
            "学生B every 1w 学业跟进 until 2027-01-15",
            "1w",
            "2026-12-05 10:00",
            "学业跟进",
            "2027-01-15 23:59",
        ),
        ("学生B 每周 学业跟进", "1w", "2026-12-05 10:00", "学业跟进", None),
        ("学生B 每两周 进度复盘", "2w", "2026-12-12 10:00", "进度复盘", None),
        ("学生B 隔周 进度复盘", "2w", "2026-12-12 10:00", "进度复盘", None),
        ("学生B 每月 看看竞赛队", "1m", "2026-12-28 10:00", "看看竞赛队", None),
        ("学生B 每3天 打个电话", "3d", "2026-12-01 10:00", "打个电话", None),
        ("学生B 每2个月 复盘", "2m", "2027-01-28 10:00", "复盘", None),
        ("学生B every 2 weeks review the plan", "2w", "2026-12-12 10:00", "review the plan", None),
        ("学生B every=2w review", "2w", "2026-12-12 10:00", "review", None),
        (
            "学生B weekly check in until=2027-01-15",
            "1w",
            "2026-12-05 10:00",
            "check in",
            "2027-01-15 23:59",
        ),
        ("学生B fortnightly review", "2w", "2026-12-12 10:00", "review", None),
        ("学生B monthly review", "1m", "2026-12-28 10:00", "review", None),
        (
            "学生B 每周 明天 15:00 学业跟进 直到 2027-01-15",
            "1w",
            "2026-11-29 15:00",
            "学业跟进",
            "2027-01-15 23:59",
        ),
        ("学生B 下周一 15:00 每周 学业跟进", "1w", "2026-11-30 15:00", "学业跟进", None),
        (
            "学生B 每周三 学业跟进 直到2027-01-15",
            "1w",
            "2026-12-02 09:00",
            "学业跟进",
            "2027-01-15 23:59",
        ),
        ("学生B every wed study check", "1w", "2026-12-02 09:00", "study check", None),
        (
            '"Li Ming" every 1w call 截止 1月15日',
            "1w",
            "2026-12-05 10:00",
            "call",
            "2027-01-15 23:59",
        ),
    ],
)
def test_recurring_plans(args, every, first, text, until):
    spec = parse(args)
    assert isinstance(spec, RecurringPlanSpec)
    assert spec.every.code == every
    assert local(spec.first_due) == first
    assert spec.text == text
    assert (local(spec.until) if spec.until else None) == until


@pytest.mark.parametrize(
    "args",
    [
        "王芳 明天 跟进每周作业",
        "王芳 明天 每周例会的安排",
        "王芳 2h call",
        "王芳 下周一 15:00 看看辅导计划",
    ],
)
def test_one_off_plans_are_not_recurring(args):
    assert parse(args) is None


@pytest.mark.parametrize("args", ["学生B stop", "学生B 停止", "学生B 结束", "学生B STOP"])
def test_stop(args):
    spec = parse(args)
    assert isinstance(spec, StopSpec) and spec.client_ref.text == "学生B"


BAD = [
    ("学生B every 0w x", "bad_every", {"value": "every 0w"}),
    ("学生B every 2y x", "bad_every", {"value": "every 2y"}),
    ("学生B every 60m x", "bad_every", {"value": "every 60m"}),
    ("学生B 每零周 x", "bad_every", {"value": "每零周"}),
    ("学生B every", "bad_every", {"value": "every"}),
    ("学生B 每周 学业跟进 直到 someday", "bad_until", {"value": "直到 someday"}),
    ("学生B 每周 学业跟进 until=nope", "bad_until", {"value": "until=nope"}),
    (
        "学生B 每周 学业跟进 直到 12-01",
        "until_before_start",
        {"until": "12-01", "first": "2026-12-05 10:00"},
    ),
    ("学生B 每周", "plan_needs_text", {"client": "学生B", "when": "每周"}),
]


@pytest.mark.parametrize(("args", "code", "params"), BAD)
def test_bad(args, code, params):
    with pytest.raises(CommandError) as e:
        parse(args)
    assert e.value.code == code
    assert e.value.params == params


def test_past_first_time_is_refused():
    with pytest.raises(CommandError) as e:
        parse("学生B 每周 11-28 08:00 学业跟进")
    assert e.value.code == "past_when"


def test_weekly_keeps_the_wall_clock_across_dst():
    ny = ZoneInfo("America/New_York")
    first = datetime(2026, 10, 26, 13, 0, tzinfo=UTC)  # Mon 09:00 EDT
    later = occurrence(first, Recurrence("w", 1), 1, ny)  # 2026-11-02, after the change to EST
    assert later.astimezone(ny).strftime("%H:%M") == "09:00"
    assert later - first != (first - first)  # 7 days and an hour


def test_monthly_on_the_31st_clamps_and_returns():
    first = datetime(2027, 1, 31, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    days = [local(occurrence(first, Recurrence("m", 1), k, SH))[:10] for k in range(4)]
    assert days == ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]


def test_next_occurrence_skips_what_was_missed_and_stops_at_until():
    first = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    every = Recurrence("w", 1)
    assert next_occurrence(first, every, 0, first, SH) == (
        1,
        datetime(2026, 12, 12, 2, 0, tzinfo=UTC),
    )
    # the bot was down for three weeks: the next one is the first still ahead
    seq, due = next_occurrence(first, every, 0, datetime(2026, 12, 27, 0, 0, tzinfo=UTC), SH)
    assert (seq, local(due)) == (4, "2027-01-02 10:00")
    until = datetime(2027, 1, 1, 15, 59, tzinfo=UTC)
    assert (
        next_occurrence(first, every, 3, datetime(2026, 12, 26, 3, 0, tzinfo=UTC), SH, until)
        is None
    )


def test_stop_below():
    assert stop_below_for(Risk.LOW) is None
    assert stop_below_for(Risk.HIGH) is Risk.HIGH


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(("args", "code", "params"), BAD)
def test_error_templates_render(lang, args, code, params):
    from tests.unit.test_grammar import _ALLOWED_TAG, _ENV

    with pytest.raises(CommandError) as e:
        parse(args)
    text = _ENV.get_template(f"{lang}/errors/{e.value.code}.j2").render(**e.value.params)
    assert "{{" not in text and "<" not in _ALLOWED_TAG.sub("", text)
    assert "/plan" in text
