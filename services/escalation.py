"""Who receives a counsellor's unacknowledged alerts, read from the database (the rule
itself is pure: domain.escalation)."""

from __future__ import annotations

from domain.escalation import escalation_targets as domain_escalation_targets
from domain.model import Counsellor
from storage.uow import UnitOfWork


def escalation_targets(uow: UnitOfWork, counsellor: Counsellor) -> list[Counsellor]:
    """The counsellor's supervisor; the admins when none is set (never the counsellor);
    empty for a lone admin without a supervisor (see domain.escalation)."""
    supervisor = (
        uow.counsellors.get(counsellor.supervisor_id)
        if counsellor.supervisor_id is not None
        else None
    )
    return domain_escalation_targets(counsellor, supervisor, uow.counsellors.list_admins())


__all__ = ["escalation_targets"]
