"""Re-grading: the one function every tier-changing event goes through.

A log, a status change, a screening, a new tag or the passage of time all call
`regrade_client` inside the same unit of work as their cause, so the grades, the tier
history and any alert row are committed (or rolled back) together with it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from domain import tiering
from domain.model import Counsellor
from domain.rules import RuleBase, load_rules
from domain.schedule import PRIORITY
from storage import outbox_keys
from storage.clinical import ClinicalRepo
from storage.db import Database
from storage.uow import UnitOfWork


@lru_cache(maxsize=1)
def default_rules() -> RuleBase:
    return load_rules(None)


def practice_rules(rules: RuleBase) -> RuleBase:
    """CAREMAP_MODE=practice: the same rules with the value tier (V1–V3) switched on."""
    if rules.value.enabled:
        return rules
    return rules.model_copy(update={"value": rules.value.model_copy(update={"enabled": True})})


def regrade_client(
    uow: UnitOfWork,
    actor: Counsellor,
    client_id: int,
    now: datetime,
    rules: RuleBase,
    *,
    release_hold: bool = False,
    release_hold_after: datetime | None = None,
    note: tiering.Reason | None = None,
) -> tiering.RegradeDecision | None:
    """Grade the client again and store the grades, the tier history and any alert.

    A held tier (crisis, or high from a safety check) is only let go by the counsellor's
    review (`release_hold`, with the review's reason as `note`, kept first in the tier
    history's reasons) or by /undo of what raised it (`release_hold_after`: the undone
    action's time)."""
    repo = uow.clinical_of(actor.id)
    found = repo.graded_many([client_id]).get(client_id)  # the facts and the stored grades
    if found is None:
        return None
    facts, previous = found.facts, found.grades
    if facts.held is not None and (
        release_hold
        or (
            release_hold_after is not None
            and facts.held_since is not None
            and facts.held_since >= release_hold_after
        )
    ):
        facts = replace(facts, held=None, held_since=None)
    decision = tiering.regrade(previous, facts, rules, now, ZoneInfo(actor.timezone))
    tier_set_at = _tier_set_at(decision, previous, facts, now)
    repo.save_grades(decision.grades, tier_set_at)
    for change in decision.changes:
        if note is not None and change.dimension == "risk":
            change = replace(change, reasons=(note, *change.reasons))
        repo.add_tier_change(change, by_counsellor_id=actor.id)
    if decision.alert is not None:
        _raise_alert(uow, repo, actor, decision.alert, now)
    return decision


def _raise_alert(
    uow: UnitOfWork, repo: ClinicalRepo, actor: Counsellor, alert: tiering.AlertEvent, now: datetime
) -> int:
    """Store the alert and queue its push in the same transaction; after the commit the bot
    sends it at once (Database.on_urgent), ahead of any backlog, instead of at the next tick."""
    alert_id: int = repo.add_alert(alert)
    enqueue_alert_push(
        uow,
        alert_id=alert_id,
        counsellor_id=actor.id,
        client_id=alert.client_id,
        tier=alert.tier,
        raised_at=alert.raised_at,
        now=now,
    )
    return alert_id


def _tier_set_at(
    decision: tiering.RegradeDecision,
    previous: tiering.Grades | None,
    facts: tiering.ClientFacts,
    now: datetime,
) -> datetime:
    risk_changed = previous is None or previous.risk is not decision.grades.risk
    return now if risk_changed else (facts.tier_set_at or now)


def _unchanged(
    new: tiering.Grades,
    tier_set_at: datetime,
    old: tiering.Grades | None,
    old_tier_set_at: datetime | None,
) -> bool:
    """Nothing to write: the stored grades say the same (but for the time of grading)."""
    return (
        old is not None
        and old_tier_set_at == tier_set_at
        and new._replace(graded_at=old.graded_at) == old
        and new.overdue == old.overdue
    )


def enqueue_alert_push(
    uow: UnitOfWork,
    *,
    alert_id: int,
    counsellor_id: int,
    client_id: int,
    tier: Any,
    raised_at: datetime,
    now: datetime,
) -> int | None:
    """Queue the first push of an alert (idempotent: one per alert, by its dedupe key)."""
    return uow.outbox.enqueue(
        **alert_push(
            alert_id=alert_id,
            counsellor_id=counsellor_id,
            client_id=client_id,
            tier=tier,
            raised_at=raised_at,
            now=now,
        )
    )


def alert_push(
    *,
    alert_id: int,
    counsellor_id: int,
    client_id: int,
    tier: Any,
    raised_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The outbox row of an alert's first push (`outbox.enqueue`'s keyword arguments)."""
    priority = (
        PRIORITY["alert_crisis"]
        if getattr(tier, "value", tier) == "crisis"
        else PRIORITY["alert_high"]
    )
    return {
        "counsellor_id": counsellor_id,
        "kind": "alert",
        "dedupe_key": outbox_keys.alert(alert_id),
        "due_at": raised_at,
        "priority": priority,
        "payload": {"alert_id": alert_id, "client_id": client_id},
        "now": now,
        "client_id": client_id,
    }


#: clients re-graded per batch: a handful of statements to read them (no write lock), and
#: a write lock held only while what changed is stored (a /log waits at most that long)
REGRADE_BATCH = 500


def regrade_everyone(
    db: Database,
    now: datetime,
    rules: RuleBase,
    *,
    batch: int = REGRADE_BATCH,
) -> dict[str, int]:
    """The passage of time: re-grade every client (lost contact, stale screenings, reviews).

    Set-based: per counsellor, `batch` clients at a time. A batch's facts and stored grades
    are read in a handful of statements (`ClinicalRepo.graded_many`, a read unit of work:
    no write lock) and graded in memory; then one short write unit of work stores only the
    grades that changed and the tier changes (one statement each) and raises any alert the
    way `regrade_client` does (the alert and its push in the same transaction), for the
    clients nobody has graded in between (`ClinicalRepo.still_as_read`). A failure rolls back
    only its batch. Returns counts for the log: clients graded, tiers changed, alerts raised.
    """
    counts = {"clients": 0, "changed": 0, "alerts": 0}
    # PostgreSQL plans the batches' reads from statistics: a caseload loaded since they were
    # last gathered (autovacuum off or not yet round) would be read by sequential scans
    db.refresh_statistics()
    with db.uow(write=False) as uow:
        counsellors = uow.counsellors.list_all()
        caseloads = [(actor, uow.clients_of(actor.id).client_ids()) for actor in counsellors]
    for actor, ids in caseloads:
        tz = ZoneInfo(actor.timezone)
        for start in range(0, len(ids), batch):
            _regrade_batch(db, actor, ids[start : start + batch], now, rules, tz, counts)
    db.refresh_statistics()  # the grades just written are what the tick scans next
    return counts


def _regrade_batch(
    db: Database,
    actor: Counsellor,
    ids: list[int],
    now: datetime,
    rules: RuleBase,
    tz: ZoneInfo,
    counts: dict[str, int],
) -> None:
    # read and grade outside the write lock (a /log is never kept waiting for it)…
    with db.uow(write=False) as uow:
        graded = uow.clinical_of(actor.id).graded_many(ids)
    todo: dict[int, tuple[tiering.RegradeDecision, datetime, bool]] = {}
    for client_id in ids:
        found = graded.get(client_id)
        if found is None:  # forgotten since the ids were read
            continue
        decision = tiering.regrade(found.grades, found.facts, rules, now, tz)
        tier_set_at = _tier_set_at(decision, found.grades, found.facts, now)
        save = not _unchanged(decision.grades, tier_set_at, found.grades, found.tier_set_at)
        if save or decision.changes or decision.alert is not None:
            todo[client_id] = (decision, tier_set_at, save)
        counts["clients"] += 1
        if counts["clients"] % 100 == 0:
            time.sleep(0)  # let the bot's event loop thread have the GIL now and then
    if not todo:
        return
    # …then write what changed in one short transaction, skipping any client graded (by a
    # /log, a status change…) since it was read: that grading is the fresher one
    with db.uow(write=True) as uow:
        repo = uow.clinical_of(actor.id)
        fresh = repo.still_as_read({cid: graded[cid] for cid in todo})
        saves: list[tuple[tiering.Grades, datetime]] = []
        changes: list[tiering.TierChange] = []
        alerts: list[tiering.AlertEvent] = []
        for client_id, (decision, tier_set_at, save) in todo.items():
            if client_id not in fresh:
                continue
            if save:
                saves.append((decision.grades, tier_set_at))
            changes.extend(decision.changes)
            if decision.alert is not None:
                alerts.append(decision.alert)
            counts["changed"] += decision.changed
            counts["alerts"] += decision.alert is not None
        repo.save_grades_many(saves)
        repo.add_tier_changes(changes, by_counsellor_id=actor.id)
        # the alerts and their pushes: a statement each for the whole batch
        alert_ids = repo.add_alerts(alerts)
        uow.outbox.enqueue_many(
            alert_push(
                alert_id=alert_id,
                counsellor_id=actor.id,
                client_id=alert.client_id,
                tier=alert.tier,
                raised_at=alert.raised_at,
                now=now,
            )
            for alert_id, alert in zip(alert_ids, alerts, strict=True)
        )
