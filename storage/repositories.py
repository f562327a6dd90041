"""Repositories: the only code (with storage internals) that touches SQLAlchemy.

They take and return domain dataclasses (`domain.model`) or the small DTOs in
`storage.dto`, never ORM objects. Free text is encrypted here on the way in and
decrypted on the way out. Datetimes must be timezone-aware; they come back in UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.model import (
    Client,
    Counsellor,
    Interaction,
    Need,
    PlanItem,
    PlanKind,
    Referral,
    RelationshipMap,
    Risk,
    StatusChange,
)
from domain.screening import Instrument, ScreeningResult
from domain.screening import score as score_screening
from domain.tiering import AlertEvent, ClientFacts, Grades, TierChange
from storage.dto import Alert, Invite, Pending
from storage.errors import AlreadyExists, ClientNotFound
from storage.facts import (
    Graded,
    add_tier_changes,
    grade_values,
    load_facts,
    save_grades_many,
    still_as_read,
)
from storage.once import ONCE
from storage.orm import (
    AlertRow,
    ClientGradeRow,
    ClientRow,
    ClientTagRow,
    CounsellorRow,
    InteractionRow,
    InviteRow,
    NeedRow,
    PendingRow,
    PlanItemRow,
    ProcessedUpdateRow,
    ReferralRow,
    ScreeningRow,
    StatusChangeRow,
    TierChangeRow,
)
from storage.tiering_codec import decode_grades, decode_reasons, encode_grades, encode_reasons

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

_DIMENSIONS = frozenset({"risk", "frequency", "need", "value"})

__all__ = ["CounsellorRepo", "InviteRepo", "ClientRepo", "PendingRepo", "UpdateRepo", "UNSET"]


class _Unset:
    """The "not given" sentinel of keyword arguments where None is a meaningful value."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


# -- helpers ---------------------------------------------------------------------------


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{what} must be timezone-aware (naive datetimes are refused)")
    return value.astimezone(UTC)


def _aware_opt(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else _aware(value, what)


def _text(value: str | None, limit: int, what: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ValueError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string")
    value = value.strip()
    if required and not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{what} is too long (at most {limit} characters)")
    return value or None


def _clean_tags(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        t = _text(str(tag).strip().lstrip("#＃"), 64, "a tag")
        if t and t not in out:
            out.append(t)
    return out


def _score(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"{what} must be a whole number from 1 to 5")
    return value


_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _hhmm(value: str, what: str) -> str:
    """"8:00" → "08:00"; ValueError unless a valid 24-hour time."""
    m = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{what} must be a time HH:MM (00:00–23:59)")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def _agenda_at(value: str | None) -> str | None:
    return None if value is None else _hhmm(value, "agenda time")


def _quiet_hours(value: str | None) -> str | None:
    """"22:00-07:30" (may wrap midnight); None = none. Start and end must differ."""
    if value is None:
        return None
    if not isinstance(value, str) or value.replace("–", "-").count("-") != 1:
        raise ValueError("quiet hours must look like HH:MM-HH:MM (e.g. 22:00-07:30)")
    start, end = (_hhmm(part, "quiet hours") for part in value.replace("–", "-").split("-"))
    if start == end:
        raise ValueError("quiet hours must not start and end at the same time")
    return f"{start}-{end}"


def _counsellor(row: CounsellorRow) -> Counsellor:
    return Counsellor(
        id=row.id,
        telegram_id=row.telegram_id,
        display_name=row.display_name,
        is_admin=row.is_admin,
        language=row.language,
        timezone=row.timezone,
        supervisor_id=row.supervisor_id,
        created_at=row.created_at,
        agenda_at=row.agenda_at,
        quiet_hours=row.quiet_hours,
        telegram_language=row.telegram_language,
        deactivated_at=row.deactivated_at,
    )


def _alert(row: AlertRow, dec: Any) -> Alert:
    return Alert(
        id=row.id,
        client_id=row.client_id,
        counsellor_id=row.counsellor_id,
        tier=Risk(row.tier),
        previous=None if row.previous is None else Risk(row.previous),
        raised_at=row.raised_at,
        respond_by=row.respond_by,
        realert_minutes=row.realert_minutes,
        escalate_minutes=row.escalate_minutes,
        realert_at=row.realert_at,
        escalate_at=row.escalate_at,
        reasons=decode_reasons(dec(row.reasons_enc)),
        acknowledged_at=row.acknowledged_at,
        status=row.status,
        escalated_at=row.escalated_at,
        realert_count=row.realert_count,
        message_id=row.message_id,
        sent_at=row.sent_at,
    )


def _plan_item(row: PlanItemRow, dec: Any) -> PlanItem:
    return PlanItem(
        id=row.id,
        client_id=row.client_id,
        kind=PlanKind(row.kind),
        text=dec(row.text_enc),
        due_at=row.due_at,
        done_at=row.done_at,
        created_at=row.created_at,
        series_id=row.series_id,
        seq=row.seq,
    )


def _client(row: ClientRow) -> Client:
    return Client(
        id=row.id,
        counsellor_id=row.counsellor_id,
        number=row.number,
        name=row.name,
        tags=tuple(t.tag for t in row.tags),
        sid=row.sid,
        major=row.major,
        grade=row.grade,
        trust=row.trust,
        satisfaction=row.satisfaction,
        risk=Risk(row.risk),
        created_at=row.created_at,
        last_contact_at=row.last_contact_at,
    )


def _status(row: StatusChangeRow) -> StatusChange:
    return StatusChange(
        id=row.id,
        client_id=row.client_id,
        counsellor_id=row.counsellor_id,
        at=row.at,
        field=row.field,
        old=row.old,
        new=row.new,
    )


def _referral(row: ReferralRow, dec: Any) -> Referral:
    return Referral(
        id=row.id,
        client_id=row.client_id,
        resource=dec(row.resource_enc),
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _invite(row: InviteRow) -> Invite:
    return Invite(
        id=row.id,
        code_hash=row.code_hash,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        used_by=row.used_by,
    )


_LIST_CLIENTS = text(
    "SELECT id, number, name_enc, sid_enc, major_enc, grade_enc, trust_enc, satisfaction_enc, "
    "risk, created_at, last_contact_at FROM clients WHERE counsellor_id = :c ORDER BY number"
)
_LIST_TAGS = text(
    "SELECT t.client_id, t.tag_enc FROM client_tags t JOIN clients c ON c.id = t.client_id "
    "WHERE c.counsellor_id = :c ORDER BY t.id"
)


def _raw_utc(value: Any) -> datetime | None:
    """A raw instant column (naive UTC text on SQLite, timestamptz on PostgreSQL) → aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Repo:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _s(self) -> Session:
        return self._uow.session

    def _enc(self, text: str) -> str:
        return self._uow.cipher.encrypt(text)

    def _dec(self, token: str) -> str:
        return self._uow.cipher.decrypt(token)


# -- counsellors -----------------------------------------------------------------------


class CounsellorRepo(_Repo):
    def get(self, counsellor_id: int) -> Counsellor | None:
        row = self._s.get(CounsellorRow, counsellor_id)
        return _counsellor(row) if row else None

    def get_by_telegram_id(self, telegram_id: int) -> Counsellor | None:
        row = self._s.scalars(
            select(CounsellorRow).where(CounsellorRow.telegram_id == telegram_id)
        ).one_or_none()
        return _counsellor(row) if row else None

    def add(
        self,
        telegram_id: int,
        display_name: str,
        is_admin: bool,
        now: datetime,
        language: str | None = None,
        timezone: str = "Asia/Shanghai",
    ) -> Counsellor:
        if (
            self._s.scalar(select(CounsellorRow.id).where(CounsellorRow.telegram_id == telegram_id))
            is not None
        ):
            raise AlreadyExists(f"a counsellor with telegram id {telegram_id} already exists")
        row = CounsellorRow(
            telegram_id=telegram_id,
            display_name=_text(display_name, 200, "display name") or str(telegram_id),
            is_admin=bool(is_admin),
            language=_text(language, 8, "language"),
            timezone=_text(timezone, 64, "time zone", required=True),
            client_seq=0,
            created_at=_aware(now, "now"),
        )
        self._s.add(row)
        self._s.flush()
        return _counsellor(row)

    def _update(self, counsellor_id: int, **values: Any) -> Counsellor | None:
        row = self._s.get(CounsellorRow, counsellor_id)
        if row is None:
            return None
        for key, value in values.items():
            setattr(row, key, value)
        self._s.flush()
        return _counsellor(row)

    def set_admin(self, counsellor_id: int, is_admin: bool) -> Counsellor | None:
        return self._update(counsellor_id, is_admin=bool(is_admin))

    def set_language(self, counsellor_id: int, language: str | None) -> Counsellor | None:
        return self._update(counsellor_id, language=_text(language, 8, "language"))

    def set_timezone(self, counsellor_id: int, timezone: str) -> Counsellor | None:
        return self._update(counsellor_id, timezone=_text(timezone, 64, "time zone", required=True))

    def set_supervisor(self, counsellor_id: int, supervisor_id: int | None) -> Counsellor | None:
        if supervisor_id == counsellor_id:
            raise ValueError("a counsellor cannot supervise themselves")
        return self._update(counsellor_id, supervisor_id=supervisor_id)

    def set_settings(
        self, counsellor_id: int, *, agenda_at: Any = UNSET, quiet_hours: Any = UNSET
    ) -> Counsellor | None:
        """Change the reminder settings given; an argument left out is kept, None turns it
        off. `agenda_at` "HH:MM" (local), `quiet_hours` "HH:MM-HH:MM" (local, may wrap
        midnight); "8:00" is stored as "08:00". ValueError for a malformed value; None for
        an unknown counsellor."""
        values: dict[str, Any] = {}
        if agenda_at is not UNSET:
            values["agenda_at"] = _agenda_at(agenda_at)
        if quiet_hours is not UNSET:
            values["quiet_hours"] = _quiet_hours(quiet_hours)
        return self._update(counsellor_id, **values)

    def set_telegram_language(self, counsellor_id: int, lang: str | None) -> Counsellor | None:
        """The language Telegram reports for the counsellor ("zh"/"en"): pushed reminders
        use it until /lang sets one."""
        if lang not in (None, "zh", "en"):
            raise ValueError("telegram language must be 'zh', 'en' or None")
        return self._update(counsellor_id, telegram_language=lang)

    def sync_admins(self, admin_telegram_ids: Iterable[int]) -> tuple[list[int], list[int]]:
        """Make exactly the counsellors whose Telegram id is listed admins (CAREMAP_ADMIN_IDS
        is the truth at every start). Returns the counsellor ids (granted, revoked)."""
        wanted = {int(t) for t in admin_telegram_ids}
        granted: list[int] = []
        revoked: list[int] = []
        for row in self._s.scalars(select(CounsellorRow).order_by(CounsellorRow.id)):
            should = row.telegram_id in wanted
            if should and row.deactivated_at is not None:
                row.deactivated_at = None  # a listed admin always has access
            if bool(row.is_admin) != should:
                row.is_admin = should
                (granted if should else revoked).append(row.id)
        self._s.flush()
        return granted, revoked

    def list_admins(self) -> list[Counsellor]:
        rows = self._s.scalars(
            select(CounsellorRow)
            .where(CounsellorRow.is_admin.is_(True), CounsellorRow.deactivated_at.is_(None))
            .order_by(CounsellorRow.id)
        )
        return [_counsellor(r) for r in rows]

    def list_all(self) -> list[Counsellor]:
        return [
            _counsellor(r)
            for r in self._s.scalars(select(CounsellorRow).order_by(CounsellorRow.id))
        ]


# -- invites ---------------------------------------------------------------------------


class InviteRepo(_Repo):
    def create(self, code_hash: str, created_by: int, expires_at: datetime, now: datetime) -> int:
        row = InviteRow(
            code_hash=_text(code_hash, 128, "code hash", required=True),
            created_by=created_by,
            created_at=_aware(now, "now"),
            expires_at=_aware(expires_at, "expires_at"),
        )
        self._s.add(row)
        self._s.flush()
        return row.id

    def get_valid(self, code_hash: str, now: datetime) -> Invite | None:
        """The invite with this hash if it is unused and not expired."""
        row = self._s.scalars(
            select(InviteRow).where(
                InviteRow.code_hash == code_hash,
                InviteRow.used_at.is_(None),
                InviteRow.expires_at > _aware(now, "now"),
            )
        ).one_or_none()
        return _invite(row) if row else None

    def redeemed_by(self, counsellor_id: int) -> Invite | None:
        """The invite this counsellor joined with, if any."""
        row = self._s.scalars(
            select(InviteRow).where(InviteRow.used_by == counsellor_id).order_by(InviteRow.id.desc()).limit(1)
        ).one_or_none()
        return _invite(row) if row else None

    def mark_used(self, invite_id: int, used_by_counsellor_id: int, now: datetime) -> bool:
        """Atomically use the invite; False if it was already used (or has expired), so
        two people racing on one code cannot both get in."""
        now = _aware(now, "now")
        result = self._s.execute(
            update(InviteRow)
            .where(
                InviteRow.id == invite_id,
                InviteRow.used_at.is_(None),
                InviteRow.expires_at > now,
            )
            .values(used_at=now, used_by=used_by_counsellor_id)
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1


# -- clients (scoped to one counsellor) -------------------------------------------------


class ClientRepo(_Repo):
    """A counsellor's caseload. Every query filters on counsellor_id: another
    counsellor's client is simply "not found". Reads return None for a missing client;
    writes raise `ClientNotFound`."""

    def __init__(self, uow: UnitOfWork, counsellor_id: int) -> None:
        super().__init__(uow)
        self.counsellor_id = counsellor_id

    # internal
    def _row(self, client_id: int) -> ClientRow | None:
        return self._s.scalars(
            select(ClientRow).where(
                ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id
            )
        ).one_or_none()

    def _need_row(self, client_id: int) -> ClientRow:
        row = self._row(client_id)
        if row is None:
            raise ClientNotFound(f"client {client_id} not found")
        return row

    # reads
    def get(self, client_id: int) -> Client | None:
        row = self._row(client_id)
        return _client(row) if row else None

    def get_by_number(self, number: int) -> Client | None:
        row = self._s.scalars(
            select(ClientRow).where(
                ClientRow.counsellor_id == self.counsellor_id, ClientRow.number == number
            )
        ).one_or_none()
        return _client(row) if row else None

    def list(self) -> list[Client]:
        """The whole caseload by number. Every lookup by name, prefix, pinyin or initials
        matches in memory over this list (the names are encrypted: SQL cannot), so it is
        read as plain rows (two `text()` queries, no ORM objects, no per-column type
        processing) and the tokens go through the cipher's memo: a token is never rewritten
        in place, so the memo cannot go stale, and a write shows at the next read."""
        dec = self._uow.cipher.decrypt_cached
        params = {"c": self.counsellor_id}
        tags: dict[int, list[str]] = {}
        for client_id, token in self._s.execute(_LIST_TAGS, params):
            tags.setdefault(client_id, []).append(dec(token))
        out = []
        for r in self._s.execute(_LIST_CLIENTS, params):
            out.append(Client(
                id=r[0], counsellor_id=self.counsellor_id, number=r[1], name=dec(r[2]),
                tags=tuple(tags.get(r[0], ())),
                sid=None if r[3] is None else dec(r[3]),
                major=None if r[4] is None else dec(r[4]),
                grade=None if r[5] is None else dec(r[5]),
                trust=None if r[6] is None else int(dec(r[6])),
                satisfaction=None if r[7] is None else int(dec(r[7])),
                risk=Risk(r[8]), created_at=_raw_utc(r[9]), last_contact_at=_raw_utc(r[10]),
            ))
        return out

    def recent(self, limit: int = 6) -> list[Client]:
        """Most recently contacted first, then the newest created."""
        rows = self._s.scalars(
            select(ClientRow)
            .where(ClientRow.counsellor_id == self.counsellor_id)
            .order_by(
                ClientRow.last_contact_at.is_(None),
                ClientRow.last_contact_at.desc(),
                ClientRow.created_at.desc(),
                ClientRow.id.desc(),
            )
            .limit(limit)
        )
        return [_client(r) for r in rows]

    def history(self, client_id: int) -> list[StatusChange]:
        """Status changes, latest first (empty for an unknown client)."""
        rows = self._s.scalars(
            select(StatusChangeRow)
            .join(ClientRow, ClientRow.id == StatusChangeRow.client_id)
            .where(
                StatusChangeRow.client_id == client_id,
                ClientRow.counsellor_id == self.counsellor_id,
            )
            .order_by(StatusChangeRow.at.desc(), StatusChangeRow.id.desc())
        )
        return [_status(r) for r in rows]

    def relationship_map(
        self, client_id: int, *, interactions_limit: int = 20
    ) -> RelationshipMap | None:
        row = self._row(client_id)
        if row is None:
            return None
        s = self._s
        needs = [
            Need(
                id=n.id,
                client_id=n.client_id,
                text=self._dec(n.text_enc),
                explicit=n.explicit,
                source=n.source,
                created_at=n.created_at,
            )
            for n in s.scalars(
                select(NeedRow)
                .where(NeedRow.client_id == client_id)
                .order_by(NeedRow.created_at.desc(), NeedRow.id.desc())
            )
        ]
        interactions = [
            self._interaction(i)
            for i in s.scalars(
                select(InteractionRow)
                .where(InteractionRow.client_id == client_id)
                .order_by(InteractionRow.at.desc(), InteractionRow.id.desc())
                .limit(interactions_limit)
            )
        ]
        count = (
            s.scalar(
                select(func.count())
                .select_from(InteractionRow)
                .where(InteractionRow.client_id == client_id)
            )
            or 0
        )
        referrals = self.referrals(client_id)
        plan = [
            self._plan(p)
            for p in s.scalars(
                select(PlanItemRow)
                .where(PlanItemRow.client_id == client_id)
                .order_by(PlanItemRow.created_at.desc(), PlanItemRow.id.desc())
            )
        ]
        return RelationshipMap(
            client=_client(row),
            needs=needs,
            interactions=interactions,
            interaction_count=int(count),
            referrals=referrals,
            plan=plan,
            history=self.history(client_id),
        )

    # writes
    def add(
        self,
        name: str,
        tags: Iterable[str],
        sid: str | None,
        major: str | None,
        grade: str | None,
        now: datetime,
    ) -> Client:
        """A new client with the counsellor's next number (1, 2, 3…; never reused)."""
        clean_name = _text(name, 200, "name", required=True)
        clean_tags = _clean_tags(tags or ())
        now = _aware(now, "now")
        number = self._s.execute(
            update(CounsellorRow)
            .where(CounsellorRow.id == self.counsellor_id)
            .values(client_seq=CounsellorRow.client_seq + 1)
            .returning(CounsellorRow.client_seq)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if number is None:
            raise LookupError(f"counsellor {self.counsellor_id} does not exist")
        row = ClientRow(
            counsellor_id=self.counsellor_id,
            number=number,
            name=clean_name,
            sid=_text(sid, 64, "student number"),
            major=_text(major, 200, "major"),
            grade=_text(grade, 64, "grade"),
            risk=Risk.LOW.value,
            created_at=now,
            tags=[ClientTagRow(tag=t) for t in clean_tags],
        )
        self._s.add(row)
        self._s.flush()
        return _client(row)

    def add_tags(self, client_id: int, tags: Iterable[str]) -> Client:
        row = self._need_row(client_id)
        have = {t.tag for t in row.tags}
        for tag in _clean_tags(tags):
            if tag not in have:
                row.tags.append(ClientTagRow(tag=tag))
                have.add(tag)
        self._s.flush()
        return _client(row)

    def remove_tags(self, client_id: int, tags: Iterable[str]) -> Client:
        row = self._need_row(client_id)
        drop = set(_clean_tags(tags))
        row.tags = [t for t in row.tags if t.tag not in drop]
        self._s.flush()
        return _client(row)

    def change_tags(
        self, client_id: int, *, add: Iterable[str] = (), remove: Iterable[str] = (),
        by_counsellor_id: int, now: datetime,
    ) -> list[StatusChange]:
        """Add and remove tags, keeping each actual change in the status history
        (field "tag": None → tag when added, tag → None when cleared)."""
        row = self._need_row(client_id)
        now = _aware(now, "now")
        have = {t.tag for t in row.tags}
        changed: list[StatusChangeRow] = []
        drop = [t for t in _clean_tags(remove) if t in have]
        if drop:
            row.tags = [t for t in row.tags if t.tag not in set(drop)]
            have -= set(drop)
        for tag in drop:
            changed.append(StatusChangeRow(client_id=row.id, counsellor_id=by_counsellor_id, at=now,
                                           field="tag", old=tag, new=None))
        for tag in _clean_tags(add):
            if tag not in have:
                row.tags.append(ClientTagRow(tag=tag))
                have.add(tag)
                changed.append(StatusChangeRow(client_id=row.id, counsellor_id=by_counsellor_id,
                                               at=now, field="tag", old=None, new=tag))
        for change in changed:
            self._s.add(change)
        self._s.flush()
        return [_status(c) for c in changed]

    def set_status(
        self,
        client_id: int,
        *,
        by_counsellor_id: int,
        now: datetime,
        trust: int | None = None,
        satisfaction: int | None = None,
        risk: Risk | str | None = None,
    ) -> list[StatusChange]:
        """Set the given fields; returns (and records in the history) only those that
        actually changed. None means "leave as is"."""
        row = self._need_row(client_id)
        now = _aware(now, "now")
        wanted: list[tuple[str, Any]] = []
        if trust is not None:
            wanted.append(("trust", _score(trust, "trust")))
        if satisfaction is not None:
            wanted.append(("satisfaction", _score(satisfaction, "satisfaction")))
        if risk is not None:
            try:
                wanted.append(("risk", Risk(risk).value))
            except ValueError:
                raise ValueError("risk must be one of low, medium, high, crisis") from None
        changed: list[StatusChangeRow] = []
        for field, new in wanted:
            old = getattr(row, field)
            if old == new:
                continue
            setattr(row, field, new)
            change = StatusChangeRow(
                client_id=row.id,
                counsellor_id=by_counsellor_id,
                at=now,
                field=field,
                old=None if old is None else str(old),
                new=str(new),
            )
            self._s.add(change)
            changed.append(change)
        self._s.flush()
        return [_status(c) for c in changed]

    def add_interaction(
        self, client_id: int, at: datetime, channel: str | None, notes: str, now: datetime,
        outcome: str | None = None,
    ) -> Interaction:
        """A contact. `outcome="unreached"` (a call nobody answered) is kept in the history
        but is not a contact: last_contact_at stays as it was."""
        row = self._need_row(client_id)
        at = _aware(at, "at")
        if not isinstance(notes, str):
            raise TypeError("notes must be a string")
        item = InteractionRow(
            client_id=row.id,
            at=at,
            channel=_text(channel, 32, "channel"),
            notes_enc=self._enc(notes),
            created_at=_aware(now, "now"),
            outcome=_text(outcome, 16, "outcome"),
        )
        self._s.add(item)
        if outcome == "unreached":
            pass
        elif row.last_contact_at is None or at > row.last_contact_at:
            row.last_contact_at = at
        self._s.flush()
        return self._interaction(item)

    def add_need(
        self, client_id: int, text: str, explicit: bool, source: str | None, now: datetime
    ) -> Need:
        row = self._need_row(client_id)
        clean = _text(text, 4000, "need", required=True)
        item = NeedRow(
            client_id=row.id,
            text_enc=self._enc(clean),
            explicit=bool(explicit),
            source=_text(source, 32, "source"),
            created_at=_aware(now, "now"),
        )
        self._s.add(item)
        self._s.flush()
        return Need(
            id=item.id,
            client_id=item.client_id,
            text=clean,
            explicit=item.explicit,
            source=item.source,
            created_at=item.created_at,
        )

    def add_plan(
        self,
        client_id: int,
        kind: PlanKind | str,
        text: str,
        due_at: datetime | None,
        now: datetime,
    ) -> PlanItem:
        row = self._need_row(client_id)
        kind = PlanKind(kind)
        clean = _text(text, 4000, "plan text", required=True)
        item = PlanItemRow(
            client_id=row.id,
            kind=kind.value,
            text_enc=self._enc(clean),
            due_at=_aware_opt(due_at, "due_at"),
            created_at=_aware(now, "now"),
        )
        self._s.add(item)
        self._s.flush()
        return self._plan(item)

    def add_referral(self, client_id: int, resource: str, status: str, now: datetime) -> Referral:
        row = self._need_row(client_id)
        item = ReferralRow(
            client_id=row.id,
            resource_enc=self._enc(_text(resource, 200, "resource", required=True)),
            status=_text(status, 32, "status", required=True),
            created_at=_aware(now, "now"),
        )
        self._s.add(item)
        self._s.flush()
        return _referral(item, self._dec)

    def referrals(self, client_id: int) -> list[Referral]:
        """The client's referrals, latest first (empty for an unknown or another's client)."""
        rows = self._s.scalars(
            select(ReferralRow)
            .where(ReferralRow.client_id == client_id, self._owned(client_id))
            .order_by(ReferralRow.created_at.desc(), ReferralRow.id.desc())
        )
        return [_referral(r, self._dec) for r in rows]

    def _referral_row(self, referral_id: int) -> ReferralRow | None:
        return self._s.scalars(
            select(ReferralRow)
            .join(ClientRow, ClientRow.id == ReferralRow.client_id)
            .where(ReferralRow.id == referral_id, ClientRow.counsellor_id == self.counsellor_id)
        ).one_or_none()

    def referral(self, referral_id: int) -> Referral | None:
        """One referral by id, if it is about one of this counsellor's clients."""
        row = self._referral_row(referral_id)
        return _referral(row, self._dec) if row is not None else None

    def set_referral_status(self, referral_id: int, status: str, now: datetime) -> Referral | None:
        """Record what became of a referral; None if it is not this counsellor's. Setting the
        status it already has changes nothing (not even the updated time)."""
        row = self._referral_row(referral_id)
        if row is None:
            return None
        clean = _text(status, 32, "status", required=True)
        if row.status != clean:
            row.status = clean
            row.updated_at = _aware(now, "now")
            self._s.flush()
        return _referral(row, self._dec)

    def delete(self, client_id: int) -> bool:
        """Forget the client completely (needs, interactions, plan, history, tags,
        referrals, screenings, grades, tier history and alerts cascade). False if this counsellor has no such client."""
        result = self._s.execute(
            delete(ClientRow)
            .where(ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id)
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    # tiering: screenings, facts, grades, tier history, alerts

    def _owned(self, client_id: int) -> Any:
        """A WHERE clause: the client exists and belongs to this counsellor (for queries
        on child tables that do not load the client row)."""
        return (
            select(ClientRow.id)
            .where(ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id)
            .exists()
        )

    def add_screening(
        self, client_id: int, result: ScreeningResult, now: datetime
    ) -> ScreeningResult:
        """Store a scored PHQ-9/GAD-7 (answers encrypted). `result.at` defaults to `now`;
        the stored result (with `at` set) is returned. Answers that do not score to the
        given total/band/item9 are refused (ValueError)."""
        row = self._need_row(client_id)
        instrument = Instrument(result.instrument)
        check = score_screening(instrument, result.answers)  # validates count and 0–3 range
        if (check.total, check.band, check.item9) != (result.total, result.band, result.item9):
            raise ValueError(f"{instrument.value}: total/band/item9 do not match the answers")
        at = _aware(result.at if result.at is not None else now, "at")
        item = ScreeningRow(
            client_id=row.id,
            instrument=instrument.value,
            answers_enc=self._enc(json.dumps(list(check.answers))),
            total=check.total,
            band=check.band,
            item9=check.item9,
            at=at,
        )
        self._s.add(item)
        self._s.flush()
        return replace(check, at=item.at)

    def screenings(
        self, client_id: int, instrument: Instrument | str | None = None, limit: int = 10
    ) -> list[ScreeningResult]:
        """The client's screenings, latest first (empty for an unknown client)."""
        stmt = select(ScreeningRow).where(
            ScreeningRow.client_id == client_id, self._owned(client_id)
        )
        if instrument is not None:
            stmt = stmt.where(ScreeningRow.instrument == Instrument(instrument).value)
        stmt = stmt.order_by(ScreeningRow.at.desc(), ScreeningRow.id.desc()).limit(limit)
        return [self._screening(r) for r in self._s.scalars(stmt)]

    def facts(self, client_id: int) -> ClientFacts | None:
        """Everything `domain.tiering.grade` needs about the client, or None."""
        found = load_facts(self._s, self._dec, self.counsellor_id, [client_id]).get(client_id)
        return None if found is None else found.facts

    def facts_many(self, client_ids: Iterable[int]) -> dict[int, ClientFacts]:
        """`facts` of many clients in a handful of statements per 500 (the same builder, so
        `facts_many(ids)[i] == facts(i)`); ids that are not this counsellor's are absent."""
        return {cid: g.facts for cid, g in self.graded_many(client_ids).items()}

    def graded_many(self, client_ids: Iterable[int]) -> dict[int, Graded]:
        """The facts, the saved grades and their tier_set_at of many clients at once (a
        re-grade's read: `services.grading.regrade_everyone`)."""
        return load_facts(self._s, self._dec, self.counsellor_id, client_ids)

    def still_as_read(self, graded: dict[int, Graded]) -> set[int]:
        """Of these clients (read by `graded_many`, perhaps in an earlier unit of work),
        those nobody has graded since and that still exist (PostgreSQL: locked until
        the commit)."""
        versions = {cid: g.version for cid, g in graded.items()}
        return still_as_read(self._s, self._uow.dialect, self.counsellor_id, versions)

    def save_grades_many(self, items: Sequence[tuple[Grades, datetime]]) -> None:
        """`save_grades` for many clients in one statement; only clients of this
        counsellor's (ClientNotFound otherwise)."""
        self._check_own({g.client_id for g, _ in items})
        save_grades_many(self._s, self._uow.dialect, self._enc, items)

    def add_tier_changes(self, changes: Sequence[TierChange], by_counsellor_id: int | None) -> None:
        """`add_tier_change` for many changes in one statement."""
        self._check_own({c.client_id for c in changes})
        add_tier_changes(self._s, self._enc, changes, by_counsellor_id)

    def client_ids(self) -> list[int]:
        """The caseload's client ids, by number (one statement)."""
        return list(self._s.scalars(
            select(ClientRow.id).where(ClientRow.counsellor_id == self.counsellor_id)
            .order_by(ClientRow.number)
        ))

    def _check_own(self, ids: set[int]) -> None:
        if not ids:
            return
        own = set(self._s.scalars(
            select(ClientRow.id).where(ClientRow.id.in_(sorted(ids)),
                                       ClientRow.counsellor_id == self.counsellor_id)
        ))
        missing = ids - own
        if missing:
            raise ClientNotFound(f"client {min(missing)} not found")

    def grades(self, client_id: int) -> Grades | None:
        """The grades last saved with `save_grades`, exactly; None if never graded."""
        data = self._s.scalar(
            select(ClientGradeRow.data_enc).where(
                ClientGradeRow.client_id == client_id, self._owned(client_id)
            )
        )
        return None if data is None else decode_grades(self._dec(data))

    def save_grades(self, grades: Grades, tier_set_at: datetime) -> None:
        """Insert or replace the client's grades (one row per client)."""
        row = self._need_row(grades.client_id)
        values = grade_values(grades, tier_set_at, self._enc)
        table = ClientGradeRow.__table__
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        stmt = insert(table).values(client_id=row.id, **values)
        # an upsert, so two units of work grading a new client at once cannot collide
        stmt = stmt.on_conflict_do_update(index_elements=["client_id"], set_=values)
        self._s.execute(stmt)

    def add_tier_change(self, change: TierChange, by_counsellor_id: int | None) -> None:
        row = self._need_row(change.client_id)
        if change.dimension not in _DIMENSIONS:
            raise ValueError(f"unknown tier dimension {change.dimension!r}")
        self._s.add(
            TierChangeRow(
                client_id=row.id,
                at=_aware(change.at, "at"),
                dimension=change.dimension,
                old=_text(change.old, 16, "old tier"),
                new=_text(change.new, 16, "new tier"),
                reasons_enc=self._enc(encode_reasons(change.reasons)),
                by_counsellor_id=by_counsellor_id,
            )
        )
        self._s.flush()

    def tier_history(self, client_id: int, limit: int = 20) -> list[TierChange]:
        """Tier changes, latest first (empty for an unknown client)."""
        rows = self._s.scalars(
            select(TierChangeRow)
            .where(TierChangeRow.client_id == client_id, self._owned(client_id))
            .order_by(TierChangeRow.at.desc(), TierChangeRow.id.desc())
            .limit(limit)
        )
        return [
            TierChange(
                client_id=r.client_id,
                dimension=r.dimension,
                old=r.old,
                new=r.new,
                at=r.at,
                reasons=decode_reasons(self._dec(r.reasons_enc)),
            )
            for r in rows
        ]

    def add_alert(self, event: AlertEvent) -> int:
        """Store an alert for this counsellor (status "pending"); returns its id."""
        row = self._need_row(event.client_id)
        item = AlertRow(
            client_id=row.id,
            counsellor_id=self.counsellor_id,
            tier=Risk(event.tier).value,
            previous=None if event.previous is None else Risk(event.previous).value,
            raised_at=_aware(event.raised_at, "raised_at"),
            respond_by=_aware(event.respond_by, "respond_by"),
            realert_minutes=event.realert_minutes,
            escalate_minutes=event.escalate_minutes,
            realert_at=_aware_opt(event.realert_at, "realert_at"),
            escalate_at=_aware_opt(event.escalate_at, "escalate_at"),
            reasons_enc=self._enc(encode_reasons(event.reasons)),
            status="pending",
        )
        self._s.add(item)
        self._s.flush()
        return item.id

    def alerts(self, client_id: int) -> list[Alert]:
        """The client's alerts, latest first (empty for an unknown client)."""
        rows = self._s.scalars(
            select(AlertRow)
            .where(AlertRow.client_id == client_id, self._owned(client_id))
            .order_by(AlertRow.raised_at.desc(), AlertRow.id.desc())
        )
        return [_alert(r, self._dec) for r in rows]

    def unacknowledged_alerts(self) -> list[Alert]:
        """Every alert of this caseload not yet acknowledged, latest first: one query, however
        many clients (the agenda; was one query per client)."""
        rows = self._s.scalars(
            select(AlertRow)
            .join(ClientRow, ClientRow.id == AlertRow.client_id)
            .where(ClientRow.counsellor_id == self.counsellor_id, AlertRow.acknowledged_at.is_(None))
            .order_by(AlertRow.raised_at.desc(), AlertRow.id.desc())
        )
        return [_alert(r, self._dec) for r in rows]

    def list_graded(self) -> list[tuple[Client, Grades | None]]:
        """The whole caseload with each client's saved grades (None if never graded), by
        client number. Two queries (clients + grades joined, then their tags)."""
        rows = self._s.execute(
            select(ClientRow, ClientGradeRow.data_enc)
            .outerjoin(ClientGradeRow, ClientGradeRow.client_id == ClientRow.id)
            .where(ClientRow.counsellor_id == self.counsellor_id)
            .order_by(ClientRow.number)
        ).all()
        return [
            (_client(row), None if data is None else decode_grades(self._dec(data)))
            for row, data in rows
        ]

    # reminders: plan items, alerts, the agenda, tier reviews (migration 0003)

    def _owned_by_client_id(self, column: Any) -> Any:
        """A WHERE clause: `column` (a client_id) is one of this counsellor's clients."""
        return column.in_(select(ClientRow.id).where(ClientRow.counsellor_id == self.counsellor_id))

    def plan_item(self, plan_id: int) -> PlanItem | None:
        row = self._s.scalars(
            select(PlanItemRow).where(
                PlanItemRow.id == plan_id, self._owned_by_client_id(PlanItemRow.client_id)
            )
        ).one_or_none()
        return self._plan(row) if row else None

    def complete_plan(self, plan_id: int, now: datetime) -> bool:
        """Mark the item done; True only the first time (a double tap on Done gets False),
        False for another counsellor's item. The caller cancels its pending reminders."""
        result = self._s.execute(
            update(PlanItemRow)
            .where(
                PlanItemRow.id == plan_id,
                PlanItemRow.done_at.is_(None),
                self._owned_by_client_id(PlanItemRow.client_id),
            )
            .values(done_at=_aware(now, "now"))
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    def reopen_plan(self, plan_id: int) -> bool:
        """/undo of "done": the item is open again. False if not done or not this counsellor's."""
        result = self._s.execute(
            update(PlanItemRow)
            .where(
                PlanItemRow.id == plan_id,
                PlanItemRow.done_at.is_not(None),
                self._owned_by_client_id(PlanItemRow.client_id),
            )
            .values(done_at=None)
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    def snooze_plan(self, plan_id: int, until: datetime) -> bool:
        """Move a not-done item's due_at to `until` (its reminder then fires again, as
        reminded_due_at no longer matches). False if done, missing or not this
        counsellor's."""
        result = self._s.execute(
            update(PlanItemRow)
            .where(
                PlanItemRow.id == plan_id,
                PlanItemRow.done_at.is_(None),
                self._owned_by_client_id(PlanItemRow.client_id),
            )
            .values(due_at=_aware(until, "until"))
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    def alert(self, alert_id: int) -> Alert | None:
        """An alert addressed to this counsellor, or None."""
        row = self._s.scalars(
            select(AlertRow).where(
                AlertRow.id == alert_id, AlertRow.counsellor_id == self.counsellor_id
            )
        ).one_or_none()
        return _alert(row, self._dec) if row else None

    def acknowledge_alert(self, alert_id: int, now: datetime) -> bool:
        """Acknowledge (status "acknowledged"); True only the first time, False for another
        counsellor's alert. Stops re-alerts and escalation (they require
        acknowledged_at IS NULL)."""
        result = self._s.execute(
            update(AlertRow)
            .where(
                AlertRow.id == alert_id,
                AlertRow.counsellor_id == self.counsellor_id,
                AlertRow.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=_aware(now, "now"), status="acknowledged")
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    def plan_between(self, start: datetime, end: datetime) -> list[tuple[Client, PlanItem]]:
        """For the daily agenda: the open dated follow-ups due before `end`, INCLUDING the
        overdue ones due before `start`, earliest first. (`start` is validated but does
        not filter: an overdue item belongs on today's agenda.)"""
        _aware(start, "start")
        rows = self._s.execute(
            select(ClientRow, PlanItemRow)
            .join(PlanItemRow, PlanItemRow.client_id == ClientRow.id)
            .where(
                ClientRow.counsellor_id == self.counsellor_id,
                PlanItemRow.kind == PlanKind.SHORT.value,
                PlanItemRow.done_at.is_(None),
                PlanItemRow.due_at.is_not(None),
                PlanItemRow.due_at < _aware(end, "end"),
            )
            .order_by(PlanItemRow.due_at, PlanItemRow.id)
        ).all()
        return [(_client(c), self._plan(p)) for c, p in rows]

    def confirm_review(self, client_id: int, now: datetime, review_due_at: datetime) -> bool:
        """The counsellor confirmed (or lowered, then re-graded) the risk tier: restart the
        review clock (tier_set_at = now) and set the next review. The stored Grades get the
        new review_due_at too, so `grades()` agrees. False if the client is not this
        counsellor's or was never graded."""
        now = _aware(now, "now")
        due = _aware(review_due_at, "review_due_at")
        row = self._s.scalars(
            select(ClientGradeRow)
            .where(ClientGradeRow.client_id == client_id, self._owned(client_id))
            .execution_options(populate_existing=True)  # save_grades writes with Core
        ).one_or_none()
        if row is None:
            return False
        grades = decode_grades(self._dec(row.data_enc))._replace(review_due_at=due)
        row.data_enc = self._enc(encode_grades(grades))
        row.tier_set_at = now
        row.review_due_at = due
        self._s.flush()
        return True

    # mapping
    def _interaction(self, item: InteractionRow) -> Interaction:
        return Interaction(
            id=item.id,
            client_id=item.client_id,
            at=item.at,
            channel=item.channel,
            notes=self._dec(item.notes_enc),
            created_at=item.created_at,
            outcome=item.outcome,
        )

    def _screening(self, item: ScreeningRow) -> ScreeningResult:
        return ScreeningResult(
            instrument=Instrument(item.instrument),
            answers=tuple(json.loads(self._dec(item.answers_enc))),
            total=item.total,
            band=item.band,
            item9=item.item9,
            at=item.at,
        )

    def _plan(self, item: PlanItemRow) -> PlanItem:
        return _plan_item(item, self._dec)


# -- pending input ---------------------------------------------------------------------


class PendingRepo(_Repo):
    """Input parked until a button tap. The payload (JSON) is encrypted at rest."""

    def _pending(self, row: Any) -> Pending:
        return Pending(
            id=row.id,
            counsellor_id=row.counsellor_id,
            kind=row.kind,
            payload=json.loads(self._dec(row.payload_enc)),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def add(
        self,
        counsellor_id: int,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> int:
        if not isinstance(payload, dict):
            raise TypeError("payload must be a dict")
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        row = PendingRow(
            counsellor_id=counsellor_id,
            kind=_text(kind, 32, "kind", required=True),
            payload_enc=self._enc(data),
            created_at=_aware(now, "now"),
            expires_at=_aware(expires_at, "expires_at"),
        )
        self._s.add(row)
        self._s.flush()
        return row.id

    def get(self, pending_id: int, counsellor_id: int, now: datetime) -> Pending | None:
        row = self._s.scalars(
            select(PendingRow).where(
                PendingRow.id == pending_id,
                PendingRow.counsellor_id == counsellor_id,
                PendingRow.expires_at > _aware(now, "now"),
            )
        ).one_or_none()
        return self._pending(row) if row else None

    def consume(self, pending_id: int, counsellor_id: int, now: datetime) -> Pending | None:
        """Delete-and-return in one statement: a second consume (a double tap) gets None.
        An expired entry is deleted too, and None is returned."""
        now = _aware(now, "now")
        row = self._s.execute(
            delete(PendingRow)
            .where(PendingRow.id == pending_id, PendingRow.counsellor_id == counsellor_id)
            .returning(
                PendingRow.id,
                PendingRow.counsellor_id,
                PendingRow.kind,
                PendingRow.payload_enc,
                PendingRow.created_at,
                PendingRow.expires_at,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if row is None or row.expires_at <= now:
            return None
        return self._pending(row)

    def latest(self, counsellor_id: int, kind: str, now: datetime) -> Pending | None:
        row = self._s.scalars(
            select(PendingRow)
            .where(
                PendingRow.counsellor_id == counsellor_id,
                PendingRow.kind == kind,
                PendingRow.expires_at > _aware(now, "now"),
            )
            .order_by(PendingRow.created_at.desc(), PendingRow.id.desc())
            .limit(1)
        ).one_or_none()
        return self._pending(row) if row else None

    def discard(self, counsellor_id: int, kind: str) -> int:
        """Drop every parked entry of this kind for the counsellor; returns how many."""
        result = self._s.execute(
            delete(PendingRow)
            .where(PendingRow.counsellor_id == counsellor_id, PendingRow.kind == kind)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount

    def prune(self, now: datetime) -> int:
        """Delete expired entries; returns how many."""
        result = self._s.execute(
            delete(PendingRow)
            .where(PendingRow.expires_at <= _aware(now, "now"))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount


# -- processed Telegram updates ---------------------------------------------------------


class UpdateRepo(_Repo):
    def claim(self, update_id: int, now: datetime) -> bool:
        """Record the update as processed; False if it already was. Do it in the same
        unit of work as the update's effects, so a redelivered update is harmless."""
        once = ONCE.get()
        if once is not None and once.update_id == update_id and once.owns(self._uow):
            return True  # this handling recorded it (Database.once): ours to use
        table = ProcessedUpdateRow.__table__
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(table)
            .values(update_id=update_id, processed_at=_aware(now, "now"))
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(table.c.update_id)
        )
        # RETURNING yields a row only when the row was inserted (rowcount of an INSERT
        # is not reliable across drivers)
        return self._s.execute(stmt).first() is not None

    def prune(self, before: datetime) -> int:
        result = self._s.execute(
            delete(ProcessedUpdateRow)
            .where(ProcessedUpdateRow.processed_at < _aware(before, "before"))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount
