"""SQLAlchemy ORM models (storage-internal: never returned to callers).

Encrypted columns end in `_enc` and hold Fernet tokens: free text (decrypted by the
repositories) and, since the encrypt_identity migration, every identifying or sensitive fact (names,
student numbers, majors, grades, tags, trust and satisfaction, screening results, status
history), whose ORM attributes keep their plain names and use the `EncryptedText` /
`EncryptedInt` types. What stays clear is listed in README's Privacy section. Every table that belongs to a counsellor's caseload hangs off `clients`
with ON DELETE CASCADE, so forgetting a client removes everything of it.

The schema is created by the Alembic migrations in `storage/migrations/`; this module
must stay in step with them (tests compare the two).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.sqltypes import EncryptedInt, EncryptedText, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def table_of(row: type[Base]) -> Table:
    """A mapped class's Table, typed as one (`__table__` is typed as any FromClause), for
    Core statements (`insert(table_of(OutboxRow))`, `table_of(OutboxRow).c.status`)."""
    return cast(Table, row.__table__)


class MetaRow(Base):
    """Database-wide facts (migration 0004). `key_check`: a known text encrypted under the
    key, so a start with another key is refused before anything is written with it."""

    __tablename__ = "meta"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class CounsellorRow(Base):
    __tablename__ = "counsellors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64), server_default="Asia/Shanghai")
    supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("counsellors.id", ondelete="SET NULL")
    )
    # the last client number handed out: numbers are never reused after a delete
    client_seq: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime]
    # reminders (migration 0003): local "HH:MM" of the daily agenda (None = off) and
    # local "HH:MM-HH:MM" quiet hours (None = none)
    agenda_at: Mapped[str | None] = mapped_column(String(5), server_default="08:00")
    quiet_hours: Mapped[str | None] = mapped_column(String(11))
    telegram_language: Mapped[str | None] = mapped_column(String(2))
    # issue 14 (the staff migration): a counsellor who left; every command is refused
    deactivated_at: Mapped[datetime | None]


class InviteRow(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("counsellors.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id", ondelete="SET NULL"))


class ClientRow(Base):
    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("counsellor_id", "number"),
        Index("ix_clients_counsellor_id_last_contact_at", "counsellor_id", "last_contact_at"),
        Index("ix_clients_counsellor_id_name_key", "counsellor_id", "name_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    # encrypted (the encrypt_identity migration); nullable at the SQL level (SQLite cannot add a NOT NULL
    # column to a table with rows), required by the repository
    name: Mapped[str] = mapped_column("name_enc", EncryptedText, nullable=True)
    # the blind index of the folded name (migration 0011, `Cipher.blind_index`; never the
    # name): resolving a client by name is one indexed lookup, not a decryption of the whole
    # caseload. Written by `ClientRepo.add`, rewritten by `rotate_key`.
    name_key: Mapped[str | None] = mapped_column(String(64))
    sid: Mapped[str | None] = mapped_column("sid_enc", EncryptedText)
    major: Mapped[str | None] = mapped_column("major_enc", EncryptedText)
    grade: Mapped[str | None] = mapped_column("grade_enc", EncryptedText)
    trust: Mapped[int | None] = mapped_column("trust_enc", EncryptedInt)
    satisfaction: Mapped[int | None] = mapped_column("satisfaction_enc", EncryptedInt)
    risk: Mapped[str] = mapped_column(String(16), server_default="low")
    created_at: Mapped[datetime]
    last_contact_at: Mapped[datetime | None]

    tags: Mapped[list[ClientTagRow]] = relationship(
        order_by="ClientTagRow.id",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ClientDetailsRow(Base):
    """Migration 0004: roster fields (encrypted) and private-practice value inputs; at most
    one row per client, absent until something is set."""

    __tablename__ = "client_details"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    dorm_enc: Mapped[str | None] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    payer: Mapped[str | None] = mapped_column(String(16))  # "self" | "insurance"
    pay_capacity: Mapped[int | None] = mapped_column(Integer)  # 1–5


class ClientTagRow(Base):
    __tablename__ = "client_tags"
    # one tag once per client is kept by the repository (tokens are random: no UNIQUE)
    __table_args__ = (Index("ix_client_tags_client_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column("tag_enc", EncryptedText)


class NeedRow(Base):
    __tablename__ = "needs"
    __table_args__ = (Index("ix_needs_client_id_created_at", "client_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    text_enc: Mapped[str] = mapped_column(Text)
    explicit: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class InteractionRow(Base):
    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_client_id_at", "client_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(32))
    notes_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # migration 0004: reached | unreached | refused | referred | rescheduled | other
    outcome: Mapped[str | None] = mapped_column(String(16))


class PlanItemRow(Base):
    __tablename__ = "plan_items"
    __table_args__ = (
        Index("ix_plan_items_client_id_due_at", "client_id", "due_at"),
        # reminders: "what is due and not done" across all counsellors
        Index(
            "ix_plan_items_due_at_open",
            "due_at",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
        # migration 0004: one row per occurrence of a recurring series
        Index("ix_plan_items_series_id_seq", "series_id", "seq", unique=True),
        # migration 0012: the tick's scan skips follow-ups already pushed for their time
        Index(
            "ix_plan_items_due_at_unreminded",
            "due_at",
            postgresql_where=text(
                "done_at IS NULL AND (reminded_due_at IS NULL OR reminded_due_at != due_at)"
            ),
            sqlite_where=text(
                "done_at IS NULL AND (reminded_due_at IS NULL OR reminded_due_at != due_at)"
            ),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    text_enc: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # the due_at for which a reminder was last enqueued (a snoozed item is reminded again)
    reminded_due_at: Mapped[datetime | None]
    # migration 0004: the occurrence `seq` (0, 1, …) of a recurring series (plan_series.id;
    # no foreign key: both hang off the client and go with it)
    series_id: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)


class PlanSeriesRow(Base):
    """A recurring follow-up (migration 0004): its occurrences are plan_items rows."""

    __tablename__ = "plan_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    text_enc: Mapped[str] = mapped_column(Text)
    every: Mapped[str] = mapped_column(String(8))  # "1w", "2w", "1m", "3d"
    first_due: Mapped[datetime]
    until_at: Mapped[datetime | None]
    stop_below: Mapped[str | None] = mapped_column(String(16))  # ends when the risk drops below
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))  # until | stopped | tier


class StatusChangeRow(Base):
    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_client_id_at", "client_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    counsellor_id: Mapped[int] = mapped_column(
        ForeignKey("counsellors.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    field: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column("old_enc", EncryptedText)
    new: Mapped[str | None] = mapped_column("new_enc", EncryptedText)


class ReferralRow(Base):
    """Dimension 4 (resources matched). Table ready; the repository methods are minimal."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_client_id_created_at", "client_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    resource_enc: Mapped[str] = mapped_column(Text)  # a catalogue code or free text, encrypted
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]


class PendingRow(Base):
    __tablename__ = "pending_inputs"
    __table_args__ = (
        Index("ix_pending_inputs_counsellor_id_kind", "counsellor_id", "kind", "created_at"),
        Index("ix_pending_inputs_expires_at", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    payload_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ProcessedUpdateRow(Base):
    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(index=True)
    # what the update was (migration 0014): the same id with another fingerprint is
    # another update (Telegram reuses ids), not this one again; None before 0014
    fingerprint: Mapped[str | None] = mapped_column(String(32), nullable=True)


class InboxRow(Base):
    """An update fetched from Telegram (the `inbox` migration): stored before its offset is
    confirmed, handled from here, its payload cleared once handled."""

    __tablename__ = "inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None] = mapped_column(index=True, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(32), nullable=True)  # 0014


# -- tiering (migration 0002) ----------------------------------------------------------
#
# Reasons carry snippets of need texts and screening answers, so every JSON column that
# holds reasons is encrypted (`*_enc`) like the other free text; the tiers themselves and
# the instants stay clear for ordering and scheduling.


class ScreeningRow(Base):
    __tablename__ = "screenings"
    __table_args__ = (
        Index("ix_screenings_client_id_instrument_at", "client_id", "instrument", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    instrument: Mapped[str] = mapped_column(String(8))  # "phq9" | "gad7"
    answers_enc: Mapped[str] = mapped_column(Text)  # encrypted JSON list of 0–3 answers
    total: Mapped[int] = mapped_column("total_enc", EncryptedInt, nullable=True)
    band: Mapped[str] = mapped_column("band_enc", EncryptedText, nullable=True)
    item9: Mapped[int | None] = mapped_column("item9_enc", EncryptedInt)
    at: Mapped[datetime]


class ClientGradeRow(Base):
    """The latest grades of a client (one row per client, upserted on every re-grade)."""

    __tablename__ = "client_grades"
    __table_args__ = (
        # reminders (migration 0003): cadence and review scans
        Index("ix_client_grades_next_contact_due", "next_contact_due"),
        Index("ix_client_grades_review_due_at", "review_due_at"),
        Index("ix_client_grades_contact_latest_at", "contact_latest_at"),  # migration 0006
        # the idle tick scans only crisis/high clients (migration 0012); PostgreSQL reads
        # the client ids from the index too, not from the wide rows (migration 0013)
        Index(
            "ix_client_grades_risk_next_contact_due",
            "risk",
            "next_contact_due",
            postgresql_include=["client_id"],
        ),
        Index(
            "ix_client_grades_risk_review_due_at",
            "risk",
            "review_due_at",
            postgresql_include=["client_id"],
        ),
    )

    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    risk: Mapped[str] = mapped_column(String(16))
    risk_rank: Mapped[int] = mapped_column(Integer)  # 0 low … 3 crisis, for ordering
    data_enc: Mapped[str] = mapped_column(Text)  # encrypted JSON of the whole Grades
    graded_at: Mapped[datetime]
    tier_set_at: Mapped[datetime]  # when the risk tier last changed (review clock)
    review_due_at: Mapped[datetime | None]
    next_contact_due: Mapped[datetime | None]  # the ideal next contact
    contact_latest_at: Mapped[datetime | None]  # the latest next contact (migration 0006)


class SafetyCheckRow(Base):
    """A safety check (issue 11, migration 0006): answers encrypted, result tier in clear."""

    __tablename__ = "safety_checks"
    __table_args__ = (Index("ix_safety_checks_client_id_at", "client_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    answers_enc: Mapped[str] = mapped_column(Text)  # encrypted JSON {item: true|false|null}
    result: Mapped[str] = mapped_column(String(16))  # low | medium | high | crisis
    trigger: Mapped[str] = mapped_column(String(16))  # item9 | crisis | phrase | map | command


class RiskSignalRow(Base):
    """A risk phrase found in a note, need or goal (migration 0006), and what the counsellor
    made of it: open → safety_check | phq9 | dismissed (with a reason)."""

    __tablename__ = "risk_signals"
    __table_args__ = (
        Index("ix_risk_signals_client_id_at", "client_id", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))  # note | need | goal
    phrases_enc: Mapped[str] = mapped_column(Text)  # encrypted JSON list of the phrases found
    outcome: Mapped[str] = mapped_column(String(16), server_default="open")
    reason: Mapped[str | None] = mapped_column(String(16))  # joke | quote | handled
    resolved_at: Mapped[datetime | None]


class TierChangeRow(Base):
    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_client_id_at", "client_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    dimension: Mapped[str] = mapped_column(String(16))  # risk | frequency | need | value
    old: Mapped[str | None] = mapped_column(String(16))
    new: Mapped[str | None] = mapped_column(String(16))
    reasons_enc: Mapped[str] = mapped_column(Text)  # encrypted JSON list of reasons
    by_counsellor_id: Mapped[int | None] = mapped_column(
        ForeignKey("counsellors.id", ondelete="SET NULL")
    )


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_realert_at", "status", "realert_at"),
        Index("ix_alerts_counsellor_id_raised_at", "counsellor_id", "raised_at"),
        # the escalation scan: open alerts only (migration 0012)
        Index(
            "ix_alerts_escalate_at_open",
            "escalate_at",
            postgresql_where=text("acknowledged_at IS NULL AND escalated_at IS NULL"),
            sqlite_where=text("acknowledged_at IS NULL AND escalated_at IS NULL"),
        ),
        # the tick's oldest alerts not yet pushed (migration 0013)
        Index(
            "ix_alerts_raised_at_id_pending",
            "raised_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))
    raised_at: Mapped[datetime]
    respond_by: Mapped[datetime]
    realert_minutes: Mapped[int | None] = mapped_column(Integer)
    escalate_minutes: Mapped[int | None] = mapped_column(Integer)
    realert_at: Mapped[datetime | None]
    escalate_at: Mapped[datetime | None]
    reasons_enc: Mapped[str] = mapped_column(Text)  # encrypted JSON list of reasons
    acknowledged_at: Mapped[datetime | None]
    # "pending" (not yet pushed) | "sent" | "acknowledged"; escalation is escalated_at
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    escalated_at: Mapped[datetime | None]
    realert_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]


# -- reminders (migration 0003) --------------------------------------------------------


class OutboxRow(Base):
    """Due work as rows: one message to send to one counsellor. The payload is JSON of ids
    only (no free text), so it is stored in clear."""

    __tablename__ = "outbox"
    __table_args__ = (
        # the tick's claim: status = 'pending' AND not_before <= now ORDER BY priority
        Index("ix_outbox_status_not_before_priority", "status", "not_before", "priority"),
        Index("ix_outbox_counsellor_id", "counsellor_id"),
        Index("ix_outbox_client_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    due_at: Mapped[datetime]
    not_before: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # migration 0007: the claim's lease (the worker renews it while it sends)
    lease_until: Mapped[datetime | None]


class SendSlotRow(Base):
    """The shared send budget (migration 0007): per rate-limit key ("all", "chat:<id>")
    the theoretical arrival time (epoch seconds, database clock) of the next send — a
    GCRA bucket every process on PostgreSQL reserves its slots from."""

    __tablename__ = "send_slots"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    tat: Mapped[float] = mapped_column(Float(precision=53))


# -- counsellors who come and go (migration 0009) -----------------------------------------


class AuditRow(Base):
    """The audit trail: who (actor), what (an action code), when, and which client number or
    counsellor it was about. Never any text a counsellor wrote."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_id_at", "actor_id", "at"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int | None] = mapped_column(Integer)  # no FK: kept after /forget
    client_number: Mapped[int | None] = mapped_column(Integer)
    target_id: Mapped[int | None] = mapped_column(Integer)  # a counsellor id, for admin actions
