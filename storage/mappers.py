"""ORM rows → the domain dataclasses and DTOs the repositories return (`row` in, value out;
`dec` decrypts a token where the row holds encrypted text)."""

from __future__ import annotations

from typing import Any

from domain.model import Client, Counsellor, PlanItem, PlanKind, Referral, Risk, StatusChange
from storage.dto import Alert, Invite
from storage.orm import (
    AlertRow,
    ClientRow,
    CounsellorRow,
    InviteRow,
    PlanItemRow,
    ReferralRow,
    StatusChangeRow,
)
from storage.tiering_codec import decode_reasons

__all__ = [
    "as_alert",
    "as_client",
    "as_counsellor",
    "as_invite",
    "as_plan_item",
    "as_referral",
    "as_status_change",
]


def as_counsellor(row: CounsellorRow) -> Counsellor:
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


def as_alert(row: AlertRow, dec: Any) -> Alert:
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


def as_plan_item(row: PlanItemRow, dec: Any) -> PlanItem:
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


def as_client(row: ClientRow) -> Client:
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


def as_status_change(row: StatusChangeRow) -> StatusChange:
    return StatusChange(
        id=row.id,
        client_id=row.client_id,
        counsellor_id=row.counsellor_id,
        at=row.at,
        field=row.field,
        old=row.old,
        new=row.new,
    )


def as_referral(row: ReferralRow, dec: Any) -> Referral:
    return Referral(
        id=row.id,
        client_id=row.client_id,
        resource=dec(row.resource_enc),
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def as_invite(row: InviteRow) -> Invite:
    return Invite(
        id=row.id,
        code_hash=row.code_hash,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        used_by=row.used_by,
    )
