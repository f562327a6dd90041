"""Callback data: the one grammar every inline button is written in and read back with.

A button's data is `<kind>:<field>[:<field>…]`, at most 64 bytes (Telegram's limit). It
comes back from Telegram as untrusted input: a forged, stale or mangled value — an id past
2^63, a superscript `²` or a full-width digit that `str.isdigit()` accepts, a missing
field — raises `BadButton`, which the bot answers with "this button no longer works".
Valid-looking ids are still only looked up through the tapping counsellor's own scope.

Pure: no telegram, no database. Both `bot/` (handlers) and `reminders/` (pushed messages)
can build their buttons with `data()` and every handler reads them with `parse()`.
"""

from __future__ import annotations

from collections.abc import Callable

from domain import safety
from domain.tiering import REVIEW_REASONS

__all__ = ["BadButton", "KINDS", "MAX_BYTES", "MAX_ID", "data", "parse"]

MAX_BYTES = 64
MAX_ID = 2**31 - 1  # database ids are 32-bit integers on every backend; larger is forged
_ASCII_DIGITS = frozenset("0123456789")
_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class BadButton(ValueError):
    """Callback data that is not (or no longer) a button this bot makes."""


Field = Callable[[str], object]


def _id(text: str) -> int:
    # ASCII digits only: "²".isdigit() and "１２".isdigit() are True, int("²") raises.
    if not text or len(text) > 10 or not set(text) <= _ASCII_DIGITS:
        raise BadButton(text)
    value = int(text)
    if not 0 < value <= MAX_ID:
        raise BadButton(text)
    return value


def _page(text: str) -> int:
    if not text or len(text) > 4 or not set(text) <= _ASCII_DIGITS:
        raise BadButton(text)
    return int(text)


def _id_or(*words: str) -> Field:
    def parse(text: str) -> object:
        return text if text in words else _id(text)

    return parse


def _one_of(*words: str) -> Field:
    def parse(text: str) -> object:
        if text not in words:
            raise BadButton(text)
        return text

    return parse


def _answers(text: str) -> object:
    """Questionnaire answers so far (`""` … `"012301230"`, each 0-3), or `x` (cancel)."""
    if text == "x":
        return text
    if len(text) > 9 or not set(text) <= set("0123"):
        raise BadButton(text)
    return tuple(int(ch) for ch in text)


def _code(text: str) -> str:
    """A catalogue code (ASCII word) or `-` (cancel)."""
    if text == "-" or (text and len(text) <= 40 and set(text) <= _CODE_CHARS):
        return text
    raise BadButton(text)


def _check_answers(text: str) -> str:
    """A safety check's answers so far (y/n/- per item, consistent with its skip logic, as
    `domain.safety.encode_answers` writes them), or `x` (cancel)."""
    if text == "x":
        return text
    try:
        safety.decode_answers(text)
    except ValueError:
        raise BadButton(text) from None
    return text


# risk-phrase prompt: safety check now / PHQ-9 now / not a risk…, then why not: joke /
# quoting someone / already handled
SIGNAL_ACTIONS = ("c", "q", "n", "j", "u", "h")

# kind → its fields, in order. A kind may have a sub-kind (`rv:r`): data that starts with
# `<kind>:<sub>:` is read with that entry's fields when there is one.
#: the agenda's lists (alerts, reviews, plan, contact): rendering.agenda.AGENDA_SECTIONS' keys
AGENDA_LISTS = ("a", "r", "p", "c")

KINDS: dict[str, tuple[Field, ...]] = {
    # parked command/note: which client (x cancel → asks, xx discard, b back to the choice,
    # n new client, N new client although the name exists, s search)
    "p": (_id, _id_or("x", "xx", "b", "n", "N", "s")),
    "rp": (_id, _id_or("x")),  # parked /refer: which client
    "cl": (_page,),  # /clients page
    "s": (_id, _answers),  # questionnaire step
    "rd": (_id,),  # plan done
    "rs": (_id, _one_of("1h", "1d", "1w")),  # plan snooze
    "rx": (_id,),  # stop a repeating follow-up
    "ak": (_id,),  # acknowledge alert
    "rv": (_one_of("c", "l"), _id),  # tier review: confirm / lower (asks why)
    "rv:r": (_id, _one_of(*REVIEW_REASONS)),  # tier review: lower, for this reason
    "fg": (_id, _one_of("y", "n")),  # /forget: confirm / cancel
    "rf": (_id, _one_of("a", "c", "d")),  # referral: accepted / completed / declined
    "rr": (_id, _code),  # referral suggestion
    "nx": (_id, _one_of("t", "m", "2w", "x")),  # follow-up date for a log whose next= was unclear
    "rc": (_id, _one_of("y", "x")),  # run the command a typo was taken for
    "im": (_id, _one_of("y", "n")),  # roster import: confirm / cancel
    "sg": (_id, _one_of(*SIGNAL_ACTIONS)),  # a risk phrase's prompt (issue 11)
    "sc": (_id, _one_of(*safety.TRIGGERS)),  # start a safety check: client, what started it
    "sk": (_id, _check_answers),  # one step of the safety check: pending check, answers so far
    # issue 13: one tap from a map, a list or a reminder
    "mp": (_id,),  # open the map of this client
    "mx": (_one_of("l", "p", "s", "9", "7", "m"), _id),  # log / plan / screening / PHQ-9 / GAD-7 / more
    "cz": (_id,),  # "time to contact" put off by a day
    "ra": (),  # confirm today's quiet reviews
    "al": (_one_of(*AGENDA_LISTS), _page),  # a whole agenda list, as a new message
    "alp": (_one_of(*AGENDA_LISTS), _page),  # … paged in that message
    "ud": (_id_or("x"),),  # /undo: take this change back, or keep it
    "tm": (_id, _one_of("y", "n")),  # /team handover or deactivation: confirm / cancel (issue 14)
}


def parse(raw: str | None, kind: str | None = None) -> tuple[str, tuple]:
    """`(kind, fields)` of a button's data; `kind` given: it must be that kind."""
    if not raw or len(raw.encode("utf-8")) > MAX_BYTES:
        raise BadButton(raw or "")
    head, _, rest = raw.partition(":")
    sub, sep, sub_rest = rest.partition(":")
    if sep and f"{head}:{sub}" in KINDS:
        head, rest = f"{head}:{sub}", sub_rest
    spec = KINDS.get(head)
    if spec is None or (kind is not None and head != kind):
        raise BadButton(raw)
    parts = rest.split(":") if rest or len(spec) else []
    if len(parts) != len(spec):
        raise BadButton(raw)
    return head, tuple(field(part) for field, part in zip(spec, parts, strict=True))


def fields(raw: str | None, kind: str) -> tuple:
    """Just the fields of a button that must be of `kind`."""
    return parse(raw, kind)[1]


def data(kind: str, *values: object) -> str:
    """Build a button's data; checked against the grammar and the 64-byte limit."""
    raw = ":".join([kind, *("".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in values)])
    parse(raw, kind)  # what we write, we can read back
    return raw
