"""Reminders storage: the outbox (due work as rows) and the scheduler's cross-counsellor
scans (migrations 0003, 0007).

The reminders tick works in three steps, each its own unit of work:

1. plan: `uow.scan.*` finds what is due and `uow.outbox.enqueue(...)` records one row per
   message (the dedupe key makes a re-scan harmless);
2. claim: `uow.outbox.claim(now, limit=…, worker=…)` moves due rows to "sending" — commit
   before sending, so a slow Telegram call holds no lock;
3. after sending: `mark_sent` / `retry` / `defer` / `fail`, one small unit of work each.

A claim is a lease (migration 0007): the row is the worker's until `lease_until`, and the
worker renews the lease while it sends. A worker that dies leaves its rows in "sending";
they are claimed again once the lease has run out, or at once by the next life of the same
process (`sending_workers` + `release`). At-least-once: a duplicate is possible only for a
message that was in flight when the worker died.

A new urgent row (priority ≤ URGENT_PRIORITY: a crisis or high alert) is remembered by the
unit of work; after its commit the Database tells its listeners, so the bot can send it at
once instead of at the next tick (`Database.on_urgent`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.model import Counsellor, PlanItem, PlanKind
from domain.schedule import PRIORITY
from storage import outbox_keys
from storage.base import Repo, aware, aware_opt, clean_text, rowcount
from storage.dto import Alert, OutboxItem
from storage.mappers import as_alert, as_counsellor, as_plan_item
from storage.orm import (
    AlertRow,
    ClientGradeRow,
    ClientRow,
    CounsellorRow,
    OutboxRow,
    PlanItemRow,
    table_of,
)

__all__ = ["OutboxRepo", "ScanRepo", "OUTBOX_KINDS", "OUTBOX_STATUSES", "ALERT_STATUSES"]

OUTBOX_KINDS = frozenset(
    {"plan", "cadence", "alert", "realert", "escalation", "review", "agenda", "digest"}
)
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
ALERT_STATUSES = frozenset({"pending", "sent", "acknowledged"})
_FINAL = ("sent", "failed", "cancelled")
#: a claim's lease unless the worker says otherwise; the worker renews it while it sends
DEFAULT_LEASE = timedelta(seconds=30)
#: rows claimed before migration 0007 (no lease_until) count as abandoned after this
LEGACY_STALE = timedelta(minutes=5)
#: priorities at or below this (crisis and high alerts, repeats, escalations) are urgent
URGENT_PRIORITY = 1
_T = table_of(OutboxRow)
_MAX_KEY = 200
#: rows per multi-row INSERT / keys per IN (...) list
_MANY = 500


def _payload(payload: dict[str, Any]) -> str:
    """JSON of ids only: str keys, values int / bool / None or a short str (e.g. a local
    date "2026-03-02"). Free text is refused so the column need not be encrypted."""
    if not isinstance(payload, dict):
        raise TypeError("payload must be a dict")
    for key, value in payload.items():
        if not isinstance(key, str) or not key or len(key) > 32:
            raise ValueError("payload keys must be short strings")
        if value is None or isinstance(value, int):
            continue
        if isinstance(value, str) and len(value) <= 32:
            continue
        raise ValueError(
            f"payload[{key!r}]: only ids (ints) or short codes; no free text in the outbox"
        )
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _item(row: Row[Any]) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        counsellor_id=row.counsellor_id,
        client_id=row.client_id,
        kind=row.kind,
        priority=row.priority,
        dedupe_key=row.dedupe_key,
        due_at=row.due_at,
        not_before=row.not_before,
        payload=json.loads(row.payload),
        status=row.status,
        attempts=row.attempts,
        claimed_at=row.claimed_at,
        claimed_by=row.claimed_by,
        sent_at=row.sent_at,
        message_id=row.message_id,
        last_error=row.last_error,
        created_at=row.created_at,
        failed_at=row.failed_at,
        lease_until=row.lease_until,
    )


def _error(error: str) -> str:
    """Clip an error text to the column (200). Never pass message text or client data."""
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else text[:199] + "…"


def _order_key(item: OutboxItem) -> tuple[int, datetime, int]:
    return (item.priority, item.not_before, item.id)


def _row_values(
    *,
    counsellor_id: int,
    kind: str,
    dedupe_key: str,
    due_at: datetime,
    priority: int,
    payload: dict[str, Any],
    now: datetime,
    client_id: int | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """A new outbox row's columns, checked (`OutboxRepo.enqueue` and `enqueue_many`)."""
    if kind not in OUTBOX_KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        raise ValueError("priority must be a whole number ≥ 0 (0 = most urgent)")
    key = clean_text(dedupe_key, _MAX_KEY, "dedupe key", required=True)
    due_at = aware(due_at, "due_at")
    values = {
        "counsellor_id": counsellor_id,
        "client_id": client_id,
        "kind": kind,
        "priority": priority,
        "dedupe_key": key,
        "due_at": due_at,
        "not_before": due_at if not_before is None else aware(not_before, "not_before"),
        "payload": _payload(payload),
        "status": "pending",
        "attempts": 0,
        "created_at": aware(now, "now"),
    }
    return values


class OutboxRepo(Repo):
    """`uow.outbox`. Rows are read and written with Core statements (never ORM objects),
    so no stale identity-map copy can hide another worker's update."""

    def enqueue(
        self,
        *,
        counsellor_id: int,
        kind: str,
        dedupe_key: str,
        due_at: datetime,
        priority: int,
        payload: dict[str, Any],
        now: datetime,
        client_id: int | None = None,
        not_before: datetime | None = None,
    ) -> int | None:
        """Record a message to send; its id, or None when `dedupe_key` already exists (in
        any status: a sent or cancelled key is never enqueued again). `not_before`
        defaults to `due_at`."""
        values = _row_values(
            counsellor_id=counsellor_id,
            kind=kind,
            dedupe_key=dedupe_key,
            due_at=due_at,
            priority=priority,
            payload=payload,
            now=now,
            client_id=client_id,
            not_before=not_before,
        )
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(_T)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(_T.c.id)
        )
        # RETURNING yields a row only when inserted (rowcount of an INSERT is -1 on psycopg)
        new_id = self._s.execute(stmt).scalar_one_or_none()
        if new_id is not None and priority <= URGENT_PRIORITY:
            self._uow.urgent_outbox_ids.append(new_id)
        return new_id

    def enqueue_escalation(
        self,
        alert: Alert,
        target_id: int,
        *,
        from_id: int,
        reason: str,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> int | None:
        """An unacknowledged alert told to one more person of the owner's line (supervisor,
        admin), now and at escalation priority, once per alert and person (`enqueue`)."""
        return self.enqueue(
            counsellor_id=target_id,
            kind="escalation",
            dedupe_key=outbox_keys.escalation(alert.id, target_id),
            due_at=now,
            priority=PRIORITY["escalation"],
            payload={
                "alert_id": alert.id,
                "client_id": alert.client_id,
                "from": from_id,
                "reason": reason,
                **(extra or {}),
            },
            now=now,
            client_id=alert.client_id,
        )

    def enqueue_many(self, rows: Iterable[dict[str, Any]]) -> int:
        """`enqueue` for many rows (each a dict of enqueue's keyword arguments) in one
        statement per 500; a row whose dedupe key exists is skipped. Returns how many
        were enqueued."""
        values = [_row_values(**row) for row in rows]
        if not values:
            return 0
        insert = pg_insert if self._uow.dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(_T)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(_T.c.id, _T.c.priority)
        )
        count = 0
        # an executemany: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues"),
        # compiled once, a statement per 1,000 rows
        for new_id, priority in self._s.execute(stmt, values).all():
            count += 1
            if priority <= URGENT_PRIORITY:
                self._uow.urgent_outbox_ids.append(new_id)
        return count

    def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys are taken (in any status): one statement per 500."""
        wanted = sorted(set(keys))
        found: set[str] = set()
        for start in range(0, len(wanted), _MANY):
            found.update(
                self._s.scalars(
                    select(_T.c.dedupe_key).where(
                        _T.c.dedupe_key.in_(wanted[start : start + _MANY])
                    )
                )
            )
        return found

    def _due(self, now: datetime) -> Any:
        """Claimable: pending and due, or "sending" under a lease that has run out (its
        worker died or stalled). Rows claimed before leases existed (lease_until NULL)
        count as expired LEGACY_STALE after their claim."""
        return or_(
            and_(_T.c.status == "pending", _T.c.not_before <= now),
            and_(
                _T.c.status == "sending",
                or_(
                    _T.c.lease_until < now,
                    and_(_T.c.lease_until.is_(None), _T.c.claimed_at < now - LEGACY_STALE),
                ),
            ),
        )

    def _take(
        self, ids: list[int], now: datetime, worker: str, lease: timedelta
    ) -> list[OutboxItem]:
        if not ids:
            return []
        rows = self._s.execute(
            update(_T)
            .where(_T.c.id.in_(ids))
            .values(
                status="sending",
                claimed_at=now,
                claimed_by=worker,
                lease_until=now + lease,
                attempts=_T.c.attempts + 1,
            )
            .returning(*_T.c)
        ).all()
        return sorted((_item(r) for r in rows), key=_order_key)

    def claim(
        self,
        now: datetime,
        *,
        limit: int,
        worker: str,
        lease: timedelta = DEFAULT_LEASE,
        per_counsellor: int | None = None,
        busy_counsellors: Iterable[int] = (),
        max_priority: int | None = None,
    ) -> list[OutboxItem]:
        """Take up to `limit` rows to send, most urgent first: "pending" ones with
        not_before <= now, and "sending" ones whose lease ran out (their worker died).
        They become "sending" under a lease until now + `lease` (claimed_by=worker,
        attempts+1; the worker renews the lease while it sends) and are returned by
        priority, not_before, id. Commit the unit of work before sending.

        Claim only what can be sent in the next few seconds (the rate × a few seconds).
        `per_counsellor` caps the rows taken for one recipient in this claim, and rows of
        `busy_counsellors` (whose messages this worker is still sending) are left for a
        later claim — except urgent ones (priority ≤ URGENT_PRIORITY), so one counsellor's
        long queue never holds back another's messages or an alert. `max_priority` takes
        only rows at least that urgent.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers never take the
        same row. SQLite: the write unit of work holds the write lock (BEGIN IMMEDIATE)."""
        now = aware(now, "now")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a whole number ≥ 1")
        worker = clean_text(worker, 64, "worker", required=True)
        due = self._due(now)
        if max_priority is not None:
            due = and_(due, _T.c.priority <= max_priority)
        busy = sorted({int(c) for c in busy_counsellors})
        if busy:
            due = and_(due, or_(_T.c.priority <= URGENT_PRIORITY, _T.c.counsellor_id.not_in(busy)))
        order = (_T.c.priority, _T.c.not_before, _T.c.id)
        pick = select(_T.c.id).where(due)
        if per_counsellor is not None:
            ranked = (
                select(
                    _T.c.id,
                    func.row_number()
                    .over(partition_by=_T.c.counsellor_id, order_by=order)
                    .label("rn"),
                )
                .where(due)
                .subquery()
            )
            pick = pick.where(_T.c.id.in_(select(ranked.c.id).where(ranked.c.rn <= per_counsellor)))
        pick = pick.order_by(*order).limit(limit)
        if self._uow.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        return self._take(list(self._s.scalars(pick)), now, worker, lease)

    def claim_ids(
        self, ids: Iterable[int], now: datetime, *, worker: str, lease: timedelta = DEFAULT_LEASE
    ) -> list[OutboxItem]:
        """Claim these rows if they are still pending and due (the short path of a new
        alert: the bot sends it right after the commit that created it). A row another
        worker already took is skipped, so it is never sent twice."""
        now = aware(now, "now")
        worker = clean_text(worker, 64, "worker", required=True)
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return []
        pick = select(_T.c.id).where(
            _T.c.id.in_(wanted), _T.c.status == "pending", _T.c.not_before <= now
        )
        if self._uow.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        return self._take(list(self._s.scalars(pick)), now, worker, lease)

    def renew(
        self,
        worker: str,
        now: datetime,
        *,
        lease: timedelta = DEFAULT_LEASE,
        ids: Iterable[int] | None = None,
    ) -> set[int]:
        """Extend the lease of the rows `worker` is sending (all of them, or `ids`) to
        now + `lease`; returns the ids it still holds (a row another worker took back
        after an expired lease is no longer this worker's to send)."""
        now = aware(now, "now")
        stmt = update(_T).where(_T.c.status == "sending", _T.c.claimed_by == worker)
        if ids is not None:
            wanted = sorted({int(i) for i in ids})
            if not wanted:
                return set()
            stmt = stmt.where(_T.c.id.in_(wanted))
        rows = self._s.execute(stmt.values(lease_until=now + lease).returning(_T.c.id)).all()
        return {r.id for r in rows}

    def release(self, worker: str, ids: Iterable[int] | None = None) -> int:
        """Give rows `worker` holds in "sending" back as "pending" (due at once), e.g. what
        a dead earlier life of this process left behind, or what a stopping worker has not
        sent yet. Attempts stay counted."""
        stmt = update(_T).where(_T.c.status == "sending", _T.c.claimed_by == worker)
        if ids is not None:
            wanted = sorted({int(i) for i in ids})
            if not wanted:
                return 0
            stmt = stmt.where(_T.c.id.in_(wanted))
        return rowcount(self._s.execute(stmt.values(status="pending", lease_until=None)))

    def sending_workers(self) -> list[str]:
        """The workers that hold rows in "sending", by name."""
        stmt = (
            select(_T.c.claimed_by)
            .where(_T.c.status == "sending", _T.c.claimed_by.is_not(None))
            .distinct()
            .order_by(_T.c.claimed_by)
        )
        return list(self._s.scalars(stmt))

    def _settle(self, item_id: int, worker: str | None = None, **values: Any) -> bool:
        """Update a row that is being sent; False if it is not "sending" (e.g. already
        settled by a worker that reclaimed it), or, with `worker`, not that worker's."""
        stmt = update(_T).where(_T.c.id == item_id, _T.c.status == "sending")
        if worker is not None:
            stmt = stmt.where(_T.c.claimed_by == worker)
        return rowcount(self._s.execute(stmt.values(lease_until=None, **values))) == 1

    def mark_sent(
        self, item_id: int, *, message_id: int | None, now: datetime, worker: str | None = None
    ) -> bool:
        return self._settle(
            item_id, worker, status="sent", sent_at=aware(now, "now"), message_id=message_id
        )

    def retry(
        self, item_id: int, *, not_before: datetime, error: str, worker: str | None = None
    ) -> bool:
        """Back to "pending" after a transient failure; attempts stay counted."""
        return self._settle(
            item_id,
            worker,
            status="pending",
            not_before=aware(not_before, "not_before"),
            last_error=_error(error),
        )

    def defer(self, item_id: int, *, not_before: datetime, worker: str | None = None) -> bool:
        """Back to "pending" until `not_before` without counting an attempt (quiet hours
        are not a failure)."""
        return self._settle(
            item_id,
            worker,
            status="pending",
            not_before=aware(not_before, "not_before"),
            attempts=case((_T.c.attempts > 0, _T.c.attempts - 1), else_=0),
        )

    def fail(self, item_id: int, *, error: str, now: datetime, worker: str | None = None) -> bool:
        """Give up on the row (status "failed", failed_at = now)."""
        return self._settle(
            item_id, worker, status="failed", last_error=_error(error), failed_at=aware(now, "now")
        )

    def cancel(self, *keys: str) -> int:
        """Cancel the PENDING rows matching any of `keys` (built by `storage.outbox_keys`);
        returns how many. A key ending with the separator ":" is a prefix ("plan:42:" —
        every reminder of plan item 42, never of 420); any other key is matched exactly
        ("alert:1" is alert 1 only, never alert 10). Rows already being sent are left
        alone. `%` and `_` are literal."""
        result = self._s.execute(
            update(_T)
            .where(_T.c.status == "pending", outbox_keys.matching(_T.c.dedupe_key, *keys))
            .values(status="cancelled")
        )
        return rowcount(result)

    def get(self, item_id: int) -> OutboxItem | None:
        row = self._s.execute(select(_T).where(_T.c.id == item_id)).one_or_none()
        return _item(row) if row else None

    def get_by_key(self, dedupe_key: str) -> OutboxItem | None:
        row = self._s.execute(select(_T).where(_T.c.dedupe_key == dedupe_key)).one_or_none()
        return _item(row) if row else None

    def counts(self) -> dict[str, int]:
        """Rows by status; every status is present (0 when none)."""
        out = dict.fromkeys(OUTBOX_STATUSES, 0)
        for status, n in self._s.execute(select(_T.c.status, func.count()).group_by(_T.c.status)):
            out[status] = int(n)
        return out

    def list(
        self,
        status: str | None = None,
        kind: str | None = None,
        counsellor_id: int | None = None,
    ) -> list[OutboxItem]:
        """Rows matching the filters given, by id."""
        stmt = select(_T).order_by(_T.c.id)
        if status is not None:
            stmt = stmt.where(_T.c.status == status)
        if kind is not None:
            stmt = stmt.where(_T.c.kind == kind)
        if counsellor_id is not None:
            stmt = stmt.where(_T.c.counsellor_id == counsellor_id)
        return [_item(r) for r in self._s.execute(stmt)]

    def prune(self, before: datetime) -> int:
        """Delete settled rows (sent, failed, cancelled) created before `before`. Their
        dedupe keys become free again: prune only far behind anything a scan could
        still find due (e.g. 30 days)."""
        result = self._s.execute(
            delete(_T).where(_T.c.status.in_(_FINAL), _T.c.created_at < aware(before, "before"))
        )
        return rowcount(result)


_ALERT_FIELDS = frozenset(
    {"status", "realert_at", "realert_count", "escalated_at", "message_id", "sent_at"}
)
_ALERT_TIMES = frozenset({"realert_at", "escalated_at", "sent_at"})


class ScanRepo(Repo):
    """`uow.scan`: cross-counsellor reads and marks for the reminders scheduler ONLY.
    Handlers never use it (they go through `uow.clients_of(counsellor_id)`)."""

    def plan_items_due(self, now: datetime, limit: int = 500) -> list[tuple[int, PlanItem]]:
        """(counsellor_id, item) for open dated follow-ups with due_at <= now whose
        reminder was not yet enqueued for this due_at, earliest first."""
        now = aware(now, "now")
        rows = self._s.execute(
            select(ClientRow.counsellor_id, PlanItemRow)
            .join(ClientRow, ClientRow.id == PlanItemRow.client_id)
            .where(
                PlanItemRow.kind == PlanKind.SHORT.value,
                PlanItemRow.done_at.is_(None),
                PlanItemRow.due_at <= now,
                or_(
                    PlanItemRow.reminded_due_at.is_(None),
                    PlanItemRow.reminded_due_at != PlanItemRow.due_at,
                ),
            )
            .order_by(PlanItemRow.due_at, PlanItemRow.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        ).all()
        return [(cid, as_plan_item(item, self._dec)) for cid, item in rows]

    def mark_plan_reminded(self, plan_id: int, due_at: datetime) -> bool:
        """Record that the reminder for this due_at is enqueued (same unit of work as the
        enqueue)."""
        result = self._s.execute(
            update(PlanItemRow)
            .where(PlanItemRow.id == plan_id)
            .values(reminded_due_at=aware(due_at, "due_at"))
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result) == 1

    def mark_plans_reminded(self, items: Iterable[tuple[int, datetime]]) -> None:
        """`mark_plan_reminded` for many (plan_id, due_at) in one executemany."""
        params = [{"pid": pid, "due": aware(due, "due_at")} for pid, due in items]
        if not params:
            return
        t = table_of(PlanItemRow)
        self._s.execute(
            update(t).where(t.c.id == bindparam("pid")).values(reminded_due_at=bindparam("due")),
            params,
        )
        self._s.expire_all()  # plan items held by the session see the new reminded_due_at

    def _alerts(self, *where: Any, limit: int | None = None) -> list[Alert]:
        stmt = (
            select(AlertRow)
            .where(*where)
            .order_by(AlertRow.raised_at, AlertRow.id)
            .execution_options(populate_existing=True)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [as_alert(r, self._dec) for r in self._s.scalars(stmt)]

    def alert(self, alert_id: int) -> Alert | None:
        """One alert whoever owns it now (a delivery worker composing an escalation queued
        before a handover: the client is looked up in the current owner's caseload)."""
        found = self._alerts(AlertRow.id == alert_id)
        return found[0] if found else None

    def alerts_to_send(self, limit: int = 100) -> list[Alert]:
        """Alerts not yet pushed (status "pending"), oldest first."""
        return self._alerts(AlertRow.status == "pending", limit=limit)

    def alerts_unpushed(self, limit: int = 500) -> list[Alert]:
        """The `limit` oldest alerts not yet pushed (status "pending") whose first push is not
        in the outbox (no row under `outbox_keys.alert(id)`), oldest first. The outbox is
        checked before the limit is applied, so a backlog of alerts whose pushes are queued
        never hides a newer one whose push is missing. One statement reads the ids (the
        pending-alert index in order, one outbox key lookup each); the alerts themselves are
        read only for the ids found."""
        pushed = select(_T.c.id).where(_T.c.dedupe_key == outbox_keys.alert_sql(AlertRow.id))
        ids = list(
            self._s.scalars(
                select(AlertRow.id)
                .where(AlertRow.status == "pending", ~pushed.exists())
                .order_by(AlertRow.raised_at, AlertRow.id)
                .limit(limit)
            )
        )
        return self._alerts(AlertRow.id.in_(ids)) if ids else []

    def alerts_to_realert(self, now: datetime) -> list[Alert]:
        """Sent, unacknowledged alerts whose realert_at has come."""
        return self._alerts(
            AlertRow.status == "sent",
            AlertRow.acknowledged_at.is_(None),
            AlertRow.realert_at <= aware(now, "now"),
        )

    def alerts_to_escalate(self, now: datetime) -> list[Alert]:
        """Unacknowledged, not yet escalated alerts whose escalate_at has come."""
        return self._alerts(
            AlertRow.acknowledged_at.is_(None),
            AlertRow.escalated_at.is_(None),
            AlertRow.escalate_at <= aware(now, "now"),
        )

    def update_alert(self, alert_id: int, **fields: Any) -> bool:
        """Set any of status ("pending" | "sent" | "acknowledged"), realert_at,
        realert_count, escalated_at, message_id, sent_at. An acknowledged alert keeps
        status "acknowledged" whatever is passed (the counsellor may tap Acknowledge
        while the tick is sending). False for an unknown id."""
        unknown = set(fields) - _ALERT_FIELDS
        if unknown:
            raise TypeError(f"update_alert: unknown field(s) {sorted(unknown)}")
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key in _ALERT_TIMES:
                values[key] = aware_opt(value, key)
            elif key == "realert_count":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError("realert_count must be a whole number ≥ 0")
                values[key] = value
            elif key == "message_id":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("message_id must be an int or None")
                values[key] = value
            else:  # status
                if value not in ALERT_STATUSES:
                    raise ValueError(f"alert status must be one of {sorted(ALERT_STATUSES)}")
                values[key] = case(
                    (AlertRow.acknowledged_at.is_not(None), "acknowledged"), else_=value
                )
        if not values:
            return self._s.get(AlertRow, alert_id) is not None
        result = self._s.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    def cadence_due(self, now: datetime) -> list[tuple[int, int, datetime]]:
        """(counsellor_id, client_id, next_contact_due) for graded clients whose next
        contact is due by now, most overdue first."""
        now = aware(now, "now")
        rows = self._s.execute(
            select(
                ClientRow.counsellor_id, ClientGradeRow.client_id, ClientGradeRow.next_contact_due
            )
            .join(ClientRow, ClientRow.id == ClientGradeRow.client_id)
            .where(ClientGradeRow.next_contact_due <= now)
            .order_by(ClientGradeRow.next_contact_due, ClientGradeRow.client_id)
        ).all()
        return [(c, k, due) for c, k, due in rows if due is not None]  # (<= now: never NULL)

    def reviews_due(self, now: datetime) -> list[tuple[int, int, datetime]]:
        """(counsellor_id, client_id, review_due_at) for clients whose risk-tier review is
        due by now, oldest first."""
        now = aware(now, "now")
        rows = self._s.execute(
            select(ClientRow.counsellor_id, ClientGradeRow.client_id, ClientGradeRow.review_due_at)
            .join(ClientRow, ClientRow.id == ClientGradeRow.client_id)
            .where(ClientGradeRow.review_due_at <= now)
            .order_by(ClientGradeRow.review_due_at, ClientGradeRow.client_id)
        ).all()
        return [(c, k, due) for c, k, due in rows if due is not None]  # (<= now: never NULL)

    def _due_unplanned(
        self, column: Any, kind: str, now: datetime, risks: Collection[str]
    ) -> list[tuple[int, int, datetime, str]]:
        """(counsellor_id, client_id, due, risk) for graded clients of these risk tiers whose
        `column` is due by now and who have no `kind` outbox row for that very due time yet:
        a tick with nothing new to plan gets an empty list in one statement, however many
        clients are overdue. (A row for another time of the same day is left to the
        dedupe-key check.)"""
        now = aware(now, "now")
        planned = (
            select(_T.c.id)
            .where(
                _T.c.client_id == ClientGradeRow.client_id, _T.c.kind == kind, _T.c.due_at == column
            )
            .exists()
        )
        # client_grades alone (its indexes by risk and due time), not joined to clients: the
        # counsellors are looked up for the rows found only, so a tick with every overdue
        # client already planned reads no client row
        rows = self._s.execute(
            select(ClientGradeRow.client_id, column, ClientGradeRow.risk)
            .where(column <= now, ClientGradeRow.risk.in_(sorted(risks)), ~planned)
            .order_by(column, ClientGradeRow.client_id)
        ).all()
        if not rows:
            return []
        ids = sorted({k for k, _, _ in rows})
        owner: dict[int, int] = {}
        for start in range(0, len(ids), _MANY):
            owner.update(
                self._s.execute(
                    select(ClientRow.id, ClientRow.counsellor_id).where(
                        ClientRow.id.in_(ids[start : start + _MANY])
                    )
                ).all()
            )
        return [(owner[k], k, due, risk) for k, due, risk in rows if k in owner]

    def cadence_to_plan(
        self, now: datetime, risks: Collection[str]
    ) -> list[tuple[int, int, datetime, str]]:
        """`cadence_due` for clients of these tiers (the ones pushed one by one; the rest wait
        in the agenda) without those whose reminder for that due time is already in the
        outbox (the planner's scan)."""
        return self._due_unplanned(ClientGradeRow.next_contact_due, "cadence", now, risks)

    def reviews_to_plan(
        self, now: datetime, risks: Collection[str]
    ) -> list[tuple[int, int, datetime, str]]:
        """`reviews_due`, likewise."""
        return self._due_unplanned(ClientGradeRow.review_due_at, "review", now, risks)

    def counsellors_with_agenda(self) -> list[Counsellor]:
        """Counsellors whose daily agenda is on (agenda_at set), by id."""
        rows = self._s.scalars(
            select(CounsellorRow)
            .where(CounsellorRow.agenda_at.is_not(None), CounsellorRow.deactivated_at.is_(None))
            .order_by(CounsellorRow.id)
            .execution_options(populate_existing=True)
        )
        return [as_counsellor(r) for r in rows]
