"""The unit of work: one Session, one transaction, the repositories over it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage.caseload import CaseloadStore
from storage.crypto import Cipher
from storage.outbox import OutboxRepo, ScanRepo
from storage.repositories import (
    ClientRepo,
    CounsellorRepo,
    InviteRepo,
    PendingRepo,
    UpdateRepo,
)
from storage.series import DetailsRepo, SeriesRepo, SeriesScan
from storage.team import TeamRepo


class UnitOfWork:
    """Obtained from `Database.uow()`; do not construct directly.

    `uow.counsellors`, `uow.invites`, `uow.pending`, `uow.updates`,
    `uow.clients_of(counsellor_id)` (a repository scoped to one counsellor's caseload),
    `uow.outbox` (due messages as rows) and `uow.scan` (the reminders scheduler's
    cross-counsellor reads; never used by handlers), `uow.team` (an alert's copies, the
    admins' team overview, the supervisor digest).
    """

    def __init__(self, session: Session, cipher: Cipher, *, dialect: str) -> None:
        self._session: Session | None = session
        self.cipher = cipher
        self.dialect = dialect
        self.counsellors = CounsellorRepo(self)
        self.invites = InviteRepo(self)
        self.pending = PendingRepo(self)
        self.updates = UpdateRepo(self)
        self.outbox = OutboxRepo(self)
        self.scan = ScanRepo(self)
        self.series_scan = SeriesScan(self)
        self.team = TeamRepo(self)  # supervision reads (issue 11)

    @property
    def session(self) -> Session:
        """Storage-internal. Raises once the unit of work has ended, so a repository kept
        past its `with` block cannot silently open a transaction nobody commits."""
        if self._session is None:
            raise RuntimeError("this unit of work has ended; open a new one with db.uow()")
        return self._session

    def clients_of(self, counsellor_id: int) -> ClientRepo:
        return ClientRepo(self, counsellor_id)

    def series_of(self, counsellor_id: int) -> SeriesRepo:
        """Recurring follow-ups (storage/series.py), scoped to one counsellor."""
        return SeriesRepo(self, counsellor_id)

    def details_of(self, counsellor_id: int) -> DetailsRepo:
        """Roster fields and value-tier inputs (storage/series.py), scoped to one counsellor."""
        return DetailsRepo(self, counsellor_id)

    def caseload_of(self, counsellor_id: int) -> CaseloadStore:
        """Whole-caseload reads and the undo/forget helpers, scoped to one counsellor."""
        return CaseloadStore(self, counsellor_id)

    def flush(self) -> None:
        self.session.flush()

    def _close(self) -> None:
        self._session = None
