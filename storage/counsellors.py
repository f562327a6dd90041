"""The counsellors (accounts, settings, admins) and the invites they join with."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from domain.model import Counsellor
from storage.base import Repo, aware, clean_text, rowcount
from storage.dto import Invite
from storage.errors import AlreadyExists
from storage.mappers import as_counsellor, as_invite
from storage.orm import CounsellorRow, InviteRow

__all__ = ["UNSET", "CounsellorRepo", "InviteRepo"]


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

_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _hhmm(value: str, what: str) -> str:
    """ "8:00" → "08:00"; ValueError unless a valid 24-hour time."""
    m = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{what} must be a time HH:MM (00:00–23:59)")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def _agenda_at(value: str | None) -> str | None:
    return None if value is None else _hhmm(value, "agenda time")


def _quiet_hours(value: str | None) -> str | None:
    """ "22:00-07:30" (may wrap midnight); None = none. Start and end must differ."""
    if value is None:
        return None
    if not isinstance(value, str) or value.replace("–", "-").count("-") != 1:
        raise ValueError("quiet hours must look like HH:MM-HH:MM (e.g. 22:00-07:30)")
    start, end = (_hhmm(part, "quiet hours") for part in value.replace("–", "-").split("-"))
    if start == end:
        raise ValueError("quiet hours must not start and end at the same time")
    return f"{start}-{end}"


# -- counsellors -----------------------------------------------------------------------


class CounsellorRepo(Repo):
    def get(self, counsellor_id: int) -> Counsellor | None:
        row = self._s.get(CounsellorRow, counsellor_id)
        return as_counsellor(row) if row else None

    def get_by_telegram_id(self, telegram_id: int) -> Counsellor | None:
        row = self._s.scalars(
            select(CounsellorRow).where(CounsellorRow.telegram_id == telegram_id)
        ).one_or_none()
        return as_counsellor(row) if row else None

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
            display_name=clean_text(display_name, 200, "display name") or str(telegram_id),
            is_admin=bool(is_admin),
            language=clean_text(language, 8, "language"),
            timezone=clean_text(timezone, 64, "time zone", required=True),
            client_seq=0,
            created_at=aware(now, "now"),
        )
        self._s.add(row)
        self._s.flush()
        return as_counsellor(row)

    def _update(self, counsellor_id: int, **values: Any) -> Counsellor | None:
        row = self._s.get(CounsellorRow, counsellor_id)
        if row is None:
            return None
        for key, value in values.items():
            setattr(row, key, value)
        self._s.flush()
        return as_counsellor(row)

    def set_admin(self, counsellor_id: int, is_admin: bool) -> Counsellor | None:
        return self._update(counsellor_id, is_admin=bool(is_admin))

    def set_language(self, counsellor_id: int, language: str | None) -> Counsellor | None:
        return self._update(counsellor_id, language=clean_text(language, 8, "language"))

    def set_timezone(self, counsellor_id: int, timezone: str) -> Counsellor | None:
        return self._update(
            counsellor_id, timezone=clean_text(timezone, 64, "time zone", required=True)
        )

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
        return [as_counsellor(r) for r in rows]

    def list_all(self) -> list[Counsellor]:
        return [
            as_counsellor(r)
            for r in self._s.scalars(select(CounsellorRow).order_by(CounsellorRow.id))
        ]


# -- invites ---------------------------------------------------------------------------


class InviteRepo(Repo):
    def create(self, code_hash: str, created_by: int, expires_at: datetime, now: datetime) -> int:
        row = InviteRow(
            code_hash=clean_text(code_hash, 128, "code hash", required=True),
            created_by=created_by,
            created_at=aware(now, "now"),
            expires_at=aware(expires_at, "expires_at"),
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
                InviteRow.expires_at > aware(now, "now"),
            )
        ).one_or_none()
        return as_invite(row) if row else None

    def redeemed_by(self, counsellor_id: int) -> Invite | None:
        """The invite this counsellor joined with, if any."""
        row = self._s.scalars(
            select(InviteRow)
            .where(InviteRow.used_by == counsellor_id)
            .order_by(InviteRow.id.desc())
            .limit(1)
        ).one_or_none()
        return as_invite(row) if row else None

    def mark_used(self, invite_id: int, used_by_counsellor_id: int, now: datetime) -> bool:
        """Atomically use the invite; False if it was already used (or has expired), so
        two people racing on one code cannot both get in."""
        now = aware(now, "now")
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
        return rowcount(result) == 1
