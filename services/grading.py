"""Re-grading: the one function every tier-changing event goes through.

A log, a status change, a screening, a new tag or the passage of time all call
`regrade_client` inside the same unit of work as their cause, so the grades, the tier
history and any alert row are committed (or rolled back) together with it.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from domain import tiering
from domain.model import Counsellor
from domain.rules import RuleBase, load_rules


@lru_cache(maxsize=1)
def default_rules() -> RuleBase:
    return load_rules(None)


def practice_rules(rules: RuleBase) -> RuleBase:
    """CAREMAP_MODE=practice: the same rules with the value tier (V1–V3) switched on."""
    if rules.value.enabled:
        return rules
    return rules.model_copy(update={"value": rules.value.model_copy(update={"enabled": True})})


def regrade_client(
    uow: Any, actor: Counsellor, client_id: int, now: datetime, rules: RuleBase | None = None
) -> tiering.RegradeDecision | None:
    repo = uow.clients_of(actor.id)
    facts = repo.facts(client_id)
    if facts is None:
        return None
    previous = repo.grades(client_id)
    decision = tiering.regrade(previous, facts, rules or default_rules(), now, ZoneInfo(actor.timezone))
    risk_changed = previous is None or previous.risk is not decision.grades.risk
    tier_set_at = now if risk_changed else (facts.tier_set_at or now)
    repo.save_grades(decision.grades, tier_set_at)
    for change in decision.changes:
        repo.add_tier_change(change, by_counsellor_id=actor.id)
    if decision.alert is not None:
        repo.add_alert(decision.alert)
    return decision


def regrade_everyone(db: Any, now: datetime, rules: RuleBase | None = None) -> dict[str, int]:
    """The passage of time: re-grade every client (lost contact, stale screenings, reviews).

    One unit of work per counsellor, so one caseload's failure rolls back only that caseload.
    Returns counts for the log: clients graded, tiers changed, alerts raised.
    """
    counts = {"clients": 0, "changed": 0, "alerts": 0}
    with db.uow(write=False) as uow:
        counsellors = uow.counsellors.list_all()
    for actor in counsellors:
        with db.uow(write=True) as uow:
            for client in uow.clients_of(actor.id).list():
                decision = regrade_client(uow, actor, client.id, now, rules)
                counts["clients"] += 1
                if decision is not None and decision.changed:
                    counts["changed"] += 1
                if decision is not None and decision.alert is not None:
                    counts["alerts"] += 1
    return counts
