"""Counsellor schedule settings and the clock arithmetic the reminders need.

Pure: no clock reads and no I/O. `now` is always passed in (aware; any zone, results are
aware UTC); `tz` is the counsellor's IANA zone name (`Counsellor.timezone`). Rules:

* clocks are stored as local "HH:MM", quiet hours as local "HH:MM-HH:MM" (may wrap midnight,
  start ≠ end), the agenda time as "HH:MM" or None (off), the zone as a canonical IANA name;
* a local wall-clock time that a DST jump skips resolves to the same clock reading in the old
  offset (02:30 on a spring-forward night is 03:30 new time); an ambiguous one (fall-back) is
  its first occurrence;
* `1d`/`1w` snoozes and the daily agenda keep the local wall-clock time across DST changes;
  `1h` is exact elapsed time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import Enum
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo, available_timezones

from domain.errors import CommandError
from domain.when import _parse_time

# Outbox priorities: lower is sent first.
PRIORITY: Final[dict[str, int]] = {
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

SNOOZE_CODES: Final[tuple[str, ...]] = ("1h", "1d", "1w")

_OFF_WORDS = frozenset({"off", "none", "no", "关", "关闭", "无", "没有", "不要"})


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
Unset = Literal[_Unset.UNSET]


# ------------------------------------------------------------------ parsing


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _shown(text: str) -> str:
    return " ".join(text.split())


_BARE_CLOCK_RE = re.compile(r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?")


def _clock(s: str) -> time | None:
    """A normalised (NFKC, casefolded) clock reading, or None."""
    m = _BARE_CLOCK_RE.fullmatch(s)
    if m:
        h, minute = int(m["h"]), int(m["m"] or 0)
        return time(h, minute) if h <= 23 and minute <= 59 else None
    try:
        return _parse_time(s.replace(" ", ""))
    except CommandError:
        return None


def parse_clock(text: str) -> str:
    """`8`, `08:30`, `20点`, `8点半`, `8am`, `8pm`, `下午3点` → "HH:MM"; else `bad_clock`."""
    t = _clock(_norm(text))
    if t is None:
        raise CommandError("bad_clock", value=_shown(text))
    return f"{t.hour:02d}:{t.minute:02d}"


_RANGE_RE = re.compile(r"(?P<a>.+?)\s*(?:-|–|—|~|〜|到|至|\bto\b)\s*(?P<b>.+)")


def parse_quiet(text: str) -> str | None:
    """`22-7`, `22:00-07:00`, `10pm-7am`, `22点到7点` → "HH:MM-HH:MM"; off words → None."""
    s = _norm(text)
    if s in _OFF_WORDS:
        return None
    m = _RANGE_RE.fullmatch(s)
    start = _clock(m["a"]) if m else None
    end = _clock(m["b"]) if m else None
    if start is None or end is None or start == end:
        raise CommandError("bad_quiet", value=_shown(text))
    return f"{start.hour:02d}:{start.minute:02d}-{end.hour:02d}:{end.minute:02d}"


def parse_agenda(text: str) -> str | None:
    """A clock for the daily agenda ("HH:MM"), or an off word → None; else `bad_clock`."""
    if _norm(text) in _OFF_WORDS:
        return None
    return parse_clock(text)


_TZ_ALIASES: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("北京", "上海", "中国", "china", "cst", "prc", "beijing", "shanghai", "北京时间"),
        "Asia/Shanghai",
    ),
    **dict.fromkeys(("香港", "hong kong", "hongkong", "hk"), "Asia/Hong_Kong"),
    **dict.fromkeys(("台北", "taipei"), "Asia/Taipei"),
    **dict.fromkeys(("东京", "tokyo", "日本", "japan", "jst"), "Asia/Tokyo"),
    **dict.fromkeys(("london", "伦敦", "uk"), "Europe/London"),
    **dict.fromkeys(("new york", "newyork", "nyc", "纽约"), "America/New_York"),
    **dict.fromkeys(("utc", "gmt", "z", "utc+0", "utc+00:00"), "UTC"),
}


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def parse_timezone(text: str) -> str:
    """An IANA zone name (any case, spaces for underscores) or an alias → the IANA name."""
    s = _norm(text).strip("\"'")
    hit = _TZ_ALIASES.get(s) or _zone_names().get(s.replace(" ", "_"))
    if hit is None:
        raise CommandError("bad_tz", value=_shown(text))
    return hit


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What `/settings` asked to change; UNSET fields stay as they are."""

    agenda_at: Unset | str | None = UNSET
    quiet_hours: Unset | str | None = UNSET
    timezone: Unset | str = UNSET

    @property
    def is_empty(self) -> bool:
        """True when nothing is to change (plain `/settings`: show the settings)."""
        return self.agenda_at is UNSET and self.quiet_hours is UNSET and self.timezone is UNSET


_SETTINGS_KEYS: Final[dict[str, str]] = {
    **dict.fromkeys(("agenda", "agenda_at", "日程", "议程", "日程提醒"), "agenda_at"),
    **dict.fromkeys(("quiet", "quiet_hours", "免打扰", "勿扰"), "quiet_hours"),
    **dict.fromkeys(("tz", "timezone", "zone", "时区"), "timezone"),
}
# the `known` param of unknown_key: working examples (the template shows it as is)
SETTINGS_KNOWN: Final = "agenda=8:00, quiet=22-7, tz=Asia/Shanghai"
_SETTINGS_PARSERS = {
    "agenda_at": parse_agenda,
    "quiet_hours": parse_quiet,
    "timezone": parse_timezone,
}
_KV_RE = re.compile(r"(?P<k>[^=\s]+)\s*=(?P<v>.*)")


def parse_settings(args: str) -> SettingsChange:
    """`agenda=8:00 quiet=22-7 tz=Asia/Shanghai` (or 日程= 免打扰= 时区=) → SettingsChange.

    Words after a value that have no `=` continue it (`tz=New York`, `quiet=22:00 - 7:00`).
    Raises unknown_key (command="settings"), empty_value, duplicate_option, bad_clock,
    bad_quiet or bad_tz.
    """
    text = unicodedata.normalize("NFKC", args)
    pairs: list[list[str]] = []
    for word in text.split():
        m = _KV_RE.fullmatch(word)
        if m:
            pairs.append([m["k"], m["v"]])
        elif pairs:
            pairs[-1][1] = f"{pairs[-1][1]} {word}".strip()
        else:
            raise CommandError("unknown_key", key=word, known=SETTINGS_KNOWN, command="settings")
    values: dict[str, str | None] = {}
    seen: set[str] = set()
    for key, raw in pairs:
        field = _SETTINGS_KEYS.get(key.casefold())
        if field is None:
            raise CommandError("unknown_key", key=key, known=SETTINGS_KNOWN, command="settings")
        if field in seen:
            raise CommandError("duplicate_option", key=key)
        seen.add(field)
        value = raw.strip().strip("\"'“”「」‘’").strip()
        if not value:
            raise CommandError("empty_value", key=key, command="settings")
        values[field] = _SETTINGS_PARSERS[field](value)
    return SettingsChange(**values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ clock arithmetic


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise TypeError("now must be timezone-aware")
    return now.astimezone(UTC)


def _hhmm(text: str) -> time:
    h, _, m = text.partition(":")
    return time(int(h), int(m))


def _at(day: date, t: time, zone: tzinfo) -> datetime:
    """The UTC instant of local wall-clock `t` on local `day` (DST gaps: see module doc)."""
    return datetime.combine(day, t).replace(tzinfo=zone).astimezone(UTC)


def _window(quiet: str) -> tuple[time, time]:
    start, _, end = quiet.partition("-")
    return _hhmm(start), _hhmm(end)


def in_quiet_hours(now: datetime, tz: str | tzinfo, quiet: str | None) -> bool:
    """Is local `now` within the quiet window [start, end)? Windows may wrap midnight."""
    now = _aware(now)
    if not quiet:
        return False
    start, end = _window(quiet)
    t = now.astimezone(_zone(tz)).time()
    if start < end:
        return start <= t < end
    return t >= start or t < end


def quiet_ends_at(now: datetime, tz: str | tzinfo, quiet: str | None) -> datetime:
    """When the current quiet window ends (UTC, DST-correct); `now` if not in quiet hours."""
    now = _aware(now)
    if not in_quiet_hours(now, tz, quiet):
        return now
    zone = _zone(tz)
    _, end = _window(quiet or "")
    today = now.astimezone(zone).date()
    for offset in (0, 1):
        candidate = _at(today + timedelta(days=offset), end, zone)
        if candidate > now:
            return candidate
    return _at(today + timedelta(days=2), end, zone)  # pragma: no cover - DST oddities


def agenda_due(
    now: datetime, tz: str | tzinfo, agenda_at: str | None, last_sent_local_date: date | None
) -> date | None:
    """The local date whose agenda should go out now, or None.

    Due when the local agenda time of today has been reached and today's was not yet sent.
    """
    now = _aware(now)
    if not agenda_at:
        return None
    zone = _zone(tz)
    today = now.astimezone(zone).date()
    if last_sent_local_date is not None and last_sent_local_date >= today:
        return None
    return today if now >= _at(today, _hhmm(agenda_at), zone) else None


def next_agenda_at(now: datetime, tz: str | tzinfo, agenda_at: str | None) -> datetime | None:
    """The next agenda instant strictly after `now` (UTC); None when the agenda is off."""
    now = _aware(now)
    if not agenda_at:
        return None
    zone, t = _zone(tz), _hhmm(agenda_at)
    today = now.astimezone(zone).date()
    for offset in (0, 1, 2):
        candidate = _at(today + timedelta(days=offset), t, zone)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def local_day(now: datetime, tz: str | tzinfo) -> tuple[datetime, datetime]:
    """UTC [start, end) of the counsellor's local day containing `now` (23/25 h on DST days)."""
    now = _aware(now)
    zone = _zone(tz)
    today = now.astimezone(zone).date()
    return _at(today, time(0), zone), _at(today + timedelta(days=1), time(0), zone)


def snooze_until(now: datetime, code: str, tz: str | tzinfo) -> datetime:
    """`1h` → now + 1 hour; `1d`/`1w` → same local wall-clock time 1 / 7 days later (UTC).

    `code` comes from a button (SNOOZE_CODES), so an unknown one is a ValueError.
    """
    now = _aware(now)
    if code == "1h":
        return now + timedelta(hours=1)
    days = {"1d": 1, "1w": 7}.get(code)
    if days is None:
        raise ValueError(f"unknown snooze code {code!r}")
    zone = _zone(tz)
    local = now.astimezone(zone)
    return _at(local.date() + timedelta(days=days), local.time().replace(fold=0), zone)


# ---------------------------------------------------------------- one digest, not a flood
#
# A class of 50 must not get 66 pushes in a week. Contact-cadence reminders and tier reviews
# are pushed one by one only for students whose risk is urgent; everything else goes into the
# one daily agenda, most urgent first, where low-risk reviews with no risk factor are
# confirmed together in one tap.

URGENT_RISKS: Final[frozenset[str]] = frozenset({"crisis", "high"})
_NO_FACTOR_CODES: Final[frozenset[str]] = frozenset({"no_risk_factors", "screening_stale"})


def pushed_alone(risk: object) -> bool:
    """A cadence reminder or tier review for this risk tier is its own push (else: agenda)."""
    return getattr(risk, "value", risk) in URGENT_RISKS


def urgent_priority(kind: str, risk: object) -> int:
    """Outbox priority of a cadence/review push: a crisis student's goes before the rest."""
    base = PRIORITY[kind]
    return base - 2 if getattr(risk, "value", risk) == "crisis" else base


def quiet_review(risk: object, reason_codes: tuple[str, ...] | list[str]) -> bool:
    """A low-risk review with no risk factor: confirmed with the others in one tap."""
    return getattr(risk, "value", risk) == "low" and set(reason_codes) <= _NO_FACTOR_CODES
