"""Recurring follow-ups (`/plan 学生B every 1w 学业跟进 until 2027-01-15`). Pure.

A series is a first due time, an interval (N days, weeks or months) and optionally an end
date; occurrence k (0, 1, 2 …) is the first due time moved k intervals forward in the
counsellor's local calendar (wall-clock time kept across DST; a monthly series on the 31st
falls on the last day of shorter months). The storage layer keeps each occurrence as a plan
item of its own, so Done and Snooze work on one occurrence; the reminders planner creates
the next one when the current one comes due.

A series also ends when the client's risk tier drops below the tier it was set up at
(`stop_below`), or when the counsellor says stop (`/plan 学生B stop`, or the button).

Grammar, after the client:
* the interval — `every 1w`, `every 2 weeks`, `every=2w`, `weekly`, `biweekly`,
  `fortnightly`, `monthly`, `daily`, `每天`, `每周`, `每两周`, `隔周`, `每月`, `每3天`,
  `每2个月`; `每周三` / `every wed` = weekly on that weekday (first one the next such day);
* optionally the first time (`<when>`, one or two words) right after the interval or
  before it; without one the first occurrence is one interval from now;
* the text;
* optionally the end: `until <when>`, `until=<when>`, `直到 <when>`, `截止 <when>`
  (`直到2027-01-15` glued works too). Occurrences on the end date itself are kept.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from domain.errors import CommandError
from domain.model import Risk
from domain.when import cn_number, parse_when

__all__ = [
    "Recurrence",
    "RecurringPlanSpec",
    "StopSpec",
    "occurrence",
    "next_occurrence",
    "parse_every",
    "parse_recurring_plan",
    "MAX_OCCURRENCES",
]

MAX_INTERVAL_DAYS = 366
MAX_OCCURRENCES = 520  # a weekly series for ten years; a safety bound for loops


@dataclass(frozen=True, slots=True)
class Recurrence:
    unit: str  # "d" | "w" | "m"
    n: int
    weekday: int | None = None  # 0 = Monday, for "每周三"; the first occurrence's weekday

    @property
    def code(self) -> str:
        """Short form kept in the database: "1w", "2w", "1m", "3d"."""
        return f"{self.n}{self.unit}"

    @classmethod
    def from_code(cls, code: str) -> Recurrence:
        m = re.fullmatch(r"(\d+)([dwm])", code)
        if not m:
            raise ValueError(f"bad recurrence code {code!r}")
        return cls(m.group(2), int(m.group(1)))

    @property
    def approx_days(self) -> int:
        return self.n * {"d": 1, "w": 7, "m": 30}[self.unit]


@dataclass(frozen=True, slots=True)
class RecurringPlanSpec:
    client_ref: object  # grammar.ClientRef
    every: Recurrence
    first_due: datetime  # UTC
    text: str
    until: datetime | None  # UTC: the last instant an occurrence may fall on (end of a local day)
    until_text: str | None = None


@dataclass(frozen=True, slots=True)
class StopSpec:
    client_ref: object  # grammar.ClientRef


# ---------------------------------------------------------------- arithmetic


def _add_months(d: date, months: int, anchor_day: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def occurrence(first_due: datetime, every: Recurrence, k: int, tz: tzinfo) -> datetime:
    """The due time (UTC) of occurrence k (0 = the first)."""
    if k < 0:
        raise ValueError("k must be >= 0")
    local = first_due.astimezone(tz)
    if every.unit == "m":
        day = _add_months(local.date(), every.n * k, local.day)
    else:
        step = every.n * (7 if every.unit == "w" else 1)
        day = local.date() + timedelta(days=step * k)
    naive = datetime.combine(day, local.time().replace(tzinfo=None))
    return naive.replace(tzinfo=tz).astimezone(UTC)


def next_occurrence(
    first_due: datetime,
    every: Recurrence,
    after_seq: int,
    not_before: datetime,
    tz: tzinfo,
    until: datetime | None = None,
) -> tuple[int, datetime] | None:
    """The first occurrence after `after_seq` that falls after `not_before` (occurrences
    missed while nobody looked are skipped, not sent in a burst): (seq, due), or None
    when the series has ended (past `until`)."""
    k = after_seq + 1
    # jump close to not_before without walking week by week through a long downtime
    if not_before > first_due:
        k = max(k, int((not_before - first_due).days // max(every.approx_days, 1)) - 1)
    for _ in range(MAX_OCCURRENCES * 2):
        due = occurrence(first_due, every, k, tz)
        if until is not None and due > until:
            return None
        if due > not_before:
            return k, due
        k += 1
    return None


# ---------------------------------------------------------------- grammar

_UNITS = {
    "d": "d",
    "day": "d",
    "days": "d",
    "天": "d",
    "日": "d",
    "w": "w",
    "wk": "w",
    "wks": "w",
    "week": "w",
    "weeks": "w",
    "周": "w",
    "星期": "w",
    "礼拜": "w",
    "m": "m",
    "mo": "m",
    "month": "m",
    "months": "m",
    "月": "m",
    "个月": "m",
}
_WORDS = {
    "daily": Recurrence("d", 1),
    "weekly": Recurrence("w", 1),
    "biweekly": Recurrence("w", 2),
    "fortnightly": Recurrence("w", 2),
    "monthly": Recurrence("m", 1),
    "fortnight": Recurrence("w", 2),
    "每天": Recurrence("d", 1),
    "每日": Recurrence("d", 1),
    "每周": Recurrence("w", 1),
    "每星期": Recurrence("w", 1),
    "每礼拜": Recurrence("w", 1),
    "隔周": Recurrence("w", 2),
    "双周": Recurrence("w", 2),
    "每月": Recurrence("m", 1),
    "每个月": Recurrence("m", 1),
}
_EN_WD = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}
_CN_WD = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_NUM = r"\d+|[零〇一二两俩三四五六七八九十]{1,3}"
_CN_EVERY = re.compile(rf"每(?:隔)?(?P<n>{_NUM})?(?:个)?(?P<u>天|日|周|星期|礼拜|个月|月)")
_CN_WEEKDAY = re.compile(r"每(?:周|星期|礼拜)(?P<d>[一二三四五六日天])")
_EN_EVERY = re.compile(r"(?P<n>\d+)?\s*(?P<u>[a-z]+)")
_STOP_WORDS = {"stop", "end", "停止", "结束", "停", "取消循环", "不再跟进"}
_UNTIL_WORDS = ("until", "till", "直到", "截止", "截至", "截止到", "直至")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _check(every: Recurrence, shown: str) -> Recurrence:
    if every.n < 1 or every.approx_days > MAX_INTERVAL_DAYS:
        raise CommandError("bad_every", value=shown)
    return every


def parse_every(words: list[str]) -> tuple[Recurrence, int] | None:
    """The interval at the start of `words` and how many words it took; None if `words` do
    not start with one. Raises bad_every for an interval that is there but unusable."""
    if not words:
        return None
    w0 = _norm(words[0])
    shown = words[0]
    if w0 in _WORDS:
        return _WORDS[w0], 1
    m = _CN_WEEKDAY.fullmatch(w0)
    if m:
        return Recurrence("w", 1, _CN_WD[m["d"]]), 1
    m = _CN_EVERY.fullmatch(w0)
    if m:
        n = cn_number(m["n"]) if m["n"] else 1
        if n is None:
            raise CommandError("bad_every", value=shown)
        return _check(Recurrence(_UNITS[m["u"]], n), shown), 1
    if re.fullmatch(r"每隔?\S{0,3}?(?:天|日|周|星期|礼拜|月)", w0):
        raise CommandError("bad_every", value=shown)  # "每零周", "每百天"
    value: str | None = None
    used = 1
    if w0.startswith(("every=", "every＝")):
        value = w0.split("=", 1)[1] if "=" in w0 else w0.split("＝", 1)[1]
    elif w0 == "every":
        if len(words) < 2:
            raise CommandError("bad_every", value=shown)
        value, used = _norm(words[1]), 2
        shown = f"{words[0]} {words[1]}"
        # "every 2 weeks"
        if value.isdigit() and len(words) > 2 and _norm(words[2]) in _UNITS:
            value, used = value + _norm(words[2]), 3
            shown = f"{shown} {words[2]}"
        if value == "other" and len(words) > 2 and _norm(words[2]) in ("week", "day", "month"):
            value, used = "2" + _norm(words[2]), 3
    else:
        return None
    if value in _EN_WD:
        return Recurrence("w", 1, _EN_WD[value]), used
    m = _EN_EVERY.fullmatch(value or "")
    if not m or m["u"] not in _UNITS:
        if value == "fortnight":
            return Recurrence("w", 2), used
        raise CommandError("bad_every", value=shown)
    return _check(Recurrence(_UNITS[m["u"]], int(m["n"] or 1)), shown), used


def _try_when(
    words: list[str], now: datetime, tz: tzinfo, times: Any = None
) -> tuple[datetime, int] | None:
    """A `<when>` of two words or one at the start of `words`."""
    if len(words) >= 2:
        try:
            return parse_when(f"{words[0]} {words[1]}", now, tz, times), 2
        except CommandError as e:
            if e.code == "past_when":
                raise
    if words:
        try:
            return parse_when(words[0], now, tz, times), 1
        except CommandError as e:
            if e.code == "past_when":
                raise
    return None


def _end_of_local_day(instant: datetime, tz: tzinfo) -> datetime:
    d = instant.astimezone(tz).date()
    return datetime.combine(d, time(23, 59, 59)).replace(tzinfo=tz).astimezone(UTC)


def parse_recurring_plan(
    args: str, now: datetime, tz: tzinfo, times: Any = None
) -> RecurringPlanSpec | StopSpec | None:
    """`/plan` arguments with an interval (see the module doc) or `stop`; None when the
    arguments are an ordinary one-off plan (the caller parses those)."""
    from domain import grammar  # the client reference rules live there

    ref, rest = grammar.parse_client_ref(args, command="plan")
    tail = args[rest:]
    words = tail.split()
    if not words:
        return None
    if len(words) == 1 and _norm(words[0]) in _STOP_WORDS:
        return StopSpec(ref)
    first_due: datetime | None = None
    i = 0
    found = parse_every(words)
    if found is None:
        # "<when> every 1w …": a first time, then the interval
        for take in (2, 1):
            if len(words) > take:
                later = parse_every(words[take:])
                if later is not None:
                    hit = _try_when(words[:take], now, tz, times)
                    if hit is not None and hit[1] == take:
                        first_due = hit[0]
                        i = take
                        found = later
                        break
        if found is None:
            return None
    every, used = found
    i += used
    if first_due is None:
        hit = _try_when(words[i:], now, tz, times) if len(words) > i + 1 else None
        if hit is not None:
            first_due, took = hit
            i += took
    # the end: "until <when>" (or glued "直到2027-01-15"), anywhere after the interval
    until: datetime | None = None
    until_text: str | None = None
    text_words = words[i:]
    for j, w in enumerate(text_words):
        nw = _norm(w)
        glued = next(
            (
                u
                for u in _UNTIL_WORDS
                if nw.startswith(u) and len(nw) > len(u) and not nw[len(u)].isalpha()
            ),
            None,
        )
        if nw.startswith(("until=", "until＝")) or nw in _UNTIL_WORDS or glued:
            if nw in _UNTIL_WORDS:
                after = text_words[j + 1 :]
                hit = _try_when(after, now, tz, times) if after else None
                if hit is None:
                    raise CommandError("bad_until", value=" ".join(text_words[j : j + 2]))
                until, took = hit
                until_text = " ".join(after[:took])
                text_words = text_words[:j] + text_words[j + 1 + took :]
            else:
                value = (
                    w.split("=", 1)[1]
                    if "=" in w
                    else (w.split("＝", 1)[1] if "＝" in w else w[len(glued or "") :])
                )
                try:
                    until = parse_when(value, now, tz, times)
                except CommandError:
                    raise CommandError("bad_until", value=w) from None
                until_text = value
                text_words = text_words[:j] + text_words[j + 1 :]
            break
    text = " ".join(text_words).strip()
    if not text:
        raise CommandError("plan_needs_text", client=ref.text, when=" ".join(words[:i]))
    if len(text) > grammar.TEXT_MAX:
        raise CommandError("text_too_long", length=len(text), max=grammar.TEXT_MAX)
    if first_due is None:
        if every.weekday is not None:
            local = now.astimezone(tz)
            ahead = (every.weekday - local.weekday()) % 7 or 7
            day = local.date() + timedelta(days=ahead)
            first_due = datetime.combine(day, time(9, 0)).replace(tzinfo=tz).astimezone(UTC)
        else:
            first_due = occurrence(now.astimezone(UTC), every, 1, tz)
    if until is not None:
        until = _end_of_local_day(until, tz)
        if until < first_due:
            raise CommandError(
                "until_before_start",
                until=until_text or "",
                first=first_due.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            )
    return RecurringPlanSpec(ref, every, first_due, text, until, until_text)


def stop_below_for(risk: Risk) -> Risk | None:
    """The tier under which a series set up now ends by itself: the client's current tier
    when it is above low (a weekly check for a high-risk student ends when the risk drops
    below high); None for a low-risk client (nothing to drop from)."""
    return None if risk is Risk.LOW else risk
