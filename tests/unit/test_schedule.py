from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from domain import schedule as s
from domain.errors import ERROR_CODES, CommandError
from domain.schedule import UNSET, SettingsChange

NY = "America/New_York"
SH = "Asia/Shanghai"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def u(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


# ------------------------------------------------------------------ parse_clock

CLOCK_OK = [
    ("8", "08:00"),
    ("08", "08:00"),
    ("0", "00:00"),
    ("23", "23:00"),
    ("8:30", "08:30"),
    ("08:30", "08:30"),
    ("23:59", "23:59"),
    ("00:00", "00:00"),
    ("８：３０", "08:30"),
    ("  7:05 ", "07:05"),
    ("20点", "20:00"),
    ("8点半", "08:30"),
    ("8点15", "08:15"),
    ("8点15分", "08:15"),
    ("八点", "08:00"),
    ("下午3点", "15:00"),
    ("晚上9点半", "21:30"),
    ("8am", "08:00"),
    ("8pm", "20:00"),
    ("8 PM", "20:00"),
    ("8:30pm", "20:30"),
    ("12am", "00:00"),
    ("12pm", "12:00"),
    ("8a.m.", "08:00"),
]


@pytest.mark.parametrize(("text", "expected"), CLOCK_OK)
def test_parse_clock(text: str, expected: str) -> None:
    assert s.parse_clock(text) == expected
    assert s.parse_clock(expected) == expected  # stored values read back unchanged


# ------------------------------------------------------------------ parse_quiet / parse_agenda

QUIET_OK = [
    ("22-7", "22:00-07:00"),
    ("22:00-07:00", "22:00-07:00"),
    ("22:30-06:45", "22:30-06:45"),
    ("22 - 7", "22:00-07:00"),
    ("22~7", "22:00-07:00"),
    ("22～7", "22:00-07:00"),
    ("10pm-7am", "22:00-07:00"),
    ("10pm to 7am", "22:00-07:00"),
    ("22点到7点", "22:00-07:00"),
    ("22点至7点半", "22:00-07:30"),
    ("12:00-14:00", "12:00-14:00"),
    ("0-6", "00:00-06:00"),
    ("23:59-00:00", "23:59-00:00"),
    ("off", None),
    ("OFF", None),
    ("none", None),
    ("关", None),
    ("无", None),
    ("关闭", None),
]


@pytest.mark.parametrize(("text", "expected"), QUIET_OK)
def test_parse_quiet(text: str, expected: str | None) -> None:
    assert s.parse_quiet(text) == expected
    if expected is not None:
        assert s.parse_quiet(expected) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:00", "08:00"),
        ("8", "08:00"),
        ("7点半", "07:30"),
        ("9am", "09:00"),
        ("0", "00:00"),
        ("off", None),
        ("None", None),
        ("关", None),
        ("无", None),
    ],
)
def test_parse_agenda(text: str, expected: str | None) -> None:
    assert s.parse_agenda(text) == expected


# ------------------------------------------------------------------ parse_timezone

TZ_OK = [
    ("Asia/Shanghai", "Asia/Shanghai"),
    ("asia/shanghai", "Asia/Shanghai"),
    ("ASIA/SHANGHAI", "Asia/Shanghai"),
    ("america/new_york", "America/New_York"),
    ("America/New York", "America/New_York"),
    ("europe/paris", "Europe/Paris"),
    ("北京", "Asia/Shanghai"),
    ("上海", "Asia/Shanghai"),
    ("China", "Asia/Shanghai"),
    ("CST", "Asia/Shanghai"),
    ("香港", "Asia/Hong_Kong"),
    ("台北", "Asia/Taipei"),
    ("东京", "Asia/Tokyo"),
    ("London", "Europe/London"),
    ("New York", "America/New_York"),
    ("new  york", "America/New_York"),
    ("UTC", "UTC"),
    ("utc", "UTC"),
]


@pytest.mark.parametrize(("text", "expected"), TZ_OK)
def test_parse_timezone(text: str, expected: str) -> None:
    assert s.parse_timezone(text) == expected
    ZoneInfo(expected)  # a real zone


# ------------------------------------------------------------------ parse_settings

SETTINGS_OK = [
    ("", SettingsChange()),
    ("   ", SettingsChange()),
    (
        "agenda=8:00 quiet=22-7 tz=Asia/Shanghai",
        SettingsChange("08:00", "22:00-07:00", "Asia/Shanghai"),
    ),
    (
        "日程=7点半 免打扰=22:30-06:45 时区=北京",
        SettingsChange("07:30", "22:30-06:45", "Asia/Shanghai"),
    ),
    ("agenda=off", SettingsChange(agenda_at=None)),
    ("quiet=关", SettingsChange(quiet_hours=None)),
    ("日程＝关 免打扰＝无", SettingsChange(None, None)),
    ("tz=New York", SettingsChange(timezone="America/New_York")),
    ('tz="Europe/London"', SettingsChange(timezone="Europe/London")),
    ("quiet=22:00 - 07:00 agenda=9", SettingsChange("09:00", "22:00-07:00")),
    ("TZ=utc Agenda=8pm", SettingsChange("20:00", UNSET, "UTC")),
    ("timezone=asia/tokyo", SettingsChange(timezone="Asia/Tokyo")),
]


@pytest.mark.parametrize(("args", "expected"), SETTINGS_OK)
def test_parse_settings(args: str, expected: SettingsChange) -> None:
    assert s.parse_settings(args) == expected


def test_settings_change_unset() -> None:
    empty = s.parse_settings("")
    assert empty.is_empty
    assert empty.agenda_at is UNSET and empty.quiet_hours is UNSET and empty.timezone is UNSET
    assert not SettingsChange(agenda_at=None).is_empty
    assert repr(UNSET) == "UNSET"


# ------------------------------------------------------------------ errors

BAD = [
    ("clock", "24", "bad_clock", {"value": "24"}),
    ("clock", "8:60", "bad_clock", {"value": "8:60"}),
    ("clock", "8:5", "bad_clock", {"value": "8:5"}),
    ("clock", "13pm", "bad_clock", {"value": "13pm"}),
    ("clock", "8点61", "bad_clock", {"value": "8点61"}),
    ("clock", "morning", "bad_clock", {"value": "morning"}),
    ("clock", "  ", "bad_clock", {"value": ""}),
    ("clock", "off", "bad_clock", {"value": "off"}),
    ("agenda", "9:75", "bad_clock", {"value": "9:75"}),
    ("agenda", "早上", "bad_clock", {"value": "早上"}),
    ("quiet", "22-22", "bad_quiet", {"value": "22-22"}),
    ("quiet", "22:00-22", "bad_quiet", {"value": "22:00-22"}),
    ("quiet", "22", "bad_quiet", {"value": "22"}),
    ("quiet", "22-", "bad_quiet", {"value": "22-"}),
    ("quiet", "22-25", "bad_quiet", {"value": "22-25"}),
    ("quiet", "night", "bad_quiet", {"value": "night"}),
    ("tz", "Mars/Olympus", "bad_tz", {"value": "Mars/Olympus"}),
    ("tz", "北极", "bad_tz", {"value": "北极"}),
    ("tz", "+8", "bad_tz", {"value": "+8"}),
    (
        "settings",
        "foo=1",
        "unknown_key",
        {"key": "foo", "known": s.SETTINGS_KNOWN, "command": "settings"},
    ),
    (
        "settings",
        "8:00",
        "unknown_key",
        {"key": "8:00", "known": s.SETTINGS_KNOWN, "command": "settings"},
    ),
    ("settings", "agenda=", "empty_value", {"key": "agenda", "command": "settings"}),
    (
        "settings",
        "quiet=22-7 agenda= tz=UTC",
        "empty_value",
        {"key": "agenda", "command": "settings"},
    ),
    ("settings", "agenda=8 日程=9", "duplicate_option", {"key": "日程"}),
    ("settings", "agenda=25", "bad_clock", {"value": "25"}),
    ("settings", "quiet=22-22", "bad_quiet", {"value": "22-22"}),
    ("settings", "tz=Mars/Olympus", "bad_tz", {"value": "Mars/Olympus"}),
    ("settings", "时区=火星 城", "bad_tz", {"value": "火星 城"}),
]

CALL = {
    "clock": s.parse_clock,
    "agenda": s.parse_agenda,
    "quiet": s.parse_quiet,
    "tz": s.parse_timezone,
    "settings": s.parse_settings,
}
SCHEDULE_CODES = {"bad_clock", "bad_quiet", "bad_tz"}


@pytest.mark.parametrize(("fn", "args", "code", "params"), BAD)
def test_bad_input(fn: str, args: str, code: str, params: dict[str, object]) -> None:
    with pytest.raises(CommandError) as e:
        CALL[fn](args)
    assert (e.value.code, e.value.params) == (code, params)


def test_every_schedule_code_is_registered_and_raised() -> None:
    raised = {code for _, _, code, _ in BAD}
    assert SCHEDULE_CODES <= ERROR_CODES
    assert SCHEDULE_CODES <= raised <= ERROR_CODES


_ENV = Environment(
    loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined
)
_ALLOWED_TAG = re.compile(r"</?(b|i|code)>")


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
    assert "<" not in _ALLOWED_TAG.sub("", text), text
    assert "/settings" in text or "/" in text  # shows a working command or example
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", text)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_tz_template_shows_examples(lang: str) -> None:
    text = _ENV.get_template(f"{lang}/errors/bad_tz.j2").render(value="<Mars>")
    assert "Asia/Shanghai" in text and "/settings" in text and "&lt;Mars&gt;" in text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            list(" =＝-~:：0123456789apm点半到关offtzagendaquiet日程免打扰时区/_北京")
            + ["tz=", "agenda=", "quiet=", "Asia/Shanghai", "😀", "<&>"]
        ),
        max_size=20,
    ).map("".join)
)
def test_parsers_raise_only_command_errors(text: str) -> None:
    for fn in CALL.values():
        try:
            fn(text)
        except CommandError as e:
            assert e.code in ERROR_CODES


# ------------------------------------------------------------------ quiet hours

IN_QUIET = [
    # Asia/Shanghai is UTC+8 all year
    (u(2026, 11, 28, 13, 59), SH, "22:00-07:00", False),  # 21:59 local
    (u(2026, 11, 28, 14, 0), SH, "22:00-07:00", True),  # 22:00
    (u(2026, 11, 28, 16, 0), SH, "22:00-07:00", True),  # 00:00
    (u(2026, 11, 28, 19, 0), SH, "22:00-07:00", True),  # 03:00
    (u(2026, 11, 28, 22, 59), SH, "22:00-07:00", True),  # 06:59
    (u(2026, 11, 28, 23, 0), SH, "22:00-07:00", False),  # 07:00
    (u(2026, 11, 28, 4, 0), SH, "22:00-07:00", False),  # 12:00
    (u(2026, 11, 28, 3, 59), SH, "12:00-14:00", False),  # 11:59
    (u(2026, 11, 28, 4, 0), SH, "12:00-14:00", True),  # 12:00
    (u(2026, 11, 28, 5, 59), SH, "12:00-14:00", True),  # 13:59
    (u(2026, 11, 28, 6, 0), SH, "12:00-14:00", False),  # 14:00
    (u(2026, 11, 28, 15, 0), SH, "12:00-14:00", False),  # 23:00
    (u(2026, 11, 28, 15, 0), SH, None, False),
    (u(2026, 11, 28, 15, 0), SH, "", False),
    # America/New_York: 11:30 UTC is 06:30 EST but 07:30 EDT
    (u(2026, 3, 7, 11, 30), NY, "22:00-07:00", True),
    (u(2026, 3, 8, 11, 30), NY, "22:00-07:00", False),
    (u(2026, 10, 31, 11, 30), NY, "22:00-07:00", False),
    (u(2026, 11, 1, 11, 30), NY, "22:00-07:00", True),
]


@pytest.mark.parametrize(("now", "tz", "quiet", "expected"), IN_QUIET)
def test_in_quiet_hours(now: datetime, tz: str, quiet: str | None, expected: bool) -> None:
    assert s.in_quiet_hours(now, tz, quiet) is expected


QUIET_ENDS = [
    (u(2026, 11, 28, 14, 30), SH, "22:00-07:00", u(2026, 11, 28, 23, 0)),  # 22:30 → 07:00 next day
    (u(2026, 11, 28, 19, 0), SH, "22:00-07:00", u(2026, 11, 28, 23, 0)),  # 03:00 → 07:00 same day
    (u(2026, 11, 28, 5, 0), SH, "12:00-14:00", u(2026, 11, 28, 6, 0)),
    (u(2026, 11, 28, 14, 30), SH, "22:30-06:45", u(2026, 11, 28, 22, 45)),
    # not in quiet hours: now
    (u(2026, 11, 28, 4, 0), SH, "22:00-07:00", u(2026, 11, 28, 4, 0)),
    (u(2026, 11, 28, 4, 0), SH, None, u(2026, 11, 28, 4, 0)),
    # New York: the window starts in EST and ends in EDT (spring) and vice versa (fall)
    (u(2026, 3, 8, 3, 0), NY, "22:00-07:00", u(2026, 3, 8, 11, 0)),  # 22:00 EST → 07:00 EDT
    (u(2026, 3, 8, 8, 0), NY, "22:00-07:00", u(2026, 3, 8, 11, 0)),  # 04:00 EDT
    (u(2026, 11, 1, 3, 0), NY, "22:00-07:00", u(2026, 11, 1, 12, 0)),  # 23:00 EDT → 07:00 EST
    (u(2026, 11, 1, 5, 30), NY, "22:00-07:00", u(2026, 11, 1, 12, 0)),  # 01:30 EDT (1st)
    (u(2026, 11, 1, 6, 30), NY, "22:00-07:00", u(2026, 11, 1, 12, 0)),  # 01:30 EST (2nd)
]


@pytest.mark.parametrize(("now", "tz", "quiet", "expected"), QUIET_ENDS)
def test_quiet_ends_at(now: datetime, tz: str, quiet: str | None, expected: datetime) -> None:
    got = s.quiet_ends_at(now, tz, quiet)
    assert got == expected and got.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    st.sampled_from([SH, "UTC", "Europe/London", "Asia/Tokyo"]),
    st.integers(0, 23 * 60 + 59),
    st.integers(1, 23 * 60 + 59),
)
def test_quiet_window_properties(naive: datetime, tz: str, start: int, length: int) -> None:
    now = naive.replace(tzinfo=UTC)
    end = (start + length) % (24 * 60)
    quiet = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    assert s.parse_quiet(quiet) == quiet
    ends = s.quiet_ends_at(now, tz, quiet)
    if s.in_quiet_hours(now, tz, quiet):
        assert now < ends <= now + timedelta(days=1)
        assert not s.in_quiet_hours(ends, tz, quiet)
        assert s.in_quiet_hours(ends - timedelta(seconds=1), tz, quiet)
    else:
        assert ends == now


# ------------------------------------------------------------------ agenda

AGENDA_DUE = [
    # Asia/Shanghai: 08:00 local is 00:00 UTC
    (u(2026, 11, 27, 23, 59), SH, "08:00", None, None),
    (u(2026, 11, 28, 0, 0), SH, "08:00", None, date(2026, 11, 28)),
    (u(2026, 11, 28, 15, 59), SH, "08:00", None, date(2026, 11, 28)),  # 23:59 local
    (u(2026, 11, 28, 16, 0), SH, "08:00", None, None),  # 00:00 on the 29th
    (u(2026, 11, 28, 0, 0), SH, "08:00", date(2026, 11, 28), None),  # sent today
    (u(2026, 11, 28, 0, 0), SH, "08:00", date(2026, 11, 27), date(2026, 11, 28)),
    (u(2026, 11, 28, 0, 0), SH, "08:00", date(2026, 11, 29), None),  # tz moved back a day
    (u(2026, 11, 28, 12, 0), SH, None, None, None),  # agenda off
    (u(2026, 11, 28, 12, 0), SH, "20:00", None, date(2026, 11, 28)),
    (u(2026, 11, 28, 11, 59), SH, "20:00", None, None),
    # America/New_York: 08:00 local is 13:00 UTC in EST, 12:00 UTC in EDT
    (u(2026, 3, 7, 12, 59), NY, "08:00", None, None),
    (u(2026, 3, 7, 13, 0), NY, "08:00", None, date(2026, 3, 7)),
    (u(2026, 3, 8, 11, 59), NY, "08:00", date(2026, 3, 7), None),
    (u(2026, 3, 8, 12, 0), NY, "08:00", date(2026, 3, 7), date(2026, 3, 8)),
    (u(2026, 10, 31, 12, 0), NY, "08:00", None, date(2026, 10, 31)),
    (u(2026, 11, 1, 12, 30), NY, "08:00", date(2026, 10, 31), None),  # 07:30 EST
    (u(2026, 11, 1, 13, 0), NY, "08:00", date(2026, 10, 31), date(2026, 11, 1)),
    (u(2026, 3, 8, 4, 59), NY, "08:00", None, date(2026, 3, 7)),  # 23:59 EST on the 7th
]


@pytest.mark.parametrize(("now", "tz", "agenda_at", "last", "expected"), AGENDA_DUE)
def test_agenda_due(
    now: datetime, tz: str, agenda_at: str | None, last: date | None, expected: date | None
) -> None:
    assert s.agenda_due(now, tz, agenda_at, last) == expected


NEXT_AGENDA = [
    (u(2026, 11, 27, 23, 0), SH, "08:00", u(2026, 11, 28, 0, 0)),
    (u(2026, 11, 28, 0, 0), SH, "08:00", u(2026, 11, 29, 0, 0)),  # strictly after now
    (u(2026, 11, 28, 1, 0), SH, "08:00", u(2026, 11, 29, 0, 0)),
    (u(2026, 11, 28, 1, 0), SH, None, None),
    (u(2026, 3, 7, 14, 0), NY, "08:00", u(2026, 3, 8, 12, 0)),  # EST day → EDT day
    (u(2026, 3, 6, 14, 0), NY, "08:00", u(2026, 3, 7, 13, 0)),
    (u(2026, 3, 8, 13, 0), NY, "08:00", u(2026, 3, 9, 12, 0)),
    (u(2026, 10, 31, 13, 0), NY, "08:00", u(2026, 11, 1, 13, 0)),  # EDT day → EST day
    (u(2026, 11, 1, 5, 0), NY, "08:00", u(2026, 11, 1, 13, 0)),
    (u(2026, 3, 7, 14, 0), NY, "02:30", u(2026, 3, 8, 7, 30)),  # 02:30 skipped → 03:30 EDT
]


@pytest.mark.parametrize(("now", "tz", "agenda_at", "expected"), NEXT_AGENDA)
def test_next_agenda_at(
    now: datetime, tz: str, agenda_at: str | None, expected: datetime | None
) -> None:
    assert s.next_agenda_at(now, tz, agenda_at) == expected


# ------------------------------------------------------------------ local day

LOCAL_DAY = [
    (u(2026, 11, 28, 2, 0), SH, u(2026, 11, 27, 16, 0), u(2026, 11, 28, 16, 0), 24),
    (u(2026, 11, 28, 16, 0), SH, u(2026, 11, 28, 16, 0), u(2026, 11, 29, 16, 0), 24),
    (u(2026, 3, 8, 15, 0), NY, u(2026, 3, 8, 5, 0), u(2026, 3, 9, 4, 0), 23),
    (u(2026, 3, 8, 4, 59), NY, u(2026, 3, 7, 5, 0), u(2026, 3, 8, 5, 0), 24),
    (u(2026, 11, 1, 15, 0), NY, u(2026, 11, 1, 4, 0), u(2026, 11, 2, 5, 0), 25),
    (u(2026, 11, 2, 4, 59), NY, u(2026, 11, 1, 4, 0), u(2026, 11, 2, 5, 0), 25),
    (u(2026, 6, 1, 0, 0), "UTC", u(2026, 6, 1), u(2026, 6, 2), 24),
]


@pytest.mark.parametrize(("now", "tz", "start", "end", "hours"), LOCAL_DAY)
def test_local_day(now: datetime, tz: str, start: datetime, end: datetime, hours: int) -> None:
    got = s.local_day(now, tz)
    assert got == (start, end)
    assert got[0] <= now < got[1]
    assert got[1] - got[0] == timedelta(hours=hours)
    assert got[0].tzinfo is UTC and got[1].tzinfo is UTC


# ------------------------------------------------------------------ snooze

SNOOZE = [
    (u(2026, 11, 28, 2, 0), "1h", SH, u(2026, 11, 28, 3, 0)),
    (u(2026, 11, 28, 2, 0), "1d", SH, u(2026, 11, 29, 2, 0)),
    (u(2026, 11, 28, 2, 0), "1w", SH, u(2026, 12, 5, 2, 0)),
    # 08:00 EST on 03-07 → 08:00 EDT on 03-08 (23 hours later)
    (u(2026, 3, 7, 13, 0), "1d", NY, u(2026, 3, 8, 12, 0)),
    (u(2026, 3, 7, 13, 0), "1w", NY, u(2026, 3, 14, 12, 0)),
    (u(2026, 3, 7, 13, 0), "1h", NY, u(2026, 3, 7, 14, 0)),
    (u(2026, 3, 8, 6, 30), "1h", NY, u(2026, 3, 8, 7, 30)),  # 01:30 EST → 03:30 EDT
    # 08:00 EDT on 10-31 → 08:00 EST on 11-01 (25 hours later)
    (u(2026, 10, 31, 12, 0), "1d", NY, u(2026, 11, 1, 13, 0)),
    (u(2026, 10, 28, 12, 0), "1w", NY, u(2026, 11, 4, 13, 0)),
    # a wall-clock time the jump skips: 02:30 → 03:30 EDT
    (u(2026, 3, 7, 7, 30), "1d", NY, u(2026, 3, 8, 7, 30)),
    # the 2nd 01:30 (EST) on the fall-back day → 01:30 EST next day
    (u(2026, 11, 1, 6, 30), "1d", NY, u(2026, 11, 2, 6, 30)),
    (u(2026, 11, 28, 2, 0, 45), "1d", SH, u(2026, 11, 29, 2, 0, 45)),
]


@pytest.mark.parametrize(("now", "code", "tz", "expected"), SNOOZE)
def test_snooze_until(now: datetime, code: str, tz: str, expected: datetime) -> None:
    got = s.snooze_until(now, code, tz)
    assert got == expected and got.tzinfo is UTC


def test_snooze_1d_keeps_local_clock_in_new_york() -> None:
    got = s.snooze_until(u(2026, 3, 7, 13, 0), "1d", NY)
    assert got.astimezone(ZoneInfo(NY)).strftime("%Y-%m-%d %H:%M %Z") == "2026-03-08 08:00 EDT"


def test_snooze_codes() -> None:
    assert s.SNOOZE_CODES == ("1h", "1d", "1w")
    for code in s.SNOOZE_CODES:
        assert s.snooze_until(u(2026, 1, 1), code, SH) > u(2026, 1, 1)
    with pytest.raises(ValueError):
        s.snooze_until(u(2026, 1, 1), "2y", SH)


# ------------------------------------------------------------------ misc


def test_priority() -> None:
    assert s.PRIORITY == {
        "escalation": 0,
        "alert_crisis": 0,
        "realert": 0,
        "alert_high": 1,
        "plan": 3,
        "cadence": 4,
        "review": 5,
        "agenda": 6,
        "digest": 6,
    }


def test_now_in_another_zone_is_accepted_and_result_is_utc() -> None:
    now = datetime(2026, 11, 28, 8, 0, tzinfo=ZoneInfo(SH))
    assert s.agenda_due(now, SH, "08:00", None) == date(2026, 11, 28)
    assert s.snooze_until(now, "1h", SH) == u(2026, 11, 28, 1, 0)
    assert s.local_day(now, ZoneInfo(SH)) == (u(2026, 11, 27, 16, 0), u(2026, 11, 28, 16, 0))


@pytest.mark.parametrize(
    "call",
    [
        lambda n: s.in_quiet_hours(n, SH, "22:00-07:00"),
        lambda n: s.quiet_ends_at(n, SH, "22:00-07:00"),
        lambda n: s.agenda_due(n, SH, "08:00", None),
        lambda n: s.next_agenda_at(n, SH, "08:00"),
        lambda n: s.local_day(n, SH),
        lambda n: s.snooze_until(n, "1h", SH),
    ],
)
def test_naive_now_is_a_programming_error(call) -> None:
    with pytest.raises(TypeError):
        call(datetime(2026, 1, 1, 8, 0))
