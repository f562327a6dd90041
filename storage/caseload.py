"""Whole-caseload storage for /find, /export, /forget and /undo, scoped to one counsellor.

Every query joins (or filters) on `clients.counsellor_id`, so another counsellor's rows are
never read, counted, changed or deleted. Free text is decrypted in memory only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, inspect, select, text, update

from domain.model import Risk
from storage import export as export_store
from storage.base import Repo, aware, raw_utc, rowcount
from storage.orm import (
    AlertRow,
    ClientDetailsRow,
    ClientRow,
    ClientTagRow,
    InteractionRow,
    NeedRow,
    OutboxRow,
    PlanItemRow,
    PlanSeriesRow,
    ReferralRow,
    RiskSignalRow,
    SafetyCheckRow,
    ScreeningRow,
    StatusChangeRow,
    TierChangeRow,
    table_of,
)
from storage.sqltypes import EncryptedInt, EncryptedText

_ENCRYPTED = (EncryptedText, EncryptedInt)

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

# export file name → table; each child table's rows carry the client's number and name
EXPORT_TABLES: tuple[tuple[str, Any], ...] = (
    ("interactions", InteractionRow),
    ("needs", NeedRow),
    ("plan", PlanItemRow),
    ("status_history", StatusChangeRow),
    ("screenings", ScreeningRow),
    ("tier_history", TierChangeRow),
    ("referrals", ReferralRow),
    ("safety_checks", SafetyCheckRow),  # issue 11
    ("risk_signals", RiskSignalRow),
    ("recurring_plans", PlanSeriesRow),  # issue 15
    ("client_details", ClientDetailsRow),  # issue 15: dorm, phone, payer, payment capacity
)

# what /forget counts before it deletes (all go by ON DELETE CASCADE from clients)
COUNTED: tuple[tuple[str, Any], ...] = (
    ("interactions", InteractionRow),
    ("needs", NeedRow),
    ("plan", PlanItemRow),
    ("status", StatusChangeRow),
    ("screenings", ScreeningRow),
    ("tiers", TierChangeRow),
    ("alerts", AlertRow),
    ("referrals", ReferralRow),
    ("reminders", OutboxRow),
    ("safety_checks", SafetyCheckRow),  # issue 11
    ("risk_signals", RiskSignalRow),
)


# /find: each kind of free text, as stored (plain rows: decrypted by `texts`)
_TEXTS = tuple(
    (
        kind,
        text(
            f"SELECT t.client_id, t.{at}, t.{col} FROM {table} t JOIN clients c ON c.id = t.client_id "
            "WHERE c.counsellor_id = :c"
        ),
    )
    for kind, table, at, col in (
        ("note", "interactions", "at", "notes_enc"),
        ("need", "needs", "created_at", "text_enc"),
        ("plan", "plan_items", "created_at", "text_enc"),
    )
)


@dataclass(frozen=True)
class TextHit:
    """One decrypted piece of free text of a client, for /find."""

    client_id: int
    kind: str  # "note" | "need" | "plan"
    at: datetime
    text: str


def _client_attrs() -> list[str]:
    """The client's columns in the export, as ORM attribute names (decrypted values)."""
    mapper = inspect(ClientRow)
    return [
        mapper.get_property_by_column(c).key
        for c in table_of(ClientRow).columns
        if c.name not in ("counsellor_id", "name_key")  # the name's blind index: not data
    ]


def _export_tables() -> list[tuple[str, Any, list[Any]]]:
    """Each child table of the export with its columns (all but `client_id`)."""
    return [
        (name, model.__table__, [c for c in model.__table__.columns if c.name != "client_id"])
        for name, model in EXPORT_TABLES
    ]


class CaseloadStore(Repo):
    def __init__(self, uow: UnitOfWork, counsellor_id: int) -> None:
        super().__init__(uow)
        self.counsellor_id = counsellor_id

    def _owned(self, client_id: int) -> bool:
        return (
            self._s.scalar(
                select(ClientRow.id).where(
                    ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id
                )
            )
            is not None
        )

    # -- /find -------------------------------------------------------------------------

    def texts(self, contains: Callable[[str], bool] | None = None) -> list[TextHit]:
        """Every note, need and plan item of the caseload, decrypted, latest first; with
        `contains`, only those whose text it accepts. Plain rows (`text()`, no per-row type
        processing), each table's tokens decrypted in one `Cipher.decrypt_many`: /find over
        50,000 notes spends its time decrypting, not building rows."""
        out: list[TextHit] = []
        params = {"c": self.counsellor_id}
        for kind, query in _TEXTS:
            rows = self._s.execute(query, params).all()
            plains = self._uow.cipher.decrypt_many([token for _, _, token in rows])
            for (client_id, when, _), plain in zip(rows, plains, strict=True):
                at = raw_utc(when)  # (every text's time column is NOT NULL)
                if at is not None and (contains is None or contains(plain)):
                    out.append(TextHit(client_id, kind, at, plain))
        out.sort(key=lambda h: h.at, reverse=True)
        return out

    # -- /export -----------------------------------------------------------------------

    def export_columns(self) -> list[tuple[str, list[str]]]:
        """The export's files in order (clients first, then one per child table), each with
        its header. Columns ending in `_enc` lose the suffix (their values are decrypted)."""
        return [
            ("clients", [*_client_attrs(), "tags"]),
            *(
                (
                    name,
                    ["client_number", "client_name"] + [c.name.removesuffix("_enc") for c in cols],
                )
                for name, _, cols in _export_tables()
            ),
        ]

    def export_batches(self, size: int | None = None) -> Iterator[tuple[str, list[list[Any]]]]:
        """The whole caseload as `(file, rows)` pieces, `size` clients at a time, each file's
        pieces in its order: the clients by number (one statement per batch, plus their
        tags), then the child tables' rows by client id and row id, the clients taken by
        id (one statement per batch for the clients' numbers and names, then one per
        table). Keyset pagination: nothing of the caseload is held between batches. Run it
        in one read unit of work with `snapshot=True` (one state of the data throughout)."""
        size = export_store.EXPORT_BATCH if size is None else size
        if not 0 < size <= export_store.EXPORT_BATCH:
            raise ValueError(f"from 1 to {export_store.EXPORT_BATCH} clients per batch")
        s, c = self._s, self.counsellor_id
        attrs = _client_attrs()
        after = 0
        while True:
            clients = list(
                s.scalars(
                    select(ClientRow)
                    .where(ClientRow.counsellor_id == c, ClientRow.number > after)
                    .order_by(ClientRow.number)
                    .limit(size)
                )
            )
            if clients:
                yield (
                    "clients",
                    [
                        [getattr(r, col) for col in attrs] + [" ".join(t.tag for t in r.tags)]
                        for r in clients
                    ],
                )
                after = clients[-1].number
                s.expunge_all()
            if len(clients) < size:
                break
        tables = _export_tables()
        after = 0
        while True:
            who = s.execute(
                select(ClientRow.id, ClientRow.number, ClientRow.name)
                .where(ClientRow.counsellor_id == c, ClientRow.id > after)
                .order_by(ClientRow.id)
                .limit(size)
            ).all()
            if not who:
                break
            by_id = {r[0]: (r[1], r[2]) for r in who}
            ids = list(by_id)
            for name, table, cols in tables:
                order = [table.c.client_id] + ([table.c.id] if "id" in table.c else [])
                rows = []
                for r in s.execute(
                    select(table).where(table.c.client_id.in_(ids)).order_by(*order)
                ).mappings():
                    number, client_name = by_id[r["client_id"]]
                    # `*_enc` columns of the Encrypted* types come back decrypted already
                    values = [
                        self._dec(r[col.name])
                        if col.name.endswith("_enc")
                        and r[col.name]
                        and not isinstance(col.type, _ENCRYPTED)
                        else r[col.name]
                        for col in cols
                    ]
                    rows.append([number, client_name, *values])
                yield name, rows
            after = ids[-1]
            if len(who) < size:
                break

    # -- /forget -----------------------------------------------------------------------

    def counts(self, client_id: int) -> dict[str, int]:
        """How many rows of each kind hang off the client (zeros if not this counsellor's)."""
        if not self._owned(client_id):
            return {name: 0 for name, _ in COUNTED}
        return {
            name: int(
                self._s.scalar(
                    select(func.count()).select_from(model).where(model.client_id == client_id)
                )
                or 0
            )
            for name, model in COUNTED
        }

    # -- /undo -------------------------------------------------------------------------

    def has_records(self, client_id: int) -> bool:
        """Anything recorded for the client besides the client row itself."""
        return any(
            n
            for k, n in self.counts(client_id).items()
            if k not in ("tiers", "alerts", "reminders")
        )

    def delete_screening(self, client_id: int, instrument: str, at: datetime) -> int:
        """Remove the screening of `instrument` taken at `at` (an /undo)."""
        if not self._owned(client_id):
            return 0
        result = self._s.execute(
            delete(ScreeningRow)
            .where(
                ScreeningRow.client_id == client_id,
                ScreeningRow.instrument == instrument,
                ScreeningRow.at == aware(at, "at"),
            )
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result)

    def delete_children(self, model: Any, ids: Iterable[int], client_id: int) -> int:
        ids = [int(i) for i in ids]
        if not ids or not self._owned(client_id):
            return 0
        result = self._s.execute(
            delete(model)
            .where(model.id.in_(ids), model.client_id == client_id)
            .execution_options(synchronize_session="fetch")
        )
        return rowcount(result)

    def revert_status(self, client_id: int, changes: Sequence[dict[str, Any]]) -> int:
        """Put back the old values of the given status changes (latest first) and remove
        them from the history. A field changed again since is left alone."""
        row = self._s.scalars(
            select(ClientRow).where(
                ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id
            )
        ).one_or_none()
        if row is None:
            return 0
        done = 0
        for ch in reversed(list(changes)):
            field, old, new = ch["field"], ch.get("old"), ch.get("new")
            if field == "tag":
                have = {t.tag for t in row.tags}
                if new is not None and new in have:
                    row.tags = [t for t in row.tags if t.tag != new]
                if old is not None and old not in have:
                    row.tags.append(ClientTagRow(tag=old))
            elif field in ("trust", "satisfaction", "risk"):
                current = getattr(row, field)
                if (None if current is None else str(current)) != new:
                    continue
                if field == "risk":
                    setattr(row, field, Risk(old or "low").value)
                else:
                    setattr(row, field, None if old is None else int(old))
            else:
                continue
            done += 1
        ids = [int(ch["id"]) for ch in changes if ch.get("id") is not None]
        if ids:
            self._s.execute(
                delete(StatusChangeRow)
                .where(StatusChangeRow.id.in_(ids), StatusChangeRow.client_id == client_id)
                .execution_options(synchronize_session="fetch")
            )
        self._s.flush()
        return done

    def refresh_last_contact(self, client_id: int) -> None:
        """last_contact_at = the latest remaining interaction (None if none)."""
        latest = self._s.scalar(
            select(func.max(InteractionRow.at)).where(InteractionRow.client_id == client_id)
        )
        self._s.execute(
            update(ClientRow)
            .where(ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id)
            .values(last_contact_at=latest)
            .execution_options(synchronize_session="fetch")
        )

    def drop_alerts_since(self, client_id: int, since: datetime) -> list[int]:
        """Unacknowledged alerts of the client raised at or after `since`: deleted, ids returned."""
        ids = list(
            self._s.scalars(
                select(AlertRow.id).where(
                    AlertRow.client_id == client_id,
                    AlertRow.counsellor_id == self.counsellor_id,
                    AlertRow.acknowledged_at.is_(None),
                    AlertRow.raised_at >= aware(since, "since"),
                )
            )
        )
        if ids:
            self._s.execute(
                delete(AlertRow)
                .where(AlertRow.id.in_(ids))
                .execution_options(synchronize_session="fetch")
            )
        return ids
