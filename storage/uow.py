"""The unit of work: one Session, one transaction, the repositories over it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage.caseload import CaseloadStore
from storage.clients import ClientRepo
from storage.clinical import ClinicalRepo
from storage.counsellors import CounsellorRepo, InviteRepo
from storage.crisis import CrisisRepo
from storage.crypto import Cipher
from storage.inbox import InboxRepo
from storage.outbox import OutboxRepo, ScanRepo
from storage.pending import PendingRepo
from storage.records import RecordRepo
from storage.series import DetailsRepo, SeriesRepo, SeriesScan
from storage.staff import StaffRepo
from storage.team import TeamRepo
from storage.updates import UpdateRepo


class UnitOfWork:
    """Obtained from `Database.uow()`; do not construct directly.

    `uow.counsellors`, `uow.invites`, `uow.pending`, `uow.updates`,
    three repositories scoped to one counsellor's caseload, one per aggregate:
    `uow.clients_of(counsellor_id)` (the clients themselves: identity, tags, status, lists),
    `uow.records_of(counsellor_id)` (interactions, needs, referrals, the plan),
    `uow.clinical_of(counsellor_id)` (screenings, grades, tier history, alerts);
    `uow.outbox` (due messages as rows) and `uow.scan` (the reminders scheduler's
    cross-counsellor reads; never used by handlers), `uow.team` (an alert's copies, the
    admins' team overview, the supervisor digest), `uow.staff` (deactivation, caseload
    handover, invites and the audit trail; admin paths only).
    """

    def __init__(self, session: Session, cipher: Cipher, *, dialect: str) -> None:
        self._session: Session | None = session
        self.cipher = cipher
        self.dialect = dialect
        # urgent outbox rows enqueued in this unit of work: announced after its commit
        self.urgent_outbox_ids: list[int] = []
        self.counsellors = CounsellorRepo(self)
        self.invites = InviteRepo(self)
        self.pending = PendingRepo(self)
        self.updates = UpdateRepo(self)
        self.inbox = InboxRepo(self)
        self.outbox = OutboxRepo(self)
        self.scan = ScanRepo(self)
        self.series_scan = SeriesScan(self)
        self.team = TeamRepo(self)  # supervision reads (issue 11)
        self.staff = StaffRepo(self)  # deactivation, handover, invites, audit (issue 14)

    @property
    def session(self) -> Session:
        """Storage-internal. Raises once the unit of work has ended, so a repository kept
        past its `with` block cannot silently open a transaction nobody commits."""
        if self._session is None:
            raise RuntimeError("this unit of work has ended; open a new one with db.uow()")
        return self._session

    def clients_of(self, counsellor_id: int) -> ClientRepo:
        """The clients themselves (storage/clients.py), scoped to one counsellor."""
        return ClientRepo(self, counsellor_id)

    def records_of(self, counsellor_id: int) -> RecordRepo:
        """Interactions, needs, referrals and the plan (storage/records.py), scoped to one
        counsellor."""
        return RecordRepo(self, counsellor_id)

    def clinical_of(self, counsellor_id: int) -> ClinicalRepo:
        """Screenings, grades, tier history and alerts (storage/clinical.py), scoped to one
        counsellor."""
        return ClinicalRepo(self, counsellor_id)

    def series_of(self, counsellor_id: int) -> SeriesRepo:
        """Recurring follow-ups (storage/series.py), scoped to one counsellor."""
        return SeriesRepo(self, counsellor_id)

    def details_of(self, counsellor_id: int) -> DetailsRepo:
        """Roster fields and value-tier inputs (storage/series.py), scoped to one counsellor."""
        return DetailsRepo(self, counsellor_id)

    def caseload_of(self, counsellor_id: int) -> CaseloadStore:
        """Whole-caseload reads and the undo/forget helpers, scoped to one counsellor."""
        return CaseloadStore(self, counsellor_id)

    def crisis_of(self, counsellor_id: int) -> CrisisRepo:
        """Safety checks and risk-phrase signals, scoped to one counsellor (issue 11)."""
        return CrisisRepo(self, counsellor_id)

    def flush(self) -> None:
        self.session.flush()

    def _close(self) -> None:
        self._session = None
