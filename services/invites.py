"""Counsellors and invites: who may use the bot, their language, the admins."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from domain.errors import CommandError
from domain.model import Counsellor
from storage.db import Database

INVITE_TTL = timedelta(days=7)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def find_counsellor(db: Database, telegram_id: int) -> Counsellor | None:
    with db.uow(write=False) as uow:
        return uow.counsellors.get_by_telegram_id(telegram_id)


def remember_telegram_language(db: Database, actor: Counsellor, lang: str) -> Counsellor:
    """Pushed reminders have no update to read the language from: keep the last one seen."""
    with db.uow(write=True) as uow:
        return uow.counsellors.set_telegram_language(actor.id, lang) or actor


def ensure_admin(
    db: Database, telegram_id: int, display_name: str, now: datetime, timezone: str
) -> Counsellor:
    """An id listed in CAREMAP_ADMIN_IDS becomes an admin counsellor on first contact."""
    with db.uow(write=True) as uow:
        existing = uow.counsellors.get_by_telegram_id(telegram_id)
        if existing is not None:
            if not existing.is_admin:
                uow.counsellors.set_admin(existing.id, True)
                existing = uow.counsellors.get(existing.id) or existing
            return existing
        return uow.counsellors.add(
            telegram_id=telegram_id,
            display_name=display_name,
            is_admin=True,
            now=now,
            timezone=timezone,
        )


def create_invite(db: Database, actor: Counsellor, now: datetime) -> tuple[str, datetime]:
    if not actor.is_admin:
        raise CommandError("admin_only")
    code = secrets.token_urlsafe(12)
    expires = now + INVITE_TTL
    with db.uow(write=True) as uow:
        uow.invites.create(
            code_hash=hash_code(code), created_by=actor.id, expires_at=expires, now=now
        )
        uow.staff.record(actor.id, "invite", now)
    return code, expires


def redeem_invite(
    db: Database, code: str, telegram_id: int, display_name: str, now: datetime, timezone: str
) -> Counsellor | None:
    """Make the sender a counsellor if the code is valid and unused; None otherwise."""
    if not code or len(code) > 64:
        return None
    try:
        return _redeem(db, code, telegram_id, display_name, now, timezone)
    except _Rollback:
        return None


def _redeem(
    db: Database, code: str, telegram_id: int, display_name: str, now: datetime, timezone: str
) -> Counsellor | None:
    with db.uow(write=True) as uow:
        existing = uow.counsellors.get_by_telegram_id(telegram_id)
        if existing is not None:
            return existing
        invite = uow.invites.get_valid(hash_code(code), now)
        if invite is None:
            return None
        counsellor = uow.counsellors.add(
            telegram_id=telegram_id,
            display_name=display_name,
            is_admin=False,
            now=now,
            timezone=timezone,
        )
        if not uow.invites.mark_used(invite.id, counsellor.id, now):
            raise _Rollback()
        return counsellor


def inviter_of(db: Database, counsellor: Counsellor) -> Counsellor | None:
    """Who invited this counsellor (to tell them the colleague has joined)."""
    with db.uow(write=False) as uow:
        invite = uow.invites.redeemed_by(counsellor.id)
        if invite is None or invite.created_by is None or invite.created_by == counsellor.id:
            return None
        return uow.counsellors.get(invite.created_by)


class _Rollback(Exception):
    """The invite was used meanwhile: undo the new counsellor (internal, never raised out)."""


def set_language(db: Database, actor: Counsellor, lang: str | None) -> None:
    with db.uow(write=True) as uow:
        uow.counsellors.set_language(actor.id, lang)
