"""Counsellors who come and go (issue 14): deactivation, caseload handover, open invites,
and the audit trail. `uow.staff`.

These statements cross counsellors on purpose, and only in the admin paths that exist for
it: moving one counsellor's caseload to another in one transaction, and listing invites.
Nothing here reads a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from storage import outbox_keys
from storage.base import Repo, aware, rowcount
from storage.dto import Invite
from storage.mappers import as_invite
from storage.orm import (
    AlertRow,
    AuditRow,
    ClientRow,
    CounsellorRow,
    InteractionRow,
    InviteRow,
    OutboxRow,
    PendingRow,
    PlanItemRow,
)

__all__ = ["AuditEntry", "Handover", "StaffRepo"]


@dataclass(frozen=True, slots=True)
class Handover:
    clients: int
    open_plans: int
    open_alerts: int
    reminders: int  # pending reminders and alerts moved to the new counsellor
    first_number: int | None  # the new numbers start here (None when no client moved)
    sent_alert_ids: tuple[int, ...] = ()  # unacknowledged alerts the leaver had been sent
    open_alert_ids: tuple[int, ...] = ()  # every unacknowledged alert that moved


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    client_id: int | None
    client_number: int | None
    target_id: int | None


class StaffRepo(Repo):
    # -- deactivation ------------------------------------------------------------------

    def set_active(self, counsellor_id: int, active: bool, now: datetime) -> bool:
        """Deactivate (every command refused from the next update on) or reactivate.
        False when nothing changed (unknown, or already in that state)."""
        cond = (
            CounsellorRow.deactivated_at.is_(None)
            if not active
            else CounsellorRow.deactivated_at.is_not(None)
        )
        result = self._s.execute(
            update(CounsellorRow)
            .where(CounsellorRow.id == counsellor_id, cond)
            .values(deactivated_at=None if active else aware(now, "now"))
            .execution_options(synchronize_session="fetch")
        )
        if not active and rowcount(result) == 1:
            # nobody escalates to a leaver: their supervisees fall back to the admins
            self._s.execute(
                update(CounsellorRow)
                .where(CounsellorRow.supervisor_id == counsellor_id)
                .values(supervisor_id=None)
                .execution_options(synchronize_session="fetch")
            )
            self._s.execute(
                delete(PendingRow)
                .where(PendingRow.counsellor_id == counsellor_id)
                .execution_options(synchronize_session=False)
            )
            # nothing more is sent to them (an agenda already queued, an escalation)
            self._s.execute(
                update(OutboxRow)
                .where(OutboxRow.counsellor_id == counsellor_id, OutboxRow.status == "pending")
                .values(status="cancelled")
                .execution_options(synchronize_session=False)
            )
        return rowcount(result) == 1

    def escalations_to(self, counsellor_id: int) -> list[dict[str, Any]]:
        """The payloads of escalations still queued (or being sent) to this counsellor, each
        about another counsellor's alert: what must find another recipient when they leave."""
        rows = self._s.scalars(
            select(OutboxRow.payload)
            .where(
                OutboxRow.counsellor_id == counsellor_id,
                OutboxRow.kind == "escalation",
                OutboxRow.status.in_(("pending", "sending")),
            )
            .order_by(OutboxRow.id)
        )
        return [json.loads(p) for p in rows]

    def last_activity(self) -> dict[int, datetime]:
        """Each counsellor's latest sign of work: a client added, a conversation logged or an
        action in the audit trail (three grouped queries for the whole team)."""
        latest: dict[int, datetime] = {}
        logged = self._s.execute(
            select(ClientRow.counsellor_id, func.max(InteractionRow.created_at))
            .join(InteractionRow, InteractionRow.client_id == ClientRow.id)
            .group_by(ClientRow.counsellor_id)
        ).all()
        acted = self._s.execute(
            select(AuditRow.actor_id, func.max(AuditRow.at))
            .where(AuditRow.actor_id.is_not(None))
            .group_by(AuditRow.actor_id)
        ).all()
        added = self._s.execute(
            select(ClientRow.counsellor_id, func.max(ClientRow.created_at)).group_by(
                ClientRow.counsellor_id
            )
        ).all()
        for who, when in (*logged, *acted, *added):
            if who is not None and when is not None:
                when = aware(when, "when")
                if who not in latest or when > latest[who]:
                    latest[int(who)] = when
        return latest

    def caseload_counts(self, counsellor_id: int) -> tuple[int, int, int]:
        """(clients, open dated plan items, unacknowledged alerts) of one counsellor."""
        mine = select(ClientRow.id).where(ClientRow.counsellor_id == counsellor_id)
        clients = self._s.scalar(
            select(func.count())
            .select_from(ClientRow)
            .where(ClientRow.counsellor_id == counsellor_id)
        )
        plans = self._s.scalar(
            select(func.count())
            .select_from(PlanItemRow)
            .where(PlanItemRow.client_id.in_(mine), PlanItemRow.done_at.is_(None))
        )
        alerts = self._s.scalar(
            select(func.count())
            .select_from(AlertRow)
            .where(AlertRow.client_id.in_(mine), AlertRow.acknowledged_at.is_(None))
        )
        return int(clients or 0), int(plans or 0), int(alerts or 0)

    # -- handover ----------------------------------------------------------------------

    def hand_over(self, from_id: int, to_id: int) -> Handover:
        """Move every client of `from_id` (with everything hanging off them: maps, plans,
        screenings, tiers, alerts) to `to_id`, numbered after the new counsellor's own
        clients in their old order. Alerts move with their clients (the unacknowledged ones
        the leaver had been sent are returned, for the caller to push to the new
        counsellor); queued reminders and alerts about these clients move with them;
        everything else still queued for the leaver is cancelled."""
        if from_id == to_id:
            raise ValueError("a caseload cannot be handed over to the same counsellor")
        clients, plans, alerts = self.caseload_counts(from_id)
        ids = list(
            self._s.scalars(
                select(ClientRow.id)
                .where(ClientRow.counsellor_id == from_id)
                .order_by(ClientRow.number)
            )
        )
        first = None
        sent: list[int] = []
        open_ids: list[int] = []
        if ids:
            seq = self._s.execute(
                update(CounsellorRow)
                .where(CounsellorRow.id == to_id)
                .values(client_seq=CounsellorRow.client_seq + len(ids))
                .returning(CounsellorRow.client_seq)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if seq is None:
                raise LookupError(f"counsellor {to_id} does not exist")
            first = seq - len(ids) + 1
            for offset, client_id in enumerate(ids):
                self._s.execute(
                    update(ClientRow)
                    .where(ClientRow.id == client_id, ClientRow.counsellor_id == from_id)
                    .values(counsellor_id=to_id, number=first + offset)
                    .execution_options(synchronize_session=False)
                )
            # sent to the leaver, or being sent right now (a worker holds the first push under
            # its lease and may already have composed it for the leaver's chat)
            in_flight = set(
                self._s.scalars(
                    select(OutboxRow.dedupe_key).where(
                        OutboxRow.client_id.in_(ids),
                        OutboxRow.kind == "alert",
                        OutboxRow.status == "sending",
                    )
                )
            )
            open_alerts = self._s.execute(
                select(AlertRow.id, AlertRow.status)
                .where(AlertRow.client_id.in_(ids), AlertRow.acknowledged_at.is_(None))
                .order_by(AlertRow.raised_at, AlertRow.id)
            ).all()
            open_ids = [alert_id for alert_id, _ in open_alerts]
            sent = [
                alert_id
                for alert_id, status in open_alerts
                if status == "sent" or outbox_keys.alert(alert_id) in in_flight
            ]
            # the leaver's message ids mean nothing in the new counsellor's chat
            self._s.execute(
                update(AlertRow)
                .where(AlertRow.client_id.in_(ids))
                .values(counsellor_id=to_id, message_id=None)
                .execution_options(synchronize_session=False)
            )
        moved = 0
        if ids:
            # queued (and claimed: a worker composes a claimed row for whoever the row names
            # when it composes it, so a row claimed before this commit goes to the new
            # counsellor; a retried one comes back pending for them)
            moved = rowcount(
                self._s.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.counsellor_id == from_id,
                        OutboxRow.status.in_(("pending", "sending")),
                        OutboxRow.client_id.in_(ids),
                        OutboxRow.kind.in_(("plan", "cadence", "review", "alert", "realert")),
                    )
                    .values(counsellor_id=to_id)
                    .execution_options(synchronize_session=False)
                )
            )
        self._s.execute(
            update(OutboxRow)
            .where(OutboxRow.counsellor_id == from_id, OutboxRow.status == "pending")
            .values(status="cancelled")
            .execution_options(synchronize_session=False)
        )
        self._s.flush()
        return Handover(
            clients=clients,
            open_plans=plans,
            open_alerts=alerts,
            reminders=moved,
            first_number=first,
            sent_alert_ids=tuple(sent),
            open_alert_ids=tuple(open_ids),
        )

    # -- invites -----------------------------------------------------------------------

    def open_invites(self, now: datetime) -> list[Invite]:
        rows = self._s.scalars(
            select(InviteRow)
            .where(InviteRow.used_at.is_(None), InviteRow.expires_at > aware(now, "now"))
            .order_by(InviteRow.created_at, InviteRow.id)
        )
        return [as_invite(r) for r in rows]

    def revoke_invite(self, invite_id: int, now: datetime) -> bool:
        """An unused invite stops working at once (it expires now)."""
        now = aware(now, "now")
        result = self._s.execute(
            update(InviteRow)
            .where(
                InviteRow.id == invite_id, InviteRow.used_at.is_(None), InviteRow.expires_at > now
            )
            .values(expires_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result) == 1

    # -- audit trail -------------------------------------------------------------------

    def record(
        self,
        actor_id: int | None,
        action: str,
        now: datetime,
        *,
        client_id: int | None = None,
        client_number: int | None = None,
        target_id: int | None = None,
    ) -> None:
        """One audit row: who, what, when (and which client number / counsellor); never text."""
        self._s.add(
            AuditRow(
                at=aware(now, "now"),
                actor_id=actor_id,
                action=action[:32],
                client_id=client_id,
                client_number=client_number,
                target_id=target_id,
            )
        )

    def audit(self, actor_id: int | None, limit: int = 20) -> list[AuditEntry]:
        """The latest entries, latest first: one counsellor's own (`actor_id`), or the whole
        team's (None, admins only: the caller checks)."""
        stmt = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        if actor_id is not None:
            stmt = stmt.where(AuditRow.actor_id == actor_id)
        return [
            AuditEntry(r.id, r.at, r.actor_id, r.action, r.client_id, r.client_number, r.target_id)
            for r in self._s.scalars(stmt)
        ]
