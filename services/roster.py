"""Roster import (`/import`, or just send the file): read an XLSX or CSV class list, show what
was understood, and add the new students on one tap — all of them in one transaction, or
none. The file's rows wait (encrypted, as parked input) until the tap; the file itself is
never stored."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import CommandError
from domain.model import Client, Counsellor
from domain.roster import RosterPlan, plan_roster, rows_from, template_rows
from domain.rules import RuleBase
from services.grading import regrade_client
from storage.db import Database

MAX_BYTES = 5 * 1024 * 1024
IMPORT_TTL = timedelta(hours=2)
XLSX_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",)
CSV_TYPES = ("text/csv", "text/comma-separated-values", "application/csv")


def is_roster_file(file_name: str | None, mime: str | None) -> bool:
    name = (file_name or "").lower()
    return name.endswith((".xlsx", ".csv")) or (mime or "") in XLSX_TYPES + CSV_TYPES


def read_rows(file_name: str | None, data: bytes) -> list[list[object]]:
    """The first sheet's rows (XLSX) or the CSV's rows (UTF-8 with or without BOM, or GBK).
    Raises CommandError roster_unreadable / roster_too_big / roster_not_a_table."""
    if len(data) > MAX_BYTES:
        raise CommandError("roster_too_big", max_mb=MAX_BYTES // (1024 * 1024))
    name = (file_name or "").lower()
    if data[:2] == b"PK" or name.endswith(".xlsx"):
        return _xlsx_rows(data)
    if name.endswith(".csv") or not name:
        return _csv_rows(data)
    raise CommandError("roster_not_a_table", name=file_name or "")


def _xlsx_rows(data: bytes) -> list[list[object]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise CommandError("roster_unreadable") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise CommandError("roster_empty")
        return rows_from(ws.iter_rows(values_only=True, max_row=5000))
    finally:
        wb.close()


def _csv_rows(data: bytes) -> list[list[object]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CommandError("roster_unreadable")
    if "\x00" in text:
        raise CommandError("roster_unreadable")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t，")
    except csv.Error:
        dialect = csv.excel
    return rows_from(csv.reader(io.StringIO(text), dialect))


@dataclass(frozen=True)
class RosterPreview:
    pending_id: int | None  # None when there is nothing to add
    plan: RosterPlan
    file_name: str


def preview(
    db: Database, actor: Counsellor, file_name: str | None, data: bytes, now: datetime
) -> RosterPreview:
    """Read the file and say what would happen; nothing is written to the caseload."""
    rows = read_rows(file_name, data)
    with db.uow(write=True) as uow:
        existing = {c.sid: c.number for c in uow.clients_of(actor.id).list() if c.sid}
        plan = plan_roster(rows, existing)
        pending_id = None
        if plan.to_add:
            uow.pending.discard(actor.id, "import")  # one import waits at a time
            pending_id = uow.pending.add(
                counsellor_id=actor.id,
                kind="import",
                payload={"rows": [_row_payload(r) for r in plan.to_add]},
                now=now,
                expires_at=now + IMPORT_TTL,
            )
        return RosterPreview(pending_id, plan, file_name or "")


def _row_payload(r: Any) -> dict[str, Any]:
    return {
        "line": r.line,
        "name": r.name,
        "sid": r.sid,
        "major": r.major,
        "grade": r.grade,
        "dorm": r.dorm,
        "phone": r.phone,
        "tags": list(r.tags),
    }


@dataclass(frozen=True)
class Imported:
    added: list[Client]
    skipped: int  # rows whose 学号 was added meanwhile


def confirm(
    db: Database, actor: Counsellor, pending_id: int, now: datetime, rules: RuleBase
) -> Imported | None:
    """The Import button: add every waiting row in one transaction (graded like /new).
    None when the preview is gone (already imported, cancelled or expired)."""
    with db.uow(write=True) as uow:
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None or pending.kind != "import":
            return None
        repo = uow.clients_of(actor.id)
        details = uow.details_of(actor.id)
        have = {c.sid for c in repo.list() if c.sid}
        added: list[Client] = []
        skipped = 0
        for r in pending.payload["rows"]:
            if r.get("sid") and r["sid"] in have:
                skipped += 1
                continue
            client = repo.add(
                name=r["name"],
                tags=tuple(r.get("tags") or ()),
                sid=r.get("sid"),
                major=r.get("major"),
                grade=r.get("grade"),
                now=now,
            )
            if r.get("dorm") or r.get("phone"):
                details.set(client.id, dorm=r.get("dorm"), phone=r.get("phone"))
            if r.get("sid"):
                have.add(r["sid"])
            regrade_client(uow, actor, client.id, now, rules)
            added.append(client)
        return Imported(added, skipped)


def cancel(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> bool:
    with db.uow(write=True) as uow:
        return uow.pending.consume(pending_id, actor.id, now) is not None


def template_file(lang: str) -> tuple[bytes, str]:
    """The roster template `/import` sends: headers in the counsellor's language and two
    example rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "名单" if lang.startswith("zh") else "roster"
    for row in template_rows(lang):
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col, width in zip("ABCDEFG", (12, 12, 20, 8, 10, 14, 22), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    name = "学生名单模板.xlsx" if lang.startswith("zh") else "roster-template.xlsx"
    return buf.getvalue(), name
