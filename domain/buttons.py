"""Callback data: the one grammar every inline button is written in and read back with.

A button's data is `<kind>:<field>[:<field>…]`, at most 64 bytes (Telegram's limit). It
comes back from Telegram as untrusted input: a forged, stale or mangled value — an id past
2^63, a superscript `²` or a full-width digit that `str.isdigit()` accepts, a missing
field — raises `BadButton`, which the bot answers with "this button no longer works".
Valid-looking ids are still only looked up through the tapping counsellor's own scope.

One small frozen dataclass per kind (`PlanDone(plan_id)`, `AckAlert(alert_id)`, …):
`pack()` writes its data (checked: ≤ 64 bytes, and it reads back to the same value),
`Kind.parse(raw)` reads it (or raises `BadButton`), `Kind.matches(raw)` says whether `raw`
is one (the bot routes taps with it), and `parse_any(raw)` reads data of any kind. The
strings are exactly those the bot has always written: buttons already sitting in
counsellors' chats keep working.

Pure: no telegram, no database. Both `bot/` (handlers) and `reminders/` (pushed messages)
build their buttons here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar, Literal, Self

from domain import safety
from domain.tiering import REVIEW_REASONS

__all__ = [
    "KINDS",
    "MAX_BYTES",
    "MAX_ID",
    "AckAlert",
    "AgendaList",
    "AgendaListPage",
    "BadButton",
    "Button",
    "CadenceSnooze",
    "ClientsPage",
    "ConfirmQuietReviews",
    "FollowUpDate",
    "ForgetConfirm",
    "ImportConfirm",
    "MapAction",
    "OpenMap",
    "ParkedChoice",
    "PlanDone",
    "PlanSnooze",
    "QuestionnaireStep",
    "ReferralClientChoice",
    "ReferralPick",
    "ReferralStatus",
    "RunSuggested",
    "SafetyCheckStart",
    "SafetyCheckStep",
    "SeriesStop",
    "SignalAction",
    "TeamConfirm",
    "TierLowerReason",
    "TierReview",
    "UndoChoice",
    "YesNo",
    "parse_any",
]

MAX_BYTES = 64
MAX_ID = 2**31 - 1  # database ids are 32-bit integers on every backend; larger is forged
_ASCII_DIGITS = frozenset("0123456789")
_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class BadButton(ValueError):
    """Callback data that is not (or no longer) a button this bot makes."""


# --- field readers: text → value, or BadButton ---------------------------------------------

Field = Callable[[str], object]


def _digits(text: str, most: int) -> int:
    """A number as the bot writes it: ASCII digits only ("²".isdigit() and "１２".isdigit()
    are True, int("²") raises), no sign, no leading zero — one spelling per value."""
    if (
        not text
        or len(text) > most
        or not set(text) <= _ASCII_DIGITS
        or (text[0] == "0" and text != "0")
    ):
        raise BadButton(text)
    return int(text)


def _id(text: str) -> int:
    value = _digits(text, 10)
    if not 0 < value <= MAX_ID:
        raise BadButton(text)
    return value


def _page(text: str) -> int:
    return _digits(text, 4)


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


def _text(value: object) -> str:
    return "".join(map(str, value)) if isinstance(value, tuple) else str(value)


# --- the kinds -----------------------------------------------------------------------------

#: risk-phrase prompt: safety check now / PHQ-9 now / not a risk…, then why not: joke /
#: quoting someone / already handled
SIGNAL_ACTIONS = ("c", "q", "n", "j", "u", "h")
#: the agenda's lists (alerts, reviews, plan, contact): rendering.agenda.AGENDA_SECTIONS' keys
AGENDA_LISTS = ("a", "r", "p", "c")
#: a follow-up date for a log whose next= was unclear: tomorrow / next Monday / in two weeks / none
FOLLOW_UP = ("t", "m", "2w", "x")
#: under a map: log / plan / choose a screening / PHQ-9 / GAD-7 / all conversations
MAP_ACTIONS = ("l", "p", "s", "9", "7", "m")

#: kind (`rv:r`: a kind with a sub-kind) → its class; filled by `Button.__init_subclass__`
KINDS: dict[str, type[Button]] = {}


class Button:
    """One button's data: `KIND:<field>:<field>…`, the fields read by `FIELDS` (in the
    order of the dataclass's fields)."""

    KIND: ClassVar[str]
    FIELDS: ClassVar[tuple[Field, ...]]

    def __init_subclass__(cls, **kw: object) -> None:
        super().__init_subclass__(**kw)
        if "KIND" in cls.__dict__:
            assert cls.KIND not in KINDS, cls.KIND
            KINDS[cls.KIND] = cls

    def pack(self) -> str:
        """The callback data; BadButton if it could not be read back as this very button."""
        raw = ":".join([self.KIND, *(_text(getattr(self, f.name)) for f in fields(self))])  # type: ignore[arg-type]  # every kind is a dataclass
        if type(self).parse(raw) != self:
            raise BadButton(raw)
        return raw

    @classmethod
    def parse(cls, raw: object) -> Self:
        """This kind's button from its data; BadButton for anything else."""
        if not isinstance(raw, str) or not raw or len(raw.encode("utf-8")) > MAX_BYTES:
            raise BadButton(str(raw or ""))
        head = cls.KIND.split(":")
        parts = raw.split(":")
        if parts[: len(head)] != head or len(parts) != len(head) + len(cls.FIELDS):
            raise BadButton(raw)
        values = [read(part) for read, part in zip(cls.FIELDS, parts[len(head) :], strict=True)]
        return cls(*values)

    @classmethod
    def matches(cls, raw: object) -> bool:
        """Whether `raw` is a valid button of this kind (a `CallbackQueryHandler` pattern)."""
        try:
            cls.parse(raw)
        except BadButton:
            return False
        return True


def parse_any(raw: object) -> Button:
    """The button `raw` is, whatever its kind; BadButton when it is none of ours."""
    if not isinstance(raw, str):
        raise BadButton(str(raw or ""))
    parts = raw.split(":", 2)
    cls = KINDS.get(":".join(parts[:2])) or KINDS.get(parts[0])
    if cls is None:
        raise BadButton(raw)
    return cls.parse(raw)


Target = int | str


@dataclass(frozen=True)
class ParkedChoice(Button):
    """A parked command or note: which client (an id), or `x` cancel (a note: asks first),
    `xx` discard, `b` back to the choice, `n` new client, `N` new client although the name
    exists, `s` search."""

    KIND = "p"
    FIELDS = (_id, _id_or("x", "xx", "b", "n", "N", "s"))
    pending_id: int
    target: Target


@dataclass(frozen=True)
class ReferralClientChoice(Button):
    """A parked /refer: which client (an id), or `x` cancel."""

    KIND = "rp"
    FIELDS = (_id, _id_or("x"))
    pending_id: int
    target: Target


@dataclass(frozen=True)
class ClientsPage(Button):
    """A page of /clients."""

    KIND = "cl"
    FIELDS = (_page,)
    page: int


@dataclass(frozen=True)
class QuestionnaireStep(Button):
    """A screening's answers so far (each 0-3), or `x` cancel."""

    KIND = "s"
    FIELDS = (_id, _answers)
    pending_id: int
    answers: tuple[int, ...] | Literal["x"]


@dataclass(frozen=True)
class PlanDone(Button):
    KIND = "rd"
    FIELDS = (_id,)
    plan_id: int


@dataclass(frozen=True)
class PlanSnooze(Button):
    KIND = "rs"
    FIELDS = (_id, _one_of("1h", "1d", "1w"))
    plan_id: int
    span: Literal["1h", "1d", "1w"]


@dataclass(frozen=True)
class SeriesStop(Button):
    """Stop the repeating follow-up this plan belongs to."""

    KIND = "rx"
    FIELDS = (_id,)
    plan_id: int


@dataclass(frozen=True)
class AckAlert(Button):
    KIND = "ak"
    FIELDS = (_id,)
    alert_id: int


@dataclass(frozen=True)
class TierReview(Button):
    """A tier review: `c` confirm, `l` lower (asks why)."""

    KIND = "rv"
    FIELDS = (_one_of("c", "l"), _id)
    action: Literal["c", "l"]
    client_id: int


@dataclass(frozen=True)
class TierLowerReason(Button):
    """A tier review: lower, for this reason."""

    KIND = "rv:r"
    FIELDS = (_id, _one_of(*REVIEW_REASONS))
    client_id: int
    reason: str


@dataclass(frozen=True)
class YesNo(Button):
    """A confirmation: `y` go ahead, `n` cancel, of a pending (parked) action."""

    pending_id: int
    answer: Literal["y", "n"]

    @property
    def confirmed(self) -> bool:
        return self.answer == "y"


@dataclass(frozen=True)
class ForgetConfirm(YesNo):
    KIND = "fg"
    FIELDS = (_id, _one_of("y", "n"))


@dataclass(frozen=True)
class ImportConfirm(YesNo):
    KIND = "im"
    FIELDS = (_id, _one_of("y", "n"))


@dataclass(frozen=True)
class TeamConfirm(YesNo):
    """/team handover or deactivation (issue 14)."""

    KIND = "tm"
    FIELDS = (_id, _one_of("y", "n"))


@dataclass(frozen=True)
class ReferralStatus(Button):
    """A referral: accepted / completed / declined."""

    KIND = "rf"
    FIELDS = (_id, _one_of("a", "c", "d"))
    referral_id: int
    action: Literal["a", "c", "d"]


@dataclass(frozen=True)
class ReferralPick(Button):
    """Refer to a suggested resource (its catalogue code), or `-` cancel."""

    KIND = "rr"
    FIELDS = (_id, _code)
    pending_id: int
    code: str


@dataclass(frozen=True)
class FollowUpDate(Button):
    """The follow-up date for a log whose `next=` was unclear."""

    KIND = "nx"
    FIELDS = (_id, _one_of(*FOLLOW_UP))
    pending_id: int
    choice: str


@dataclass(frozen=True)
class RunSuggested(Button):
    """Run the command a typo was taken for (`y`), or not (`x`)."""

    KIND = "rc"
    FIELDS = (_id, _one_of("y", "x"))
    pending_id: int
    answer: Literal["y", "x"]


@dataclass(frozen=True)
class SignalAction(Button):
    """A risk phrase's prompt (issue 11): one of SIGNAL_ACTIONS."""

    KIND = "sg"
    FIELDS = (_id, _one_of(*SIGNAL_ACTIONS))
    signal_id: int
    action: str


@dataclass(frozen=True)
class SafetyCheckStart(Button):
    """Start a safety check: which client, what started it (`domain.safety.TRIGGERS`)."""

    KIND = "sc"
    FIELDS = (_id, _one_of(*safety.TRIGGERS))
    client_id: int
    trigger: str


@dataclass(frozen=True)
class SafetyCheckStep(Button):
    """One step of the safety check: the pending check, its answers so far (or `x`)."""

    KIND = "sk"
    FIELDS = (_id, _check_answers)
    pending_id: int
    answers: str


@dataclass(frozen=True)
class OpenMap(Button):
    """Open this client's map (issue 13: one tap from a list or a reminder)."""

    KIND = "mp"
    FIELDS = (_id,)
    client_id: int


@dataclass(frozen=True)
class MapAction(Button):
    """Under a map: one of MAP_ACTIONS for this client."""

    KIND = "mx"
    FIELDS = (_one_of(*MAP_ACTIONS), _id)
    action: str
    client_id: int


@dataclass(frozen=True)
class CadenceSnooze(Button):
    """ "Time to contact" put off by a day."""

    KIND = "cz"
    FIELDS = (_id,)
    client_id: int


@dataclass(frozen=True)
class ConfirmQuietReviews(Button):
    """Confirm today's quiet reviews."""

    KIND = "ra"
    FIELDS = ()


@dataclass(frozen=True)
class AgendaList(Button):
    """A whole agenda list, as a new message."""

    KIND = "al"
    FIELDS = (_one_of(*AGENDA_LISTS), _page)
    section: str
    page: int


@dataclass(frozen=True)
class AgendaListPage(Button):
    """A whole agenda list, paged in the message it is in."""

    KIND = "alp"
    FIELDS = (_one_of(*AGENDA_LISTS), _page)
    section: str
    page: int


@dataclass(frozen=True)
class UndoChoice(Button):
    """/undo: take this change back (its audit entry), or `x` keep it."""

    KIND = "ud"
    FIELDS = (_id_or("x"),)
    entry: Target
