"""Dedupe keys of the outbox, built in ONE place.

Every outbox row has a unique dedupe key (a re-scan never enqueues a message twice). The
keys are built here and nowhere else, and they are matched either exactly or by a prefix
that ends with the separator, so that "alert 1" can never match alert 10, 11 or 100:

    alert(1)          == "alert:1"          (exact)
    realerts_of(1)    == "realert:1:"       (prefix, ends with ":")

`matching(column, *keys)` is the one SQL condition for them (`OutboxRepo.cancel`, the
copies of an alert in `TeamRepo`): a key ending with ":" is a prefix, anything else is
matched exactly.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import String, cast, literal, or_

SEP = ":"

__all__ = [
    "SEP",
    "agenda",
    "alert",
    "alert_family",
    "alert_sql",
    "cadence",
    "cadence_snooze",
    "escalation",
    "escalations_of",
    "digest",
    "is_prefix",
    "matching",
    "plan",
    "plan_family",
    "realert",
    "realerts_of",
    "review",
]


def _id(value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"dedupe key ids are whole numbers ≥ 0, not {value!r}")
    return str(value)


def is_prefix(key: str) -> bool:
    """A key ending with the separator matches every key that starts with it."""
    return key.endswith(SEP)


def matching(column: Any, *keys: str) -> Any:
    """A SQL condition: the dedupe key `column` matches any of `keys` — a key ending with the
    separator as a prefix (`%` and `_` literal), any other exactly. ValueError for no key,
    an empty key or the bare separator (which would match everything)."""
    if not keys:
        raise ValueError("at least one dedupe key is needed")
    conditions = []
    for key in keys:
        if not isinstance(key, str) or not key or key == SEP:
            raise ValueError("dedupe keys must be non-empty")
        if is_prefix(key):
            conditions.append(column.startswith(key, autoescape=True))
        else:
            conditions.append(column == key)
    return or_(*conditions)


# --- follow-ups from the plan --------------------------------------------------------------


def plan(plan_id: int, due_at: datetime) -> str:
    """One reminder per due time of a plan item (a snooze gives a new due time, a new key)."""
    return f"plan{SEP}{_id(plan_id)}{SEP}{due_at.isoformat()}"


def plan_family(plan_id: int) -> str:
    """Prefix: every reminder of plan item `plan_id` (and of no other)."""
    return f"plan{SEP}{_id(plan_id)}{SEP}"


# --- alerts --------------------------------------------------------------------------------


def alert(alert_id: int) -> str:
    """The first push of an alert (exact key)."""
    return f"alert{SEP}{_id(alert_id)}"


def alert_sql(alert_id: Any) -> Any:
    """`alert(id)` as a SQL expression of an alert id column (the planner's anti-join)."""
    return literal(f"alert{SEP}", String) + cast(alert_id, String)


def realert(alert_id: int, n: int) -> str:
    return f"realert{SEP}{_id(alert_id)}{SEP}{_id(n)}"


def realerts_of(alert_id: int) -> str:
    return f"realert{SEP}{_id(alert_id)}{SEP}"


def escalation(alert_id: int, target_id: int) -> str:
    return f"escalation{SEP}{_id(alert_id)}{SEP}{_id(target_id)}"


def escalations_of(alert_id: int) -> str:
    return f"escalation{SEP}{_id(alert_id)}{SEP}"


def alert_family(alert_id: int) -> tuple[str, ...]:
    """Every row that exists because of alert `alert_id`: its push (exact), its repeats and
    its escalations (prefixes ending with the separator)."""
    return (alert(alert_id), realerts_of(alert_id), escalations_of(alert_id))


# --- the rest --------------------------------------------------------------------------------


def cadence(client_id: int, due: date) -> str:
    return f"cadence{SEP}{_id(client_id)}{SEP}{due.isoformat()}"


def review(client_id: int, due_at: datetime) -> str:
    return f"review{SEP}{_id(client_id)}{SEP}{due_at.isoformat()}"


def agenda(counsellor_id: int, day: date) -> str:
    return f"agenda{SEP}{_id(counsellor_id)}{SEP}{day.isoformat()}"


def cadence_snooze(client_id: int, until: datetime) -> str:
    """A "该联系" reminder put off by the counsellor, due again at `until`."""
    return f"cadence-snooze{SEP}{_id(client_id)}{SEP}{until.isoformat()}"


def digest(counsellor_id: int, day: date) -> str:
    """The supervisor digest of one recipient for one local day (issue 11)."""
    return f"digest{SEP}{_id(counsellor_id)}{SEP}{day.isoformat()}"
