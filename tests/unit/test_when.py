from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.errors import CommandError
from domain.when import DayTimes, cn_number, parse_when

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=SH)  # a Saturday


def local(*args: int, tz: ZoneInfo = SH) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)


FORMS = [
    # absolute dates, default 09:00
    ("2026-12-01", local(2026, 12, 1, 9, 0)),
    ("2026/12/01", local(2026, 12, 1, 9, 0)),
    ("2027-1-5", local(2027, 1, 5, 9, 0)),
    ("2026年12月1日", local(2026, 12, 1, 9, 0)),
    ("12-01", local(2026, 12, 1, 9, 0)),
    ("12/01", local(2026, 12, 1, 9, 0)),
    ("12-1", local(2026, 12, 1, 9, 0)),
    ("12月1日", local(2026, 12, 1, 9, 0)),
    ("12月1号", local(2026, 12, 1, 9, 0)),
    ("12月1日 15:00", local(2026, 12, 1, 15, 0)),
    ("12-01 14:30", local(2026, 12, 1, 14, 30)),
    ("12/01 14:30", local(2026, 12, 1, 14, 30)),
    ("２０２６－１２－０１", local(2026, 12, 1, 9, 0)),  # full-width
    ("12-01 14：30", local(2026, 12, 1, 14, 30)),  # full-width colon
    # year roll: a month-day already before today is next year
    ("01-01", local(2027, 1, 1, 9, 0)),
    ("11-27", local(2027, 11, 27, 9, 0)),
    ("11-28 15:00", local(2026, 11, 28, 15, 0)),  # today, later on
    # lone times
    ("14:30", local(2026, 11, 28, 14, 30)),
    ("10:01", local(2026, 11, 28, 10, 1)),
    ("10:00", local(2026, 11, 29, 10, 0)),  # not strictly ahead → tomorrow
    ("9:00", local(2026, 11, 29, 9, 0)),
    ("3pm", local(2026, 11, 28, 15, 0)),
    ("9am", local(2026, 11, 29, 9, 0)),
    ("12am", local(2026, 11, 29, 0, 0)),
    ("12pm", local(2026, 11, 28, 12, 0)),
    ("9:30pm", local(2026, 11, 28, 21, 30)),
    ("下午3点", local(2026, 11, 28, 15, 0)),
    ("晚上8点半", local(2026, 11, 28, 20, 30)),
    ("9点", local(2026, 11, 29, 9, 0)),
    ("十点半", local(2026, 11, 28, 10, 30)),
    # exact durations
    ("30m", local(2026, 11, 28, 10, 30)),
    ("30min", local(2026, 11, 28, 10, 30)),
    ("30分钟", local(2026, 11, 28, 10, 30)),
    ("30分钟后", local(2026, 11, 28, 10, 30)),
    ("2h", local(2026, 11, 28, 12, 0)),
    ("2 hours", local(2026, 11, 28, 12, 0)),
    ("1.5h", local(2026, 11, 28, 11, 30)),
    ("2小时", local(2026, 11, 28, 12, 0)),
    ("两小时后", local(2026, 11, 28, 12, 0)),
    ("半小时", local(2026, 11, 28, 10, 30)),
    ("in 2h", local(2026, 11, 28, 12, 0)),
    # day offsets follow the one day-sized rule: the default hour (09:00), like 明天
    ("3d", local(2026, 12, 1, 9, 0)),
    ("3天", local(2026, 12, 1, 9, 0)),
    ("3天后", local(2026, 12, 1, 9, 0)),
    ("三天后", local(2026, 12, 1, 9, 0)),
    ("十天后", local(2026, 12, 8, 9, 0)),
    ("3天后 15:00", local(2026, 12, 1, 15, 0)),
    ("1w", local(2026, 12, 5, 9, 0)),
    ("1周", local(2026, 12, 5, 9, 0)),
    ("两周后", local(2026, 12, 12, 9, 0)),
    ("2个星期后", local(2026, 12, 12, 9, 0)),
    ("in 3 days", local(2026, 12, 1, 9, 0)),
    # day words
    ("today 15:00", local(2026, 11, 28, 15, 0)),
    ("今天 下午3点", local(2026, 11, 28, 15, 0)),
    ("tomorrow", local(2026, 11, 29, 9, 0)),
    ("Tomorrow 9am", local(2026, 11, 29, 9, 0)),
    ("tomorrow at 14:00", local(2026, 11, 29, 14, 0)),
    ("tmr", local(2026, 11, 29, 9, 0)),
    ("明天", local(2026, 11, 29, 9, 0)),
    ("明天 9:00", local(2026, 11, 29, 9, 0)),
    ("明天9点半", local(2026, 11, 29, 9, 30)),
    ("明天下午3点", local(2026, 11, 29, 15, 0)),
    ("后天", local(2026, 11, 30, 9, 0)),
    ("大后天", local(2026, 12, 1, 9, 0)),
    # weekdays: next such day, today's name = a week ahead
    ("mon", local(2026, 11, 30, 9, 0)),
    ("monday", local(2026, 11, 30, 9, 0)),
    ("Mon 15:00", local(2026, 11, 30, 15, 0)),
    ("fri", local(2026, 12, 4, 9, 0)),
    ("sat", local(2026, 12, 5, 9, 0)),
    ("sun", local(2026, 11, 29, 9, 0)),
    ("next mon", local(2026, 11, 30, 9, 0)),
    ("周三", local(2026, 12, 2, 9, 0)),
    ("星期三", local(2026, 12, 2, 9, 0)),
    ("礼拜三", local(2026, 12, 2, 9, 0)),
    ("周六", local(2026, 12, 5, 9, 0)),
    ("周日", local(2026, 11, 29, 9, 0)),
    ("下周一", local(2026, 11, 30, 9, 0)),
    ("下周一 15:00", local(2026, 11, 30, 15, 0)),
    ("下周三", local(2026, 12, 2, 9, 0)),
    ("下周日", local(2026, 12, 6, 9, 0)),
    ("下周天", local(2026, 12, 6, 9, 0)),
    ("下星期五", local(2026, 12, 4, 9, 0)),
    ("下下周一", local(2026, 12, 7, 9, 0)),
    ("这周日", local(2026, 11, 29, 9, 0)),
]


@pytest.mark.parametrize(("text", "expected"), FORMS)
def test_forms(text: str, expected: datetime) -> None:
    got = parse_when(text, NOW, SH)
    assert got == expected
    assert got.tzinfo is UTC


def test_result_is_utc_and_now_may_be_utc() -> None:
    now_utc = NOW.astimezone(UTC)
    assert parse_when("明天", now_utc, SH) == datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def test_chinese_next_week_from_a_monday() -> None:
    mon = datetime(2026, 11, 30, 8, 0, tzinfo=SH)
    assert parse_when("周一", mon, SH) == local(2026, 12, 7, 9, 0)  # today's name: a week on
    assert parse_when("周三", mon, SH) == local(2026, 12, 2, 9, 0)
    assert parse_when("下周三", mon, SH) == local(2026, 12, 9, 9, 0)
    assert parse_when("mon", mon, SH) == local(2026, 12, 7, 9, 0)
    assert parse_when("本周五", mon, SH) == local(2026, 12, 4, 9, 0)


def test_month_ends() -> None:
    jan31 = datetime(2026, 1, 31, 20, 0, tzinfo=SH)
    assert parse_when("tomorrow", jan31, SH) == local(2026, 2, 1, 9, 0)
    assert parse_when("1d", jan31, SH) == local(2026, 2, 1, 9, 0)
    assert parse_when("02-01", jan31, SH) == local(2026, 2, 1, 9, 0)
    assert parse_when("01-31 23:00", jan31, SH) == local(2026, 1, 31, 23, 0)
    feb = datetime(2026, 2, 15, 10, 0, tzinfo=SH)
    assert parse_when("01-31", feb, SH) == local(2027, 1, 31, 9, 0)  # past this year → next
    apr30 = datetime(2026, 4, 30, 10, 0, tzinfo=SH)
    assert parse_when("明天", apr30, SH) == local(2026, 5, 1, 9, 0)
    with pytest.raises(CommandError) as e:
        parse_when("04-31", apr30, SH)
    assert (e.value.code, e.value.params) == ("bad_when", {"text": "04-31"})


def test_month_end_today_morning_is_past() -> None:
    jan31 = datetime(2026, 1, 31, 20, 0, tzinfo=SH)
    with pytest.raises(CommandError) as e:
        parse_when("01-31 09:00", jan31, SH)
    assert (e.value.code, e.value.params) == (
        "past_when",
        {"text": "01-31 09:00", "when": "2026-01-31 09:00"},
    )


def test_year_end() -> None:
    dec31 = datetime(2026, 12, 31, 18, 0, tzinfo=SH)
    assert parse_when("01-01", dec31, SH) == local(2027, 1, 1, 9, 0)
    assert parse_when("明天", dec31, SH) == local(2027, 1, 1, 9, 0)
    assert parse_when("12-31 23:00", dec31, SH) == local(2026, 12, 31, 23, 0)
    assert parse_when("2h", dec31, SH) == local(2026, 12, 31, 20, 0)
    assert parse_when("8h", dec31, SH) == local(2027, 1, 1, 2, 0)
    assert parse_when("fri", dec31, SH) == local(2027, 1, 1, 9, 0)
    assert parse_when("1w", dec31, SH) == local(2027, 1, 7, 9, 0)


def test_feb_29() -> None:
    jan = datetime(2028, 1, 10, 10, 0, tzinfo=SH)
    assert parse_when("02-29", jan, SH) == local(2028, 2, 29, 9, 0)
    assert parse_when("2028-02-29 14:00", jan, SH) == local(2028, 2, 29, 14, 0)
    assert parse_when("2月29日", jan, SH) == local(2028, 2, 29, 9, 0)
    feb28 = datetime(2028, 2, 28, 10, 0, tzinfo=SH)
    assert parse_when("明天", feb28, SH) == local(2028, 2, 29, 9, 0)
    assert parse_when("2d", feb28, SH) == local(2028, 3, 1, 9, 0)


def test_dst_new_york_spring_forward() -> None:
    sat = datetime(2026, 3, 7, 10, 0, tzinfo=NY)  # EST, UTC-5
    # Sunday 2026-03-08 02:00 → 03:00 EDT
    assert parse_when("tomorrow", sat, NY) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert parse_when("1d", sat, NY) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert parse_when("24h", sat, NY) == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)  # 11:00 EDT
    assert parse_when("03-08 01:30", sat, NY) == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert parse_when("03-08 12:00", sat, NY) == datetime(2026, 3, 8, 16, 0, tzinfo=UTC)
    assert parse_when("sun", sat, NY) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_dst_new_york_fall_back() -> None:
    sat = datetime(2026, 10, 31, 10, 0, tzinfo=NY)  # EDT, UTC-4
    # Sunday 2026-11-01 02:00 EDT → 01:00 EST
    assert parse_when("tomorrow", sat, NY) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 09:00 EST
    assert parse_when("1d", sat, NY) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert parse_when("24h", sat, NY) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 09:00 EST
    assert parse_when("11-01 01:30", sat, NY) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 1st
    assert parse_when("明天 12:00", sat, NY) == datetime(2026, 11, 1, 17, 0, tzinfo=UTC)


BAD = [
    ("", "bad_when", {"text": ""}),
    ("   ", "bad_when", {"text": ""}),
    ("someday", "bad_when", {"text": "someday"}),
    ("02-30", "bad_when", {"text": "02-30"}),
    ("2027-02-29", "bad_when", {"text": "2027-02-29"}),
    ("02-29", "bad_when", {"text": "02-29"}),  # 2026 is past Feb, 2027 has none
    ("13-01", "bad_when", {"text": "13-01"}),
    ("12-32", "bad_when", {"text": "12-32"}),
    ("25:00", "bad_when", {"text": "25:00"}),
    ("12:60", "bad_when", {"text": "12:60"}),
    ("13pm", "bad_when", {"text": "13pm"}),
    ("明天 blah", "bad_when", {"text": "明天 blah"}),
    ("12-0114:30", "bad_when", {"text": "12-0114:30"}),
    ("周八", "bad_when", {"text": "周八"}),
    ("半天", "bad_when", {"text": "半天"}),
    ("9999-12-31", "bad_when", {"text": "9999-12-31"}),
    ("0001-01-01", "bad_when", {"text": "0001-01-01"}),
    ("99999999999d", "bad_when", {"text": "99999999999d"}),
    ("99999999999m", "bad_when", {"text": "99999999999m"}),
    ("2026-11-01", "past_when", {"text": "2026-11-01", "when": "2026-11-01 09:00"}),
    ("11-28", "past_when", {"text": "11-28", "when": "2026-11-28 09:00"}),
    ("today", "past_when", {"text": "today", "when": "2026-11-28 09:00"}),
    ("today 8:00", "past_when", {"text": "today 8:00", "when": "2026-11-28 08:00"}),
    ("本周五", "past_when", {"text": "本周五", "when": "2026-11-27 09:00"}),
    ("0m", "past_when", {"text": "0m", "when": "2026-11-28 10:00"}),
    ("0天后", "past_when", {"text": "0天后", "when": "2026-11-28 09:00"}),
]


@pytest.mark.parametrize(("text", "code", "params"), BAD)
def test_bad(text: str, code: str, params: dict[str, object]) -> None:
    with pytest.raises(CommandError) as e:
        parse_when(text, NOW, SH)
    assert e.value.code == code
    assert e.value.params == params


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_when("明天", datetime(2026, 11, 28, 10, 0), SH)


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("3", 3),
        ("三", 3),
        ("两", 2),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("二十五", 25),
        ("x", None),
        ("", None),
        ("十十", None),
    ],
)
def test_cn_number(text: str, n: int | None) -> None:
    assert cn_number(text) == n


# Everyday words (issue 13): parts of the day, 下周 alone, shorthands. NOW is Sat 2026-11-28 10:00.
EVERYDAY = [
    ("下周", local(2026, 11, 30, 9, 0)),  # the Monday of next week
    ("下下周", local(2026, 12, 7, 9, 0)),
    ("next week", local(2026, 11, 30, 9, 0)),
    ("明天下午", local(2026, 11, 29, 15, 0)),
    ("明天 下午", local(2026, 11, 29, 15, 0)),
    ("明天上午", local(2026, 11, 29, 9, 0)),
    ("明天中午", local(2026, 11, 29, 12, 0)),
    ("明天晚上", local(2026, 11, 29, 19, 0)),
    ("明天 下午 3点", local(2026, 11, 29, 15, 0)),
    ("下周三上午", local(2026, 12, 2, 9, 0)),
    ("下周三 上午", local(2026, 12, 2, 9, 0)),
    ("周五晚上", local(2026, 12, 4, 19, 0)),
    ("星期五晚上", local(2026, 12, 4, 19, 0)),
    ("下周 下午", local(2026, 11, 30, 15, 0)),
    ("今晚", local(2026, 11, 28, 19, 0)),
    ("明早", local(2026, 11, 29, 9, 0)),
    ("明早8点", local(2026, 11, 29, 8, 0)),
    ("明晚", local(2026, 11, 29, 19, 0)),
    ("下午", local(2026, 11, 28, 15, 0)),  # a lone part of the day: today if still ahead
    ("上午", local(2026, 11, 29, 9, 0)),  # … else tomorrow
    ("tomorrow afternoon", local(2026, 11, 29, 15, 0)),
    ("fri evening", local(2026, 12, 4, 19, 0)),
    # one rule for every day-sized offset: the same hour as 明天
    ("3天后", local(2026, 12, 1, 9, 0)),
    ("2d", local(2026, 11, 30, 9, 0)),
    ("明天", local(2026, 11, 29, 9, 0)),
    ("３天后", local(2026, 12, 1, 9, 0)),  # full-width digits
    ("１２－０１ １４：３０", local(2026, 12, 1, 14, 30)),
    ("3天后下午", local(2026, 12, 1, 15, 0)),
]


@pytest.mark.parametrize(("text", "expected"), EVERYDAY)
def test_everyday_words(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, SH) == expected


def test_day_sized_offsets_share_one_hour_whatever_the_clock() -> None:
    """At 08:24 `3天后`, `2d`, `1w` and `明天` all land at the same default hour."""
    early = datetime(2026, 11, 28, 8, 24, tzinfo=SH)
    hours = {
        parse_when(w, early, SH).astimezone(SH).time()
        for w in ("3天后", "2d", "1w", "明天", "下周一")
    }
    assert hours == {time(9, 0)}


def test_day_times_from_the_rule_file() -> None:
    times = DayTimes(
        default=time(8, 30), morning=time(8, 0), afternoon=time(14, 0), evening=time(20, 0)
    )
    assert parse_when("明天", NOW, SH, times) == local(2026, 11, 29, 8, 30)
    assert parse_when("2d", NOW, SH, times) == local(2026, 11, 30, 8, 30)
    assert parse_when("明天下午", NOW, SH, times) == local(2026, 11, 29, 14, 0)
    assert parse_when("周五晚上", NOW, SH, times) == local(2026, 12, 4, 20, 0)
    assert parse_when("下周三上午", NOW, SH, times) == local(2026, 12, 2, 8, 0)
    assert parse_when("明天下午4点", NOW, SH, times) == local(2026, 11, 29, 16, 0)  # a clock wins


def test_parts_of_the_day_in_the_past_are_refused() -> None:
    evening = datetime(2026, 11, 28, 21, 0, tzinfo=SH)
    with pytest.raises(CommandError) as e:
        parse_when("今天下午", evening, SH)
    assert e.value.code == "past_when"
    assert parse_when("今晚", datetime(2026, 11, 28, 18, 0, tzinfo=SH), SH) == local(
        2026, 11, 28, 19, 0
    )
