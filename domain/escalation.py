"""Who receives a counsellor's unacknowledged alerts (issue 11). Pure.

The counsellor's supervisor when one is set (and is someone else); otherwise every admin
but the counsellor. An empty answer means nobody: the counsellor is the only admin and has
no supervisor — the alert, `/start`, `/settings` and `/team` say so, never silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.model import Counsellor


def escalation_targets(
    counsellor: Counsellor, supervisor: Counsellor | None, admins: Iterable[Counsellor]
) -> list[Counsellor]:
    if supervisor is not None and supervisor.id != counsellor.id:
        return [supervisor]
    return [a for a in admins if a.id != counsellor.id]


def fallback_targets(
    counsellor: Counsellor, unreachable: Counsellor, admins: Iterable[Counsellor]
) -> list[Counsellor]:
    """Who receives the escalation instead when `unreachable` cannot be (they blocked the
    bot): every admin but the counsellor and the unreachable one."""
    return [a for a in admins if a.id not in (counsellor.id, unreachable.id)]


def supervisees(recipient: Counsellor, everyone: Iterable[Counsellor]) -> list[Counsellor]:
    """The counsellors whose unacknowledged alerts go to `recipient` (by id)."""
    people = list(everyone)
    by_id = {c.id: c for c in people}
    admins = [c for c in people if c.is_admin]
    out = []
    for c in people:
        supervisor = by_id.get(c.supervisor_id) if c.supervisor_id is not None else None
        if any(t.id == recipient.id for t in escalation_targets(c, supervisor, admins)):
            out.append(c)
    return out


__all__ = ["escalation_targets", "fallback_targets", "supervisees"]
