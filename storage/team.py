"""Supervision reads (issue 11): the sent copies of an alert, the admins' team overview and
the supervisor digest. `uow.team`.

These reads cross counsellors on purpose and are used only where that is the point: the
copies of ONE alert the acknowledging counsellor owns (checked by the caller through
`clients_of`), the admins' `/team`, and the digest a supervisor receives about the
counsellors they supervise. They return ids, counts and client names — never notes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from domain.model import Counsellor
from storage import outbox_keys as keys
from storage.base import Repo, aware
from storage.mappers import as_counsellor
from storage.orm import AlertRow, ClientGradeRow, ClientRow, CounsellorRow, OutboxRow, table_of

__all__ = ["AlertCopy", "CounsellorLoad", "TeamRepo"]

_T = table_of(OutboxRow)


@dataclass(frozen=True, slots=True)
class AlertCopy:
    """One message that carried an alert: the first push, a repeat or an escalation."""

    outbox_id: int
    kind: str  # "alert" | "realert" | "escalation"
    recipient_id: int
    message_id: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CounsellorLoad:
    """One counsellor's line in `/team` and in the supervisor digest."""

    counsellor: Counsellor
    supervisor: Counsellor | None
    open_crisis: int  # unacknowledged crisis alerts
    open_high: int  # unacknowledged high alerts
    past_contact: int  # clients whose latest contact date has passed
    # (client id, client name) of crisis clients with an unacknowledged alert or past contact
    crisis_clients: tuple[tuple[int, str], ...] = ()
    high_past_contact: int = 0  # high/crisis clients past their latest contact date


def _alert_keys(alert_id: int) -> Any:
    return keys.matching(_T.c.dedupe_key, *keys.alert_family(alert_id))


class TeamRepo(Repo):
    # -- the copies of one alert ----------------------------------------------------------

    def alert_exists(self, alert_id: int) -> bool:
        """Whether alert `alert_id` is still stored (whoever it is addressed to). Alert ids
        are never reused (migration 0015): a missing one was withdrawn by /undo or went
        with a forgotten client."""
        return self._s.scalar(select(AlertRow.id).where(AlertRow.id == alert_id)) is not None

    def alert_copies(self, alert_id: int) -> list[AlertCopy]:
        """Every sent message of this alert (first push, repeats, escalations), by id."""
        rows = self._s.execute(
            select(_T.c.id, _T.c.kind, _T.c.counsellor_id, _T.c.message_id, _T.c.payload)
            .where(_alert_keys(alert_id), _T.c.status == "sent", _T.c.message_id.is_not(None))
            .order_by(_T.c.id)
        ).all()
        return [
            AlertCopy(r.id, r.kind, r.counsellor_id, int(r.message_id), json.loads(r.payload))
            for r in rows
        ]

    # -- the team overview ------------------------------------------------------------------

    def loads(self, now: datetime, counsellor_ids: list[int] | None = None) -> list[CounsellorLoad]:
        """Every counsellor (or those given) with supervisor, open alerts and overdue contact."""
        now = aware(now, "now")
        stmt = select(CounsellorRow).order_by(CounsellorRow.id)
        if counsellor_ids is not None:
            if not counsellor_ids:
                return []
            stmt = stmt.where(CounsellorRow.id.in_(counsellor_ids))
        people = [
            as_counsellor(r)
            for r in self._s.scalars(stmt.execution_options(populate_existing=True))
        ]
        if not people:
            return []
        ids = [p.id for p in people]
        everyone = {
            c.id: c for c in (as_counsellor(r) for r in self._s.scalars(select(CounsellorRow)))
        }

        open_alerts: dict[tuple[int, str], int] = {}
        crisis_open_clients: dict[int, set[int]] = {}
        for cid, client_id, tier in self._s.execute(
            select(AlertRow.counsellor_id, AlertRow.client_id, AlertRow.tier).where(
                AlertRow.counsellor_id.in_(ids), AlertRow.acknowledged_at.is_(None)
            )
        ):
            open_alerts[(cid, tier)] = open_alerts.get((cid, tier), 0) + 1
            if tier == "crisis":
                crisis_open_clients.setdefault(cid, set()).add(client_id)

        past: dict[int, int] = {}
        high_past: dict[int, int] = {}
        crisis_past_clients: dict[int, set[int]] = {}
        for cid, client_id, risk in self._s.execute(
            select(ClientRow.counsellor_id, ClientRow.id, ClientGradeRow.risk)
            .join(ClientGradeRow, ClientGradeRow.client_id == ClientRow.id)
            .where(ClientRow.counsellor_id.in_(ids), ClientGradeRow.contact_latest_at <= now)
        ):
            past[cid] = past.get(cid, 0) + 1
            if risk in ("high", "crisis"):
                high_past[cid] = high_past.get(cid, 0) + 1
            if risk == "crisis":
                crisis_past_clients.setdefault(cid, set()).add(client_id)

        named: dict[int, str] = {}
        wanted = set().union(*crisis_open_clients.values(), *crisis_past_clients.values())
        if wanted:
            named = dict(
                self._s.execute(
                    select(ClientRow.id, ClientRow.name).where(ClientRow.id.in_(wanted))
                ).all()
            )

        out = []
        for p in people:
            crisis_ids = sorted(
                crisis_open_clients.get(p.id, set()) | crisis_past_clients.get(p.id, set())
            )
            out.append(
                CounsellorLoad(
                    counsellor=p,
                    supervisor=everyone.get(p.supervisor_id)
                    if p.supervisor_id is not None
                    else None,
                    open_crisis=open_alerts.get((p.id, "crisis"), 0),
                    open_high=open_alerts.get((p.id, "high"), 0),
                    past_contact=past.get(p.id, 0),
                    crisis_clients=tuple((i, named[i]) for i in crisis_ids if i in named),
                    high_past_contact=high_past.get(p.id, 0),
                )
            )
        return out

    def unsupervised(self) -> list[Counsellor]:
        """Counsellors with no supervisor set, by id."""
        rows = self._s.scalars(
            select(CounsellorRow)
            .where(CounsellorRow.supervisor_id.is_(None))
            .order_by(CounsellorRow.id)
        )
        return [as_counsellor(r) for r in rows]

    def supervised_by(self, supervisor_id: int) -> list[Counsellor]:
        rows = self._s.scalars(
            select(CounsellorRow)
            .where(CounsellorRow.supervisor_id == supervisor_id, CounsellorRow.id != supervisor_id)
            .order_by(CounsellorRow.id)
        )
        return [as_counsellor(r) for r in rows]

    def count_open_alerts(self, counsellor_id: int) -> int:
        return int(
            self._s.scalar(
                select(func.count())
                .select_from(AlertRow)
                .where(
                    and_(
                        AlertRow.counsellor_id == counsellor_id, AlertRow.acknowledged_at.is_(None)
                    )
                )
            )
            or 0
        )
