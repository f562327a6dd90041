"""The clients themselves (`uow.clients_of(counsellor_id)`): identity, numbers, names and
tags, status (trust, satisfaction, risk) and its history, the caseload's lists, forgetting."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, cast, delete, func, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.matching import folded_name
from domain.model import Client, Risk, StatusChange
from storage.base import ScopedRepo, aware, clean_text, raw_utc, rowcount
from storage.mappers import as_client, as_status_change
from storage.orm import ClientRow, ClientTagRow, CounsellorRow, MetaRow, StatusChangeRow, table_of

__all__ = ["ClientRepo"]


def _clean_tags(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        t = clean_text(str(tag).strip().lstrip("#＃"), 64, "a tag")
        if t and t not in out:
            out.append(t)
    return out


def _score(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"{what} must be a whole number from 1 to 5")
    return value


_CLIENT_COLUMNS = (
    "id, number, name_enc, sid_enc, major_enc, grade_enc, trust_enc, satisfaction_enc, "
    "risk, created_at, last_contact_at"
)
_LIST_CLIENTS = text(
    f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE counsellor_id = :c ORDER BY number"
)
_LIST_TAGS = text(
    "SELECT t.client_id, t.tag_enc FROM client_tags t JOIN clients c ON c.id = t.client_id "
    "WHERE c.counsellor_id = :c ORDER BY t.id"
)
_SOME_CLIENTS = text(
    f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE counsellor_id = :c AND id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_SOME_TAGS = text(
    "SELECT t.client_id, t.tag_enc FROM client_tags t JOIN clients c ON c.id = t.client_id "
    "WHERE c.counsellor_id = :c AND t.client_id IN :ids ORDER BY t.id"
).bindparams(bindparam("ids", expanding=True))
# `many` reads at most this many ids by an IN list (under every backend's bind-parameter
# limit); more are picked out of the whole caseload (`list`)
_MANY_LIMIT = 500


FORGOTTEN_ID = "clients_forgotten_id"  # meta: the largest client id ever forgotten (SQLite)


class ClientRepo(ScopedRepo):
    """A counsellor's clients. Reads return None for a missing (or another counsellor's)
    client; writes raise `ClientNotFound`."""

    def get(self, client_id: int) -> Client | None:
        row = self._row(client_id)
        return as_client(row) if row else None

    def get_by_number(self, number: int) -> Client | None:
        row = self._s.scalars(
            select(ClientRow).where(
                ClientRow.counsellor_id == self.counsellor_id, ClientRow.number == number
            )
        ).one_or_none()
        return as_client(self._keep(row)) if row else None

    def named(self, folded: str) -> list[Client]:
        """The clients whose folded name (`domain.matching.folded_name`) is `folded`, by
        number: one indexed lookup on the name's blind index (`add` writes it, migration 0011
        and `rotate_key` keep it; looked up under every configured key), each compared in
        the clear after decryption."""
        rows = self._s.scalars(
            select(ClientRow).where(
                ClientRow.counsellor_id == self.counsellor_id,
                ClientRow.name_key.in_(self._uow.cipher.blind_indexes(folded)),
            )
        ).all()
        found = [self._keep(row) for row in rows if folded_name(row.name) == folded]
        return [as_client(row) for row in sorted(found, key=lambda r: r.number)]

    def list(self) -> builtins.list[Client]:
        """The whole caseload by number. Every lookup by name, prefix, pinyin or initials
        matches in memory over this list (the names are encrypted: SQL cannot), so it is
        read as plain rows (two `text()` queries, no ORM objects, no per-column type
        processing) and the tokens go through the cipher's memo: a token is never rewritten
        in place, so the memo cannot go stale, and a write shows at the next read."""
        return self._plain(_LIST_CLIENTS, _LIST_TAGS, {"c": self.counsellor_id})

    def many(self, client_ids: Iterable[int]) -> dict[int, Client]:
        """These clients by id (two statements, read as `list` reads them); ids that are
        not this counsellor's are absent. Meant for the few a page shows: over 500 ids it
        reads the whole caseload instead."""
        ids = sorted(set(client_ids))
        if not ids:
            return {}
        if len(ids) > _MANY_LIMIT:
            wanted = set(ids)
            return {c.id: c for c in self.list() if c.id in wanted}
        found = self._plain(_SOME_CLIENTS, _SOME_TAGS, {"c": self.counsellor_id, "ids": ids})
        return {c.id: c for c in found}

    def _plain(
        self, clients: Any, tags_query: Any, params: dict[str, Any]
    ) -> builtins.list[Client]:
        dec = self._uow.cipher.decrypt_cached
        tags: dict[int, builtins.list[str]] = {}
        for client_id, token in self._s.execute(tags_query, params):
            tags.setdefault(client_id, []).append(dec(token))
        out = []
        for r in self._s.execute(clients, params):
            out.append(
                Client(
                    id=r[0],
                    counsellor_id=self.counsellor_id,
                    number=r[1],
                    name=dec(r[2]),
                    tags=tuple(tags.get(r[0], ())),
                    sid=None if r[3] is None else dec(r[3]),
                    major=None if r[4] is None else dec(r[4]),
                    grade=None if r[5] is None else dec(r[5]),
                    trust=None if r[6] is None else int(dec(r[6])),
                    satisfaction=None if r[7] is None else int(dec(r[7])),
                    risk=Risk(r[8]),
                    created_at=raw_utc(r[9]),
                    last_contact_at=raw_utc(r[10]),
                )
            )
        return out

    def count(self) -> int:
        """How many clients the counsellor has (one statement)."""
        return int(
            self._s.scalar(
                select(func.count())
                .select_from(ClientRow)
                .where(ClientRow.counsellor_id == self.counsellor_id)
            )
            or 0
        )

    def recent(self, limit: int = 6) -> builtins.list[Client]:
        """Most recently contacted first, then the newest created."""
        rows = self._s.scalars(
            select(ClientRow)
            .where(ClientRow.counsellor_id == self.counsellor_id)
            .order_by(
                ClientRow.last_contact_at.is_(None),
                ClientRow.last_contact_at.desc(),
                ClientRow.created_at.desc(),
                ClientRow.id.desc(),
            )
            .limit(limit)
        )
        return [as_client(r) for r in rows]

    def client_ids(self) -> builtins.list[int]:
        """The caseload's client ids, by number (one statement)."""
        return list(
            self._s.scalars(
                select(ClientRow.id)
                .where(ClientRow.counsellor_id == self.counsellor_id)
                .order_by(ClientRow.number)
            )
        )

    def history(self, client_id: int) -> builtins.list[StatusChange]:
        """Status changes, latest first (empty for an unknown client)."""
        rows = self._s.scalars(
            select(StatusChangeRow)
            .join(ClientRow, ClientRow.id == StatusChangeRow.client_id)
            .where(
                StatusChangeRow.client_id == client_id,
                ClientRow.counsellor_id == self.counsellor_id,
            )
            .order_by(StatusChangeRow.at.desc(), StatusChangeRow.id.desc())
        )
        return [as_status_change(r) for r in rows]

    def add(
        self,
        name: str,
        tags: Iterable[str],
        sid: str | None,
        major: str | None,
        grade: str | None,
        now: datetime,
    ) -> Client:
        """A new client with the counsellor's next number (1, 2, 3…; never reused)."""
        clean_name = clean_text(name, 200, "name", required=True)
        clean_tags = _clean_tags(tags or ())
        now = aware(now, "now")
        number = self._s.execute(
            update(CounsellorRow)
            .where(CounsellorRow.id == self.counsellor_id)
            .values(client_seq=CounsellorRow.client_seq + 1)
            .returning(CounsellorRow.client_seq)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if number is None:
            raise LookupError(f"counsellor {self.counsellor_id} does not exist")
        row = ClientRow(
            counsellor_id=self.counsellor_id,
            number=number,
            name=clean_name,
            name_key=self._uow.cipher.blind_index(folded_name(clean_name)),
            sid=clean_text(sid, 64, "student number"),
            major=clean_text(major, 200, "major"),
            grade=clean_text(grade, 64, "grade"),
            risk=Risk.LOW.value,
            created_at=now,
            tags=[ClientTagRow(tag=t) for t in clean_tags],
        )
        if self._uow.dialect == "sqlite" and (next_id := self._next_sqlite_id()) is not None:
            row.id = next_id
        self._s.add(row)
        self._s.flush()
        return as_client(row)

    def _next_sqlite_id(self) -> int | None:
        """SQLite gives a new row the largest id + 1: after /forget of the newest client its
        id would go to the next one, and the forgotten client's buttons still in the chat
        (map, log, tier review) would act on it. `clients` is the parent of every caseload
        table, so it cannot be rebuilt with AUTOINCREMENT in a migration; the largest id
        ever forgotten is kept in `meta` instead (`delete`) and new ids start past it."""
        floor = self._s.scalar(select(MetaRow.value).where(MetaRow.name == FORGOTTEN_ID))
        if floor is None:
            return None  # nothing forgotten yet: SQLite's own choice
        top = self._s.scalar(select(func.max(ClientRow.id))) or 0
        return max(int(floor), top) + 1

    def add_tags(self, client_id: int, tags: Iterable[str]) -> Client:
        row = self._need_row(client_id)
        have = {t.tag for t in row.tags}
        for tag in _clean_tags(tags):
            if tag not in have:
                row.tags.append(ClientTagRow(tag=tag))
                have.add(tag)
        self._s.flush()
        return as_client(row)

    def remove_tags(self, client_id: int, tags: Iterable[str]) -> Client:
        row = self._need_row(client_id)
        drop = set(_clean_tags(tags))
        row.tags = [t for t in row.tags if t.tag not in drop]
        self._s.flush()
        return as_client(row)

    def change_tags(
        self,
        client_id: int,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        by_counsellor_id: int,
        now: datetime,
    ) -> builtins.list[StatusChange]:
        """Add and remove tags, keeping each actual change in the status history
        (field "tag": None → tag when added, tag → None when cleared)."""
        row = self._need_row(client_id)
        now = aware(now, "now")
        have = {t.tag for t in row.tags}
        changed: builtins.list[StatusChangeRow] = []
        drop = [t for t in _clean_tags(remove) if t in have]
        if drop:
            row.tags = [t for t in row.tags if t.tag not in set(drop)]
            have -= set(drop)
        for tag in drop:
            changed.append(
                StatusChangeRow(
                    client_id=row.id,
                    counsellor_id=by_counsellor_id,
                    at=now,
                    field="tag",
                    old=tag,
                    new=None,
                )
            )
        for tag in _clean_tags(add):
            if tag not in have:
                row.tags.append(ClientTagRow(tag=tag))
                have.add(tag)
                changed.append(
                    StatusChangeRow(
                        client_id=row.id,
                        counsellor_id=by_counsellor_id,
                        at=now,
                        field="tag",
                        old=None,
                        new=tag,
                    )
                )
        for change in changed:
            self._s.add(change)
        self._s.flush()
        return [as_status_change(c) for c in changed]

    def set_status(
        self,
        client_id: int,
        *,
        by_counsellor_id: int,
        now: datetime,
        trust: int | None = None,
        satisfaction: int | None = None,
        risk: Risk | str | None = None,
    ) -> builtins.list[StatusChange]:
        """Set the given fields; returns (and records in the history) only those that
        actually changed. None means "leave as is"."""
        row = self._need_row(client_id)
        now = aware(now, "now")
        wanted: builtins.list[tuple[str, Any]] = []
        if trust is not None:
            wanted.append(("trust", _score(trust, "trust")))
        if satisfaction is not None:
            wanted.append(("satisfaction", _score(satisfaction, "satisfaction")))
        if risk is not None:
            try:
                wanted.append(("risk", Risk(risk).value))
            except ValueError:
                raise ValueError("risk must be one of low, medium, high, crisis") from None
        changed: builtins.list[StatusChangeRow] = []
        for field, new in wanted:
            old = getattr(row, field)
            if old == new:
                continue
            setattr(row, field, new)
            change = StatusChangeRow(
                client_id=row.id,
                counsellor_id=by_counsellor_id,
                at=now,
                field=field,
                old=None if old is None else str(old),
                new=str(new),
            )
            self._s.add(change)
            changed.append(change)
        self._s.flush()
        return [as_status_change(c) for c in changed]

    def delete(self, client_id: int) -> bool:
        """Forget the client completely (needs, interactions, plan, history, tags,
        referrals, screenings, grades, tier history and alerts cascade). False if this counsellor has no such client."""
        result = self._s.execute(
            delete(ClientRow)
            .where(ClientRow.id == client_id, ClientRow.counsellor_id == self.counsellor_id)
            .execution_options(synchronize_session="fetch")
        )
        deleted = rowcount(result) == 1
        if deleted and self._uow.dialect == "sqlite":  # its id is never given again (`add`)
            meta = table_of(MetaRow)
            stmt = sqlite_insert(meta).values(name=FORGOTTEN_ID, value=str(client_id))
            self._s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name"],
                    set_={"value": func.max(cast(meta.c.value, Integer), client_id)},
                )
            )
        return deleted
