"""Supervision: the team seen by the admins (issue 11): each counsellor's supervisor, who receives their
unacknowledged alerts, open crisis alerts and clients past their latest contact date.

Kept small on purpose: issue 14 adds deactivate / hand over a caseload here (a `TeamLine`
per counsellor is what `/team` shows; new actions take a counsellor's Telegram id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.errors import CommandError
from domain.escalation import escalation_targets, supervisees
from domain.model import Counsellor
from storage.db import Database
from storage.team import CounsellorLoad
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class TeamLine:
    load: CounsellorLoad
    escalates_to: tuple[Counsellor, ...]  # empty: nobody (a lone admin without supervisor)

    @property
    def counsellor(self) -> Counsellor:
        return self.load.counsellor


def _lines(uow: UnitOfWork, now: datetime, ids: list[int] | None = None) -> list[TeamLine]:
    everyone = uow.counsellors.list_all()
    by_id = {c.id: c for c in everyone}
    admins = [c for c in everyone if c.is_admin]
    out = []
    for load in uow.team.loads(now, ids):
        c = load.counsellor
        supervisor = by_id.get(c.supervisor_id) if c.supervisor_id is not None else None
        out.append(TeamLine(load, tuple(escalation_targets(c, supervisor, admins))))
    return out


def team(db: Database, actor: Counsellor, now: datetime) -> list[TeamLine]:
    """Admins only: every counsellor, by id."""
    if not actor.is_admin:
        raise CommandError("admin_only", what="team")
    with db.uow(write=False) as uow:
        return _lines(uow, now)


def unsupervised(db: Database, actor: Counsellor, now: datetime) -> list[TeamLine]:
    """For an admin's /start and /settings: the counsellors with no supervisor set (their
    escalations go to the admins, or to nobody). Empty for everyone else."""
    if not actor.is_admin:
        return []
    with db.uow(write=False) as uow:
        ids = [c.id for c in uow.team.unsupervised()]
        return _lines(uow, now, ids) if ids else []


def escalation_of(db: Database, actor: Counsellor, now: datetime) -> TeamLine | None:
    """Who receives the actor's own unacknowledged alerts (shown in their /settings)."""
    with db.uow(write=False) as uow:
        lines = _lines(uow, now, [actor.id])
        return lines[0] if lines else None


@dataclass(frozen=True)
class Digest:
    """What a supervisor's daily digest says: the supervised counsellors that have an
    unacknowledged crisis alert or a high/crisis client past latest contact."""

    lines: tuple[CounsellorLoad, ...]

    def __bool__(self) -> bool:
        return bool(self.lines)


def digest_for(uow: UnitOfWork, recipient: Counsellor, now: datetime) -> Digest:
    """Inside the caller's unit of work (the reminders planner and composer)."""
    ids = [c.id for c in supervisees(recipient, uow.counsellors.list_all())]
    loads = uow.team.loads(now, ids) if ids else []
    return Digest(tuple(ld for ld in loads if ld.open_crisis or ld.high_past_contact))


__all__ = ["Digest", "TeamLine", "digest_for", "escalation_of", "team", "unsupervised"]
