"""What happened with a client and what is to happen (`uow.records_of(counsellor_id)`):
interactions, needs, referrals, the plan (follow-ups: done, reopened, snoozed, the agenda's)
and the relationship map that shows them together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from domain.model import (
    Client,
    Interaction,
    Need,
    PlanItem,
    PlanKind,
    Referral,
    RelationshipMap,
)
from storage.base import ScopedRepo, aware, aware_opt, clean_text, risk_rank, rowcount
from storage.mappers import as_client, as_plan_item, as_referral
from storage.orm import (
    ClientGradeRow,
    ClientRow,
    InteractionRow,
    NeedRow,
    PlanItemRow,
    ReferralRow,
)

__all__ = ["RecordRepo"]

# built once: a /log counts its client's interactions for the reply
_COUNT_INTERACTIONS = (
    select(func.count())
    .select_from(InteractionRow)
    .join(ClientRow, ClientRow.id == InteractionRow.client_id)
    .where(
        InteractionRow.client_id == bindparam("client"), ClientRow.counsellor_id == bindparam("c")
    )
)


class RecordRepo(ScopedRepo):
    """A counsellor's clients' records. Reads return None (or nothing) for a missing or
    another counsellor's client or item; writes about a missing client raise
    `ClientNotFound`."""

    def interaction_count(self, client_id: int) -> int:
        """How many interactions the client has (0 for another counsellor's or none)."""
        return int(
            self._s.scalar(_COUNT_INTERACTIONS, {"client": client_id, "c": self.counsellor_id}) or 0
        )

    def relationship_map(
        self, client_id: int, *, interactions_limit: int = 20
    ) -> RelationshipMap | None:
        """The client with their needs, latest interactions (and how many in all),
        referrals, plan and status history; None for a missing or another's client."""
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
            client=as_client(row),
            needs=needs,
            interactions=interactions,
            interaction_count=int(count),
            referrals=referrals,
            plan=plan,
            history=self._uow.clients_of(self.counsellor_id).history(client_id),
        )

    def add_interaction(
        self,
        client_id: int,
        at: datetime,
        channel: str | None,
        notes: str,
        now: datetime,
        outcome: str | None = None,
    ) -> Interaction:
        """A contact. `outcome="unreached"` (a call nobody answered) is kept in the history
        but is not a contact: last_contact_at stays as it was."""
        row = self._need_row(client_id)
        at = aware(at, "at")
        if not isinstance(notes, str):
            raise TypeError("notes must be a string")
        item = InteractionRow(
            client_id=row.id,
            at=at,
            channel=clean_text(channel, 32, "channel"),
            notes_enc=self._enc(notes),
            created_at=aware(now, "now"),
            outcome=clean_text(outcome, 16, "outcome"),
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
        clean = clean_text(text, 4000, "need", required=True)
        item = NeedRow(
            client_id=row.id,
            text_enc=self._enc(clean),
            explicit=bool(explicit),
            source=clean_text(source, 32, "source"),
            created_at=aware(now, "now"),
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

    def add_referral(self, client_id: int, resource: str, status: str, now: datetime) -> Referral:
        row = self._need_row(client_id)
        item = ReferralRow(
            client_id=row.id,
            resource_enc=self._enc(clean_text(resource, 200, "resource", required=True)),
            status=clean_text(status, 32, "status", required=True),
            created_at=aware(now, "now"),
        )
        self._s.add(item)
        self._s.flush()
        return as_referral(item, self._dec)

    def referrals(self, client_id: int) -> list[Referral]:
        """The client's referrals, latest first (empty for an unknown or another's client)."""
        rows = self._s.scalars(
            select(ReferralRow)
            .where(ReferralRow.client_id == client_id, self._owned(client_id))
            .order_by(ReferralRow.created_at.desc(), ReferralRow.id.desc())
        )
        return [as_referral(r, self._dec) for r in rows]

    def _referral_row(self, referral_id: int) -> ReferralRow | None:
        return self._s.scalars(
            select(ReferralRow)
            .join(ClientRow, ClientRow.id == ReferralRow.client_id)
            .where(ReferralRow.id == referral_id, ClientRow.counsellor_id == self.counsellor_id)
        ).one_or_none()

    def referral(self, referral_id: int) -> Referral | None:
        """One referral by id, if it is about one of this counsellor's clients."""
        row = self._referral_row(referral_id)
        return as_referral(row, self._dec) if row is not None else None

    def set_referral_status(self, referral_id: int, status: str, now: datetime) -> Referral | None:
        """Record what became of a referral; None if it is not this counsellor's. Setting the
        status it already has changes nothing (not even the updated time)."""
        row = self._referral_row(referral_id)
        if row is None:
            return None
        clean = clean_text(status, 32, "status", required=True)
        if row.status != clean:
            row.status = clean
            row.updated_at = aware(now, "now")
            self._s.flush()
        return as_referral(row, self._dec)

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
        clean = clean_text(text, 4000, "plan text", required=True)
        item = PlanItemRow(
            client_id=row.id,
            kind=kind.value,
            text_enc=self._enc(clean),
            due_at=aware_opt(due_at, "due_at"),
            created_at=aware(now, "now"),
        )
        self._s.add(item)
        self._s.flush()
        return self._plan(item)

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
            .values(done_at=aware(now, "now"))
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result) == 1

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
        return rowcount(result) == 1

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
            .values(due_at=aware(until, "until"))
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result) == 1

    def plan_between(self, start: datetime, end: datetime) -> list[tuple[Client, PlanItem]]:
        """For the daily agenda: the open dated follow-ups due before `end`, INCLUDING the
        overdue ones due before `start`, earliest first. (`start` is validated but does
        not filter: an overdue item belongs on today's agenda.)"""
        aware(start, "start")
        rows = self._s.execute(
            select(ClientRow, PlanItemRow)
            .join(PlanItemRow, PlanItemRow.client_id == ClientRow.id)
            .where(
                ClientRow.counsellor_id == self.counsellor_id,
                PlanItemRow.kind == PlanKind.SHORT.value,
                PlanItemRow.done_at.is_(None),
                PlanItemRow.due_at.is_not(None),
                PlanItemRow.due_at < aware(end, "end"),
            )
            .order_by(PlanItemRow.due_at, PlanItemRow.id)
        ).all()
        return [(as_client(c), self._plan(p)) for c, p in rows]

    def plan_due(
        self, end: datetime, limit: int | None = None
    ) -> tuple[list[tuple[int, PlanItem]], int]:
        """For the daily agenda: the open dated follow-ups due before `end` (the overdue ones
        included), those of the most urgent clients first (the graded risk tier, else the
        client's own), then the earliest due: the first `limit` (all with None) as (client
        id, item), and how many there are in all. One statement; only the items returned
        are decrypted."""
        p, g = PlanItemRow, ClientGradeRow
        rows = self._s.execute(
            select(p, func.count().over())
            .join(ClientRow, ClientRow.id == p.client_id)
            .outerjoin(g, g.client_id == p.client_id)
            .where(
                ClientRow.counsellor_id == self.counsellor_id,
                p.kind == PlanKind.SHORT.value,
                p.done_at.is_(None),
                p.due_at.is_not(None),
                p.due_at < aware(end, "end"),
            )
            .order_by(func.coalesce(g.risk_rank, risk_rank(ClientRow.risk)).desc(), p.due_at, p.id)
            .limit(limit)
        ).all()
        total = int(rows[0][1]) if rows else 0
        return [(item.client_id, self._plan(item)) for item, _ in rows], total

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

    def _plan(self, item: PlanItemRow) -> PlanItem:
        return as_plan_item(item, self._dec)
