"""Counts for `/overview` (issue 15), scoped to one counsellor; no free text is read."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from storage.base import aware
from storage.orm import ClientRow, InteractionRow

if TYPE_CHECKING:
    from storage.uow import UnitOfWork


def contact_times(uow: UnitOfWork, counsellor_id: int, since: datetime) -> list[datetime]:
    """When the counsellor's clients were contacted since `since` (attempts logged
    outcome=unreached are not contacts)."""
    return list(
        uow.session.scalars(
            select(InteractionRow.at)
            .join(ClientRow, ClientRow.id == InteractionRow.client_id)
            .where(
                ClientRow.counsellor_id == counsellor_id,
                InteractionRow.at >= aware(since, "since"),
                or_(InteractionRow.outcome.is_(None), InteractionRow.outcome != "unreached"),
            )
        )
    )
