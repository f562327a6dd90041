"""/undo: take back the counsellor's latest change of the last 15 minutes (issue 13).

The use cases call `record_undo` in the same transaction as the change they make. An entry
is a parked input (`pending_inputs`, kind "undo": counsellor-scoped, payload encrypted at
rest) that expires after UNDO_WINDOW; `/undo` takes the latest one. Payloads hold ids and
old values only. How each kind is taken back is one function in `UNDOERS` (kind → function).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.model import Client, Counsellor, StatusChange
from domain.rules import RuleBase
from services.grading import regrade_client
from storage import outbox_keys as keys
from storage.caseload import CaseloadStore
from storage.db import Database
from storage.orm import InteractionRow, NeedRow, PlanItemRow, ReferralRow
from storage.uow import UnitOfWork

UNDO_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Undone:
    kind: str
    client: Client
    blocked: bool = False  # /new: things were recorded for the client since
    needs: int = 0
    plan: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)
    instrument: str | None = None  # a screening: "phq9" | "gad7"


@dataclass(frozen=True)
class UndoPreview:
    """What `/undo` would take back, shown before it does (the counsellor confirms)."""

    entry_id: int
    kind: str
    client: Client
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True)
class _Undo:
    """One entry being taken back: what an undo function needs."""

    uow: UnitOfWork
    actor: Counsellor
    client: Client
    payload: dict[str, Any]
    since: datetime  # when the undone change was made
    now: datetime

    @property
    def store(self) -> CaseloadStore:
        return self.uow.caseload_of(self.actor.id)


# --- the hook called by the use cases ----------------------------------------------------


def record_undo(
    uow: UnitOfWork, actor: Counsellor, kind: str, payload: dict[str, Any], now: datetime
) -> None:
    """Remember how to undo a change just made in this unit of work (ids and old values)."""
    if kind not in UNDOERS:
        raise ValueError(f"unknown undo kind {kind!r}")
    uow.pending.add(
        counsellor_id=actor.id,
        kind="undo",
        payload={"kind": kind, **payload},
        now=now,
        expires_at=now + UNDO_WINDOW,
    )


def status_payload(changes: Sequence[StatusChange]) -> list[dict[str, Any]]:
    """StatusChange list → what undo needs to put the old values back."""
    return [{"id": c.id, "field": c.field, "old": c.old, "new": c.new} for c in changes]


# --- /undo -------------------------------------------------------------------------------


def undo(db: Database, actor: Counsellor, now: datetime, rules: RuleBase) -> Undone | None:
    """Undo the counsellor's latest change of the last 15 minutes; None if there is none."""
    with db.uow(write=True) as uow:
        while True:
            entry = uow.pending.latest(actor.id, "undo", now)
            if entry is None:
                return None
            uow.pending.consume(entry.id, actor.id, now)
            p = entry.payload
            client = uow.clients_of(actor.id).get(int(p.get("client_id", 0)))
            if client is None:  # forgotten meanwhile
                continue
            return _undo_one(_Undo(uow, actor, client, p, entry.created_at or now, now), rules)


def peek_undo(db: Database, actor: Counsellor, now: datetime) -> UndoPreview | None:
    with db.uow(write=False) as uow:
        entry = uow.pending.latest(actor.id, "undo", now)
        if entry is None:
            return None
        client = uow.clients_of(actor.id).get(int(entry.payload.get("client_id", 0)))
        if client is None:
            return None  # its client was forgotten: `undo` skips such entries
        p = entry.payload
        detail = {
            "instrument": p.get("instrument"),
            "changes": list(p.get("changes", [])),
            "needs": len(p.get("need_ids", [])),
            "plan": p.get("plan_id") is not None,
            "text": p.get("text"),
            "status": p.get("old"),
            "until": p.get("until"),
        }
        return UndoPreview(entry.id, p["kind"], client, entry.created_at or now, detail)


def undo_entry(
    db: Database, actor: Counsellor, entry_id: int, now: datetime, rules: RuleBase
) -> Undone | None:
    """The confirmed /undo: take back exactly the entry that was shown, if it is still the
    latest (None when it expired or something newer was recorded meanwhile)."""
    with db.uow(write=True) as uow:
        entry = uow.pending.latest(actor.id, "undo", now)
        if entry is None or entry.id != entry_id:
            return None
        uow.pending.consume(entry.id, actor.id, now)
        client = uow.clients_of(actor.id).get(int(entry.payload.get("client_id", 0)))
        if client is None:
            return None
        return _undo_one(
            _Undo(uow, actor, client, entry.payload, entry.created_at or now, now), rules
        )


def _undo_one(u: _Undo, rules: RuleBase) -> Undone:
    kind = u.payload["kind"]
    done = UNDOERS[kind](u)
    if done.blocked or kind == "new":
        return done
    # what is undone never happened: a crisis it raised is not held (issue 11)
    regrade_client(u.uow, u.actor, u.client.id, u.now, rules, release_hold_after=u.since)
    fresh = u.uow.clients_of(u.actor.id).get(u.client.id) or u.client
    return Undone(
        kind,
        fresh,
        needs=done.needs,
        plan=done.plan,
        changes=done.changes,
        instrument=u.payload.get("instrument"),
    )


# --- one function per kind ---------------------------------------------------------------


def _undo_new(u: _Undo) -> Undone:
    if u.store.has_records(u.client.id):
        return Undone("new", u.client, blocked=True)
    _cancel_alerts(u)
    u.uow.clients_of(u.actor.id).delete(u.client.id)
    return Undone("new", u.client)


def _undo_log(u: _Undo) -> Undone:
    p, store, client_id = u.payload, u.store, u.client.id
    store.delete_children(InteractionRow, [p["interaction_id"]], client_id)
    needs = store.delete_children(NeedRow, p.get("need_ids", []), client_id)
    plan = _drop_plan(u, int(p["plan_id"])) if p.get("plan_id") is not None else 0
    changes = list(p.get("changes", []))
    store.revert_status(client_id, changes)
    store.refresh_last_contact(client_id)
    _cancel_alerts(u)
    return Undone("log", u.client, needs=needs, plan=plan, changes=changes)


def _undo_status(u: _Undo) -> Undone:
    changes = list(u.payload.get("changes", []))
    u.store.revert_status(u.client.id, changes)
    _cancel_alerts(u)
    return Undone("status", u.client, changes=changes)


def _undo_screening(u: _Undo) -> Undone:
    u.store.delete_screening(
        u.client.id, u.payload["instrument"], datetime.fromisoformat(u.payload["at"])
    )
    _cancel_alerts(u)
    return Undone("screening", u.client)


def _undo_done(u: _Undo) -> Undone:
    """The ✓ tap: the follow-up is open again."""
    u.uow.records_of(u.actor.id).reopen_plan(int(u.payload["plan_id"]))
    return Undone("done", u.client)


def _undo_snooze(u: _Undo) -> Undone:
    """The snooze tap: back to its time before."""
    u.uow.records_of(u.actor.id).snooze_plan(
        int(u.payload["plan_id"]), datetime.fromisoformat(u.payload["due_at"])
    )
    return Undone("snooze", u.client)


def _undo_referral(u: _Undo) -> Undone:
    u.store.delete_children(ReferralRow, [int(u.payload["referral_id"])], u.client.id)
    return Undone("referral", u.client)


def _undo_referral_status(u: _Undo) -> Undone:
    u.uow.records_of(u.actor.id).set_referral_status(
        int(u.payload["referral_id"]), str(u.payload["old"]), u.now
    )
    return Undone("referral_status", u.client)


def _undo_plan(u: _Undo) -> Undone:
    """A follow-up or a goal; a new recurring follow-up goes with its whole series."""
    plan = _drop_plan(u, int(u.payload["plan_id"]))
    if u.payload.get("series_id") is not None:
        u.uow.series_of(u.actor.id).delete(int(u.payload["series_id"]))
    return Undone(u.payload["kind"], u.client, plan=plan)


#: what /undo can take back: the commands, and the taps that change a record (issue 13)
UNDOERS: dict[str, Callable[[_Undo], Undone]] = {
    "new": _undo_new,
    "log": _undo_log,
    "status": _undo_status,
    "plan": _undo_plan,
    "goal": _undo_plan,
    "screening": _undo_screening,
    "done": _undo_done,
    "snooze": _undo_snooze,
    "referral": _undo_referral,
    "referral_status": _undo_referral_status,
}
UNDO_KINDS = tuple(UNDOERS)


def _drop_plan(u: _Undo, plan_id: int) -> int:
    removed = u.store.delete_children(PlanItemRow, [plan_id], u.client.id)
    if removed:
        u.uow.outbox.cancel(keys.plan_family(plan_id))
    return removed


def _cancel_alerts(u: _Undo) -> None:
    """An alert the undone change raised (and not yet acknowledged) goes with it."""
    for alert_id in u.store.drop_alerts_since(u.client.id, u.since):
        u.uow.outbox.cancel(*keys.alert_family(alert_id))
