"""Caseload-wide use cases: /find, /export, /forget (/undo is services/undo.py).

Each function is one unit of work scoped to the acting counsellor: another counsellor's
client is never found, exported, deleted or undone.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain import grammar
from domain.matching import match_client
from domain.model import Client, Counsellor
from services.clients import resolve_client
from storage.db import Database
from storage.dto import Pending
from storage.tiering_codec import decode_reasons
from storage.uow import UnitOfWork

FORGET_TTL = timedelta(hours=1)
FIND_MAX = 200
SNIPPET_BEFORE = 30
SNIPPET_AFTER = 60


# --- /find --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindRow:
    client: Client
    where: str  # name | sid | major | grade | tag | note | need | plan
    before: str
    match: str
    after: str
    at: datetime | None
    more: int  # further hits for the same client


def _norm(text: str) -> str:
    return " ".join(text.split())


def _snippet(text: str, pattern: re.Pattern[str]) -> tuple[str, str, str] | None:
    flat = _norm(text)
    m = pattern.search(flat)
    if m is None:
        return None
    start, end = m.span()
    before = flat[max(0, start - SNIPPET_BEFORE) : start]
    after = flat[end : end + SNIPPET_AFTER]
    if start > SNIPPET_BEFORE:
        before = "…" + before
    if end + SNIPPET_AFTER < len(flat):
        after = after + "…"
    return before, flat[start:end], after


def find(db: Database, actor: Counsellor, text: str) -> list[FindRow]:
    """Clients of this counsellor whose name (or pinyin), number, major, tags or decrypted
    notes, needs and plan items contain `text`; the latest hit first."""
    query = _norm(text)
    if not query:
        return []
    pattern = re.compile(re.escape(query), re.IGNORECASE)
    with db.uow(write=False) as uow:
        clients = uow.clients_of(actor.id).list()
        # only the texts that hold the query are kept (not 50,000 decrypted notes): a query
        # without spaces is found in the raw text exactly when in the text with its spacing
        # evened out (what `_snippet` searches), so only a query with spaces needs `_norm`
        spaced = " " in query
        texts = uow.caseload_of(actor.id).texts(
            lambda t: pattern.search(_norm(t) if spaced else t) is not None
        )
    by_id = {c.id: c for c in clients}
    hits: dict[int, list[tuple[str, tuple[str, str, str], datetime | None]]] = {}
    for hit in texts:  # latest first
        snip = _snippet(hit.text, pattern)
        if snip is not None and hit.client_id in by_id:
            hits.setdefault(hit.client_id, []).append((hit.kind, snip, hit.at))
    by_name = set()
    if not query.isdigit():  # a number is a student number or a note, not client no. 3
        found = match_client(query, clients, suggest=False)  # only a hit counts here
        by_name = {c.id for c in ([found.client] if found.client else list(found.candidates))}
    for c in clients:
        fields = [("name", c.name), ("sid", c.sid), ("major", c.major), ("grade", c.grade)]
        fields += [("tag", "#" + t) for t in c.tags]
        own: list[tuple[str, tuple[str, str, str], datetime | None]] = []
        for where, value in fields:
            snip = _snippet(value or "", pattern)
            if snip is not None:
                own.append((where, snip, c.last_contact_at or c.created_at))
        if not own and c.id in by_name:
            own.append(("name", ("", c.name, ""), c.last_contact_at or c.created_at))
        if own:
            hits[c.id] = own + hits.get(c.id, [])
    rows = []
    for client_id, found_hits in hits.items():
        where, (before, match, after), at = found_hits[0]
        latest = max((h[2] for h in found_hits if h[2] is not None), default=None)
        rows.append(
            FindRow(by_id[client_id], where, before, match, after, latest, len(found_hits) - 1)
        )
    epoch = datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    rows.sort(key=lambda r: (r.at or epoch, r.client.number), reverse=True)
    return rows


# --- /export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    filename: str
    path: Path  # the .zip, in the directory the caller gave (theirs to delete)
    counts: dict[str, int]


def _cell(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


README = """CareMap export — {name} — {stamp}

This archive holds sensitive notes about the people you support. Keep it on an
encrypted device, never forward it, and delete it when you no longer need it.
本压缩包含有你所支持学生的敏感记录。请保存在加密设备上，不要转发，用完请删除。

Each .csv file is UTF-8 with a BOM (Excel opens Chinese text correctly).
Times are in {tz}. Rows of other files name their client by client_number and client_name.
每个 .csv 文件均为带 BOM 的 UTF-8 编码；时间为 {tz} 时区。

{files}
"""


# (sheet, column) → the kind of word a value is, for `words` (the counsellor's language)
_WORD_COLUMNS: dict[tuple[str, str], str] = {
    ("clients", "risk"): "risk",
    ("interactions", "channel"): "channel",
    ("needs", "source"): "channel",
    ("needs", "explicit"): "explicit",
    ("plan", "kind"): "plan_kind",
    ("status_history", "field"): "field",
    ("screenings", "band"): "band",
    ("tier_history", "dimension"): "dimension",
    ("tier_history", "reasons"): "reasons",
    ("referrals", "status"): "referral_status",
}


def _in_words(
    name: str, columns: list[str], words: Callable[[str, Any], str]
) -> Callable[[list[Any]], None]:
    """What puts a row of file `name` into the counsellor's words (in place): `high` →
    高风险, `face` → 面谈, the tier reasons' JSON → sentences. Column names stay (they are the
    file format)."""
    cols = {col: i for i, col in enumerate(columns)}
    keyed = {
        i: kind
        for (sheet, col), kind in _WORD_COLUMNS.items()
        if sheet == name and (i := cols.get(col)) is not None
    }
    risky = None  # old/new are risk tiers when the row's field/dimension is "risk"
    if name in ("status_history", "tier_history"):
        risky = cols.get("field", cols.get("dimension"))
    old_new = [cols[col] for col in ("old", "new")] if risky is not None else []
    # the same few codes recur on thousands of rows: each is put into words once (by the
    # value as stored: the reasons by their JSON)
    said: dict[tuple[str, type, Any], Any] = {}

    def in_words_once(kind: str, value: Any) -> Any:
        if kind == "reasons":
            try:
                value = decode_reasons(value)
            except (ValueError, KeyError, TypeError):
                return value  # not JSON reasons: left as it is
        return words(kind, value)

    def word(kind: str, value: Any) -> Any:
        key = (kind, type(value), value)
        try:
            return said[key]
        except KeyError:
            out = said[key] = in_words_once(kind, value)
            return out
        except TypeError:  # unhashable: not kept
            return in_words_once(kind, value)

    def in_words(row: list[Any]) -> None:
        if risky is not None and row[risky] == "risk":
            for i in old_new:
                if row[i]:
                    row[i] = word("risk", row[i])
        for i, kind in keyed.items():
            value = row[i]
            if value is None or value == "":
                continue
            row[i] = word(kind, value)

    return in_words


def export(
    db: Database,
    actor: Counsellor,
    now: datetime,
    words: Callable[[str, Any], str] | None = None,
    *,
    directory: Path,
) -> Export:
    """The counsellor's whole caseload as a .zip of CSV files plus README.txt, written to
    `directory`. `words(kind, value)` puts codes into the counsellor's language (the bot
    passes its templates).

    Streamed (issue 12): one read unit of work on one snapshot of the data (no write lock
    held while it reads), a batch of clients at a time; each batch's rows go straight to
    one temporary file per CSV, which are then copied into the archive. Memory stays flat
    whatever the caseload. The export is recorded in the audit trail afterwards, in its
    own short write."""
    tz = ZoneInfo(actor.timezone)
    local = now.astimezone(tz)
    stamp = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    filename = f"caremap-export-{local.strftime('%Y-%m-%d')}.zip"
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="caremap-csv-", dir=directory) as tmp:
        parts: dict[str, Any] = {}  # file → (text stream, csv writer, row hook)
        try:
            with db.uow(write=False, snapshot=True) as uow:
                store = uow.caseload_of(actor.id)
                columns = store.export_columns()
                for name, header in columns:
                    stream = open(  # noqa: SIM115 - closed below, after the archive is written
                        Path(tmp) / f"{name}.csv", "w", encoding="utf-8-sig", newline=""
                    )
                    writer = csv.writer(stream, lineterminator="\r\n")
                    writer.writerow(header)
                    hook = _in_words(name, header, words) if words is not None else None
                    parts[name] = (stream, writer, hook)
                    counts[name] = 0
                for name, rows in store.export_batches():
                    stream, writer, hook = parts[name]
                    for row in rows:
                        if hook is not None:
                            hook(row)
                        writer.writerow([_cell(v, tz) for v in row])
                    counts[name] += len(rows)
        finally:
            for stream, _, _ in parts.values():
                stream.close()
        record_export(db, actor, now)
        path = directory / filename
        files = []
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, header in columns:
                part = Path(tmp) / f"{name}.csv"
                info = zipfile.ZipInfo(f"{name}.csv", stamp)
                info.file_size = part.stat().st_size  # as `writestr` sets it: same header
                with part.open("rb") as src, archive.open(info, "w") as dest:
                    shutil.copyfileobj(src, dest, 1 << 20)
                part.unlink()
                files.append(f"{name}.csv ({counts[name]} rows): " + ", ".join(header))
            readme = README.format(
                name=actor.display_name,
                stamp=local.strftime("%Y-%m-%d %H:%M"),
                tz=actor.timezone,
                files="\n".join(files),
            )
            archive.writestr(zipfile.ZipInfo("README.txt", stamp), readme.encode("utf-8-sig"))
    return Export(filename=filename, path=path, counts=counts)


def record_export(db: Database, actor: Counsellor, now: datetime) -> None:
    """An export of the caseload (workbook or CSVs) in the audit trail: who and when, in its
    own short write after the read. Inside `Turn.once` it claims the update, so a
    redelivered /export is refused here, before anything is sent twice."""
    with db.uow(write=True) as uow:
        uow.staff.record(actor.id, "export", now)


# --- /forget ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForgetAsk:
    pending_id: int
    client: Client
    counts: dict[str, int]


@dataclass(frozen=True)
class Forgotten:
    client: Client
    counts: dict[str, int]


def ask_forget(db: Database, actor: Counsellor, args: str, now: datetime) -> ForgetAsk:
    """`/forget <client>`: nothing is deleted yet; the confirmation waits as a parked input.
    An ambiguous reference is refused with suggestions (a deletion needs one exact client)."""
    ref = grammar.parse_client_only(args, "forget")
    with db.uow(write=True) as uow:
        client = resolve_client(uow, actor, ref)
        counts = uow.caseload_of(actor.id).counts(client.id)
        pending_id = uow.pending.add(
            counsellor_id=actor.id,
            kind="forget",
            payload={"client_id": client.id},
            now=now,
            expires_at=now + FORGET_TTL,
        )
        return ForgetAsk(pending_id=pending_id, client=client, counts=counts)


def _take(uow: UnitOfWork, actor: Counsellor, pending_id: int, now: datetime) -> Pending | None:
    pending = uow.pending.get(pending_id, actor.id, now=now)
    if pending is None or pending.kind != "forget":
        return None
    return uow.pending.consume(pending_id, actor.id, now=now)


def confirm_forget(
    db: Database, actor: Counsellor, pending_id: int, now: datetime
) -> Forgotten | None:
    """Delete the client and everything of it, in one transaction. None when the button is
    not this counsellor's, was already used, expired, or the client is already gone."""
    with db.uow(write=True) as uow:
        pending = _take(uow, actor, pending_id, now)
        if pending is None:
            return None
        repo = uow.clients_of(actor.id)
        client = repo.get(int(pending.payload["client_id"]))
        if client is None:
            return None
        counts = uow.caseload_of(actor.id).counts(client.id)
        if not repo.delete(client.id):
            return None
        uow.staff.record(actor.id, "forget", now, client_id=client.id, client_number=client.number)
        # undo entries hold ids of the client's rows: drop them with it
        uow.pending.discard(actor.id, "undo")
    db.scrub()
    return Forgotten(client=client, counts=counts)


def cancel_forget(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> bool:
    with db.uow(write=True) as uow:
        return _take(uow, actor, pending_id, now) is not None
