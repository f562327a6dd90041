"""`<when>`: parse a counsellor's date/time words into an aware UTC datetime.

Pure: `now` is passed in (aware), the counsellor's zone `tz` decides what "tomorrow" and
"14:30" mean; the result is converted to UTC. Rules:

* durations `30m` `2h` `1.5h` `半小时` `2小时(后)` are exact elapsed time from now;
* everything day-sized follows ONE rule: day offsets `3d` `1w` `3天(后)` `两周后`, dates and
  date words (`2026-12-01`, `12-01`, `12/01`, `12月1日`, `tomorrow`, `明天`, `后天`, `mon`,
  `周三`, `下周一`, `下周`) take an optional time (`14:30`, `9am`, `9点半`, `下午3点`) or a part
  of the day (`上午` 09:00, `中午` 12:00, `下午` 15:00, `晚上` 19:00 — `DayTimes`, which the
  rule file may change) and otherwise land at the default hour (09:00 local);
* `下周` / `next week` alone is the Monday of next week; `今晚` `明早` `明晚` are today's
  evening, tomorrow's morning, tomorrow's evening;
* a lone time or part of the day is today if still ahead, else tomorrow;
* a month-day without a year is this year, or next year if that day is already before today
  (today's own date stays today, so `11-28` at 10:00 on 11-28 is in the past);
* a weekday name is the next such day (today's name means a week ahead); `下周X` is day X of
  next calendar week (weeks start on Monday), `本周X`/`这周X` is this week's;
* anything not strictly after `now` raises `past_when`; anything unreadable `bad_when`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from domain.errors import CommandError

DEFAULT_TIME = time(9, 0)
MAX_YEARS_AHEAD = 20


@dataclass(frozen=True, slots=True)
class DayTimes:
    """The clock times that day-sized words land on (the rule file's `[times]` may change them)."""

    default: time = DEFAULT_TIME  # `明天`, `3天后`, `12-01`, `下周一` with no time
    morning: time = time(9, 0)  # 上午 早上 morning
    noon: time = time(12, 0)  # 中午 noon
    afternoon: time = time(15, 0)  # 下午 afternoon
    evening: time = time(19, 0)  # 晚上 傍晚 evening tonight


DEFAULT_DAY_TIMES = DayTimes()

_PERIODS = {
    "上午": "morning",
    "早上": "morning",
    "早晨": "morning",
    "清晨": "morning",
    "早": "morning",
    "morning": "morning",
    "am": "morning",
    "中午": "noon",
    "noon": "noon",
    "midday": "noon",
    "下午": "afternoon",
    "afternoon": "afternoon",
    "pm": "afternoon",
    "傍晚": "evening",
    "晚上": "evening",
    "夜里": "evening",
    "晚": "evening",
    "evening": "evening",
    "night": "evening",
    "tonight": "evening",
}
# shorthands people type: 今晚 = 今天晚上, 明早 = 明天早上 …
_SHORTHANDS = (
    ("今晚", "今天晚上"),
    ("明早", "明天早上"),
    ("明晚", "明天晚上"),
    ("明晨", "明天早上"),
    ("tonight", "today evening"),
)

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUM = "零〇一二两俩三四五六七八九十"


def cn_number(text: str) -> int | None:
    """'3', '三', '十五', '二十', '两' → int (0–99); None if not a number."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_NUM for ch in text):
        return None
    if "十" in text:
        head, _, tail = text.partition("十")
        if "十" in tail or len(head) > 1 or len(tail) > 1:
            return None
        tens = _CN_DIGITS[head] if head else 1
        ones = _CN_DIGITS[tail] if tail else 0
        return tens * 10 + ones
    if len(text) == 1:
        return _CN_DIGITS[text]
    return None


_NUM = r"\d+|[零〇一二两俩三四五六七八九十]{1,3}"

# exact durations (minutes / hours)
_DURATION_RE = re.compile(
    r"(?:in\s*)?(?P<n>\d+(?:\.\d+)?|[零〇一二两俩三四五六七八九十]{1,3}|半)\s*(?:个)?\s*"
    r"(?P<unit>minutes|minute|mins|min|m|分钟|分|hours|hour|hrs|hr|h|小时|钟头)"
    r"(?:\s*(?:后|以后|之后|later))?"
)
# day offsets: a date-ish prefix that may be followed by a time
_DAYS_RE = re.compile(
    rf"(?:in\s*)?(?P<n>{_NUM})\s*(?:个)?\s*"
    r"(?P<unit>days|day|d|天|weeks|week|wks|wk|w|周|星期|礼拜)(?![a-z])"
    r"(?:\s*(?:后|以后|之后|later))?"
)
_YMD_RE = re.compile(
    r"(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})(?:日|号|(?!\d))"
)
_MD_RE = re.compile(r"(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})(?:日|号|(?!\d))")
_DAYWORD_RE = re.compile(
    r"(?P<w>day after tomorrow|大后天|后天|today|tod|今天|今日|tomorrow|tmrw|tmr|tmw|明天|明日)"
)
_EN_DAYS = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tues": 1,
    "tue": 1,
    "wednesday": 2,
    "weds": 2,
    "wed": 2,
    "thursday": 3,
    "thurs": 3,
    "thur": 3,
    "thu": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
_EN_WEEKDAY_RE = re.compile(
    r"(?:(?P<next>next)\s*)?(?P<d>"
    + "|".join(sorted(_EN_DAYS, key=len, reverse=True))
    + r")(?![a-z])"
)
_CN_WEEKDAY_RE = re.compile(
    r"(?P<p>下下个?|下个?|本|这个?)?(?:周|星期|礼拜)(?P<d>[一二三四五六日天1-7])"
)
_CN_WD = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}

_TIME_RE = re.compile(
    r"(?P<pre>上午|早上|早晨|清晨|早|中午|下午|傍晚|晚上|夜里|凌晨)?\s*"
    rf"(?P<h>{_NUM})"
    r"(?:"
    r"(?P<colon>:(?P<m>\d{2}))"
    rf"|(?P<dian>[点點时])(?:(?P<half>半)|(?P<m2>{_NUM})\s*分?)?"
    r")?"
    r"\s*(?P<ampm>a\.?m\.?|p\.?m\.?)?"
)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split())


def _bad(text: str) -> CommandError:
    return CommandError("bad_when", text=text)


def _parse_time(s: str) -> time | None:
    """A full-match time of day, or None when `s` is not one."""
    m = _TIME_RE.fullmatch(s)
    if not m:
        return None
    if not (m.group("colon") or m.group("dian") or m.group("ampm")):
        return None
    h = cn_number(m.group("h"))
    if h is None:
        return None
    if m.group("colon"):
        if not m.group("h").isdigit():
            return None
        minute = int(m.group("m"))
    elif m.group("half"):
        minute = 30
    elif m.group("m2"):
        mm = cn_number(m.group("m2"))
        if mm is None:
            return None
        minute = mm
    else:
        minute = 0
    pre, ampm = m.group("pre"), m.group("ampm")
    if ampm:
        if not 1 <= h <= 12:
            raise _bad(s)
        if ampm.startswith("p"):
            h = h % 12 + 12
        else:
            h = h % 12
    elif pre:
        if pre in ("下午", "傍晚", "晚上", "夜里") and h < 12:
            h += 12
        elif pre == "中午" and h < 6:
            h += 12
        elif pre == "凌晨" and h == 12:
            h = 0
    if not (0 <= h <= 23 and 0 <= minute <= 59):
        raise _bad(s)
    return time(h, minute)


def _period(s: str, times: DayTimes) -> time | None:
    """`下午`, `晚上`, `morning`, `in the afternoon` → that part of the day's clock time."""
    s = s.removeprefix("in the ").removeprefix("the ").strip()
    name = _PERIODS.get(s)
    return getattr(times, name) if name else None


def _local(d: date, t: time, tz: tzinfo) -> datetime:
    return datetime.combine(d, t).replace(tzinfo=tz).astimezone(UTC)


def _check_future(result: datetime, now: datetime, text: str, tz: tzinfo) -> datetime:
    if result <= now:
        local = result.astimezone(tz)
        raise CommandError("past_when", text=text, when=local.strftime("%Y-%m-%d %H:%M"))
    return result


def _date_of(m_: int, d_: int, y: int | None, today: date, text: str) -> date:
    if not (1 <= m_ <= 12 and 1 <= d_ <= 31):
        raise _bad(text)
    if y is None:
        y = today.year + (1 if (m_, d_) < (today.month, today.day) else 0)
    elif not today.year - 1 <= y <= today.year + MAX_YEARS_AHEAD:
        raise _bad(text)
    try:
        return date(y, m_, d_)
    except ValueError:
        raise _bad(text) from None


def parse_when(text: str, now: datetime, tz: tzinfo, times: DayTimes | None = None) -> datetime:
    """Parse `<when>` relative to `now` in the counsellor's zone; return an aware UTC datetime.

    `times`: where day-sized words land (`DEFAULT_DAY_TIMES` when None).
    Raises CommandError("bad_when", text=…) or CommandError("past_when", text=…, when=…).
    """
    if now.tzinfo is None:
        raise TypeError("now must be timezone-aware")
    times = times or DEFAULT_DAY_TIMES
    shown = " ".join(text.split())
    s = _norm(text)
    if not s:
        raise _bad(shown)
    for short, full in _SHORTHANDS:
        if s.startswith(short):
            s = full + " " + s[len(short) :]
            s = s.strip()
    now_utc = now.astimezone(UTC)
    local_now = now.astimezone(tz)
    today = local_now.date()

    # 1. exact durations
    m = _DURATION_RE.fullmatch(s)
    if m:
        n_text, unit = m.group("n"), m.group("unit")
        if n_text == "半":
            if unit not in ("小时", "钟头", "h", "hr", "hrs", "hour", "hours"):
                raise _bad(shown)
            amount = 0.5
        elif n_text.replace(".", "", 1).isdigit():
            amount = float(n_text)
        else:
            cn = cn_number(n_text)
            if cn is None:
                raise _bad(shown)
            amount = float(cn)
        minutes = (
            amount
            if unit in ("minutes", "minute", "mins", "min", "m", "分钟", "分")
            else amount * 60
        )
        if minutes != int(minutes) or minutes > 60 * 24 * 366:
            raise _bad(shown)
        return _check_future(now_utc + timedelta(minutes=int(minutes)), now_utc, shown, tz)

    # 2. a lone time of day, or a part of the day (`下午`)
    t = _parse_time(s)
    if t is None:
        t = _period(s, times)
    if t is not None:
        result = _local(today, t, tz)
        if result <= now_utc:
            result = _local(today + timedelta(days=1), t, tz)
        return result

    # 3. a date part, then optionally a time
    for matcher in (
        _match_days,
        _match_ymd,
        _match_md,
        _match_dayword,
        _match_en_weekday,
        _match_cn_weekday,
        _match_next_week,
    ):
        hit = matcher(s, today, shown)
        if hit is None:
            continue
        day, end = hit
        rest = s[end:].strip()
        if rest.startswith(("at ", "@")):
            rest = rest.removeprefix("at ").removeprefix("@").strip()
        if rest:
            t = _parse_time(rest) or _period(rest, times) or _period_then_time(rest, times)
            if t is None:
                raise _bad(shown)
        else:
            t = times.default  # one rule for every day-sized word: `明天`, `3天后`, `2d`, `12-01`
        return _check_future(_local(day, t, tz), now_utc, shown, tz)
    raise _bad(shown)


def _period_then_time(rest: str, times: DayTimes) -> time | None:
    """`下午 3点` / `晚上 8:00` (a space between the part of the day and the clock)."""
    head, _, tail = rest.partition(" ")
    if not tail or _period(head, times) is None:
        return None
    return _parse_time(head + tail.strip())


_Hit = tuple[date, int] | None  # (local date, end of the date part)


def _match_days(s: str, today: date, shown: str) -> _Hit:
    m = _DAYS_RE.match(s)
    if not m:
        return None
    n = cn_number(m.group("n"))
    if n is None or n > 3660:
        raise _bad(shown)
    days = (
        n * 7 if m.group("unit") in ("weeks", "week", "wks", "wk", "w", "周", "星期", "礼拜") else n
    )
    return today + timedelta(days=days), m.end()


def _match_ymd(s: str, today: date, shown: str) -> _Hit:
    m = _YMD_RE.match(s)
    if not m:
        return None
    return _date_of(int(m["m"]), int(m["d"]), int(m["y"]), today, shown), m.end()


def _match_md(s: str, today: date, shown: str) -> _Hit:
    m = _MD_RE.match(s)
    if not m:
        return None
    return _date_of(int(m["m"]), int(m["d"]), None, today, shown), m.end()


_DAYWORD_OFFSET = {
    "today": 0,
    "tod": 0,
    "今天": 0,
    "今日": 0,
    "tomorrow": 1,
    "tmrw": 1,
    "tmr": 1,
    "tmw": 1,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "day after tomorrow": 2,
    "大后天": 3,
}


def _match_dayword(s: str, today: date, shown: str) -> _Hit:
    m = _DAYWORD_RE.match(s)
    if not m:
        return None
    return today + timedelta(days=_DAYWORD_OFFSET[m["w"]]), m.end()


def _match_en_weekday(s: str, today: date, shown: str) -> _Hit:
    m = _EN_WEEKDAY_RE.match(s)
    if not m:
        return None
    ahead = (_EN_DAYS[m["d"]] - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead), m.end()


def _match_cn_weekday(s: str, today: date, shown: str) -> _Hit:
    m = _CN_WEEKDAY_RE.match(s)
    if not m:
        return None
    target, wd, p = _CN_WD[m["d"]], today.weekday(), m["p"] or ""
    if p.startswith("下下"):
        days = 14 - wd + target
    elif p.startswith("下"):
        days = 7 - wd + target
    elif p:  # 本 / 这: this calendar week (may be in the past)
        days = target - wd
    else:  # the next such day; today's name means a week ahead
        days = (target - wd) % 7 or 7
    return today + timedelta(days=days), m.end()


_NEXT_WEEK_RE = re.compile(
    r"(?:(?P<p>下下个?|下个?)(?:周|星期|礼拜)|(?P<en>next\s*week))(?![一二三四五六日天1-7])"
)


def _match_next_week(s: str, today: date, shown: str) -> _Hit:
    """`下周` / `next week` with no day: the Monday of next week (`下下周`: the week after)."""
    m = _NEXT_WEEK_RE.match(s)
    if not m:
        return None
    weeks = 2 if (m["p"] or "").startswith("下下") else 1
    return today + timedelta(days=7 * weeks - today.weekday()), m.end()
