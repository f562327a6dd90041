"""CareMap's domain objects: plain dataclasses, no I/O.

These are what the storage layer returns (DTOs) and what the services and the bot
work with. Datetimes are always timezone-aware UTC. Free text (notes, needs, goals)
is plain text here; the storage layer encrypts it at rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRISIS = "crisis"

    @property
    def rank(self) -> int:
        return _RISK_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Risk | None:
        """`low|medium|high|crisis`, some abbreviations and the Chinese words; None if unknown."""
        return _RISK_ALIASES.get(text.strip().lower())


_RISK_RANK = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRISIS: 3}
_RISK_ALIASES: dict[str, Risk] = {
    "low": Risk.LOW,
    "l": Risk.LOW,
    "none": Risk.LOW,
    "no": Risk.LOW,
    "低": Risk.LOW,
    "无": Risk.LOW,
    "medium": Risk.MEDIUM,
    "med": Risk.MEDIUM,
    "mid": Risk.MEDIUM,
    "m": Risk.MEDIUM,
    "中": Risk.MEDIUM,
    "high": Risk.HIGH,
    "h": Risk.HIGH,
    "高": Risk.HIGH,
    "crisis": Risk.CRISIS,
    "c": Risk.CRISIS,
    "危机": Risk.CRISIS,
    "危": Risk.CRISIS,
}


class PlanKind(StrEnum):
    SHORT = "short"  # a dated follow-up (from /plan or /log next=)
    LONG = "long"  # a long-term goal (from /goal), no date


@dataclass(frozen=True, slots=True)
class Counsellor:
    id: int
    telegram_id: int
    display_name: str
    is_admin: bool = False
    language: str | None = None  # "zh" | "en" once /lang set it; None = follow Telegram
    timezone: str = "Asia/Shanghai"
    supervisor_id: int | None = None
    created_at: datetime | None = None
    agenda_at: str | None = "08:00"  # local "HH:MM" for the daily agenda; None = off
    quiet_hours: str | None = None  # local "HH:MM-HH:MM" (may wrap midnight); None = none
    telegram_language: str | None = None  # "zh"/"en" as Telegram last reported it (for pushes)
    deactivated_at: datetime | None = None  # set when an admin ended their access

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    counsellor_id: int
    number: int  # per-counsellor sequence number, 1, 2, 3 … (the "client's number")
    name: str
    tags: tuple[str, ...] = ()
    sid: str | None = None  # student number
    major: str | None = None
    grade: str | None = None
    trust: int | None = None  # 1-5
    satisfaction: int | None = None  # 1-5
    risk: Risk = Risk.LOW  # the risk the counsellor set
    created_at: datetime | None = None
    last_contact_at: datetime | None = None

    @property
    def strengths(self) -> tuple[str, ...]:
        """`#+编程强` tags without the "+": strengths and opportunities, never graded."""
        return tuple(t[1:] for t in self.tags if t.startswith("+"))

    @property
    def plain_tags(self) -> tuple[str, ...]:
        """The tags that are not strengths."""
        return tuple(t for t in self.tags if not t.startswith("+"))


@dataclass(frozen=True, slots=True)
class Need:
    id: int
    client_id: int
    text: str
    explicit: bool
    source: str | None  # where it was learned: a channel code (see domain.grammar.CHANNELS)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Interaction:
    id: int
    client_id: int
    at: datetime
    channel: str | None  # a channel code (face, phone, chat, dorm, …)
    notes: str
    created_at: datetime
    outcome: str | None = None  # domain.vocab.OUTCOMES code: reached, unreached, refused, …


@dataclass(frozen=True, slots=True)
class PlanItem:
    id: int
    client_id: int
    kind: PlanKind
    text: str
    due_at: datetime | None  # UTC; None for long-term goals
    done_at: datetime | None
    created_at: datetime
    series_id: int | None = None  # an occurrence of a recurring follow-up (domain.recurrence)
    seq: int | None = None  # which occurrence (0 = the first)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of a client's status history: who changed what, when, old → new."""

    id: int
    client_id: int
    counsellor_id: int
    at: datetime
    field: str  # "trust" | "satisfaction" | "risk"
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class Referral:
    """A resource matched to a client (dimension 4): a catalogue code (domain/resources.py) or
    free text, and what became of it (referred / accepted / completed / declined)."""

    id: int
    client_id: int
    resource: str
    status: str
    created_at: datetime
    updated_at: datetime | None = None  # the last status change


@dataclass(frozen=True, slots=True)
class RelationshipMap:
    """Everything `/map` shows, latest first in each list."""

    client: Client
    needs: list[Need] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    interaction_count: int = 0
    referrals: list[Referral] = field(default_factory=list)
    plan: list[PlanItem] = field(default_factory=list)
    history: list[StatusChange] = field(default_factory=list)
