"""What every repository shares: the base classes and the checks on values coming in.

Repositories take and return domain dataclasses (`domain.model`) or the small DTOs in
`storage.dto`, never ORM objects. Free text is encrypted on the way in and decrypted on
the way out. Datetimes must be timezone-aware (`aware`); they come back in UTC.

    Repo         a repository over the unit of work's session and cipher
    ScopedRepo   a Repo scoped to one counsellor's caseload (clients, records, clinical):
                 another counsellor's client is simply "not found"
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from sqlalchemy import CursorResult, Result, case, select
from sqlalchemy.orm import Session

from domain.model import Risk
from storage.errors import ClientNotFound
from storage.orm import ClientRow

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

__all__ = ["Repo", "ScopedRepo", "aware", "aware_opt", "clean_text", "risk_rank", "rowcount"]


def aware(value: datetime, what: str) -> datetime:
    """`value` in UTC; TypeError unless a datetime, ValueError if it is naive."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{what} must be timezone-aware (naive datetimes are refused)")
    return value.astimezone(UTC)


def aware_opt(value: datetime | None, what: str) -> datetime | None:
    """`aware`, letting None through."""
    return None if value is None else aware(value, what)


@overload
def clean_text(value: str | None, limit: int, what: str, *, required: Literal[True]) -> str: ...


@overload
def clean_text(
    value: str | None, limit: int, what: str, *, required: bool = False
) -> str | None: ...


def clean_text(value: str | None, limit: int, what: str, *, required: bool = False) -> str | None:
    """Stripped `value`, None if empty (ValueError instead when `required`); ValueError when
    longer than `limit` characters."""
    if value is None:
        if required:
            raise ValueError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string")
    value = value.strip()
    if required and not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{what} is too long (at most {limit} characters)")
    return value or None


def risk_rank(column: Any) -> Any:
    """SQL for `Risk(column).rank` (0 low … 3 crisis; 0 for anything else), to order by risk
    in SQL as `domain.model.Risk.rank` does in memory."""
    return case({r.value: r.rank for r in Risk}, value=column, else_=0)


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (`Session.execute` returns a CursorResult
    for them, typed as any Result)."""
    return int(cast("CursorResult[Any]", result).rowcount)


def raw_utc(value: Any) -> datetime | None:
    """A raw instant column (naive UTC text on SQLite, timestamptz on PostgreSQL) → aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Repo:
    """A repository of the unit of work `uow` (its session and its cipher)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _s(self) -> Session:
        return self._uow.session

    def _enc(self, text: str) -> str:
        return self._uow.cipher.encrypt(text)

    def _dec(self, token: str) -> str:
        return self._uow.cipher.decrypt(token)


class ScopedRepo(Repo):
    """A repository over one counsellor's caseload. Every query filters on counsellor_id:
    another counsellor's client is simply "not found". Reads return None (or nothing) for a
    missing client; writes raise `ClientNotFound`."""

    def __init__(self, uow: UnitOfWork, counsellor_id: int) -> None:
        super().__init__(uow)
        self.counsellor_id = counsellor_id

    def _row(self, client_id: int) -> ClientRow | None:
        # the session's identity map first: a use case touches its client several times
        # (the interaction, the status, the grades, the tier change) and each used to
        # re-select the row and its tags; a deleted client leaves the map (`delete`)
        row = self._s.get(ClientRow, client_id)
        if row is None or row.counsellor_id != self.counsellor_id:
            return None
        return self._keep(row)

    def _keep(self, row: ClientRow) -> ClientRow:
        """The identity map holds clean rows weakly: keep this one for the session's life,
        so the use case's next `_row` of the client is not another SELECT."""
        self._s.info.setdefault("caremap_client_rows", {})[row.id] = row
        return row

    def _need_row(self, client_id: int) -> ClientRow:
        row = self._row(client_id)
        if row is None:
            raise ClientNotFound(f"client {client_id} not found")
        return row

    def _owned(self, client_id: int) -> Any:
        """A WHERE clause: the client exists and belongs to this counsellor (for queries
        on child tables that do not load the client row)."""
        return (
            select(ClientRow.id)
            .where(ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id)
            .exists()
        )

    def _owned_by_client_id(self, column: Any) -> Any:
        """A WHERE clause: `column` (a client_id) is one of this counsellor's clients."""
        return column.in_(select(ClientRow.id).where(ClientRow.counsellor_id == self.counsellor_id))
