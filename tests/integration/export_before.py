"""The export as it was before it streamed (issue 12), kept verbatim as the tests' oracle:
the whole caseload read at once and both files built in memory. `test_export_stream.py`
holds the streamed export to exactly these files. Not used by the application."""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select

from domain.model import Counsellor
from domain.rules import load_rules
from domain.vocab import channel_label, outcome_label
from rendering.render import Renderer
from services.export_data import ClientRecord
from storage.caseload import _ENCRYPTED, EXPORT_TABLES
from storage.db import Database
from storage.orm import ClientRow
from storage.tiering_codec import decode_reasons

# --- bot/export_xlsx.py ---------------------------------------------------------------------
_TAG = re.compile(r"<[^>]+>")


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text)).strip()


def build_workbook(
    renderer: Renderer, lang: str, tz: str, records: list[ClientRecord], now: datetime
) -> tuple[bytes, dict[str, int]]:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    zone = ZoneInfo(tz)
    labels = dict(
        line.split("|", 1)
        for line in renderer.render(lang, "export_labels").splitlines()
        if "|" in line
    )
    rules = load_rules()

    def L(key: str) -> str:
        return labels[key]

    def when(dt: datetime | None, with_time: bool = True) -> str:
        if dt is None:
            return ""
        return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")

    def word(what: str, value: Any) -> str:
        if value is None:
            return ""
        return _plain(
            renderer.render(lang, "export_word", what=what, value=getattr(value, "value", value))
        )

    def reasons(rs: Any) -> str:
        return "\n".join(_plain(renderer.render(lang, "export_reason", r=r)) for r in rs)

    def category(text: str) -> str:
        return "、".join((c.zh if lang == "zh" else c.en) for c in rules.classify_need(text))

    sheets: dict[str, tuple[list[str], list[list[Any]]]] = {
        "identification": (
            [
                "number",
                "name",
                "sid",
                "major",
                "grade",
                "dorm",
                "phone",
                "tags",
                "strengths",
                "created",
                "last_contact",
            ],
            [],
        ),
        "needs": (["number", "name", "need", "explicit", "category", "source", "date"], []),
        "interactions": (["number", "name", "at", "channel", "outcome", "notes"], []),
        "resources": (["number", "name", "resource", "referral_status", "date", "updated"], []),
        "status": (
            [
                "number",
                "name",
                "trust",
                "satisfaction",
                "risk_set",
                "risk",
                "risk_reasons",
                "frequency",
                "frequency_required",
                "need_urgency",
                "next_contact",
                "review",
            ],
            [],
        ),
        "plan": (["number", "name", "kind", "due", "text", "done", "repeat"], []),
        "screenings": (["number", "name", "instrument", "date", "total", "band", "item9"], []),
        "tiers": (["number", "name", "date", "dimension", "old", "new", "reasons"], []),
    }
    for rec in records:
        c = rec.map.client
        who = [c.number, c.name]
        d = rec.details
        sheets["identification"][1].append(
            who
            + [
                c.sid or "",
                c.major or "",
                c.grade or "",
                (d.dorm if d else None) or "",
                (d.phone if d else None) or "",
                "、".join(c.plain_tags) if lang == "zh" else ", ".join(c.plain_tags),
                "、".join(c.strengths) if lang == "zh" else ", ".join(c.strengths),
                when(c.created_at, False),
                when(c.last_contact_at, False),
            ]
        )
        for n in reversed(rec.map.needs):
            sheets["needs"][1].append(
                who
                + [
                    n.text,
                    L("explicit_yes") if n.explicit else L("explicit_no"),
                    category(n.text),
                    channel_label(n.source, lang),
                    when(n.created_at, False),
                ]
            )
        for i in reversed(rec.map.interactions):
            sheets["interactions"][1].append(
                who
                + [
                    when(i.at),
                    channel_label(i.channel, lang),
                    outcome_label(i.outcome, lang),
                    i.notes,
                ]
            )
        for r in reversed(rec.map.referrals):
            from domain.resources import resource_label

            sheets["resources"][1].append(
                who
                + [
                    resource_label(r.resource, lang),
                    word("referral", r.status),
                    when(r.created_at, False),
                    when(r.updated_at, False),
                ]
            )
        g = rec.grades
        sheets["status"][1].append(
            who
            + [
                c.trust or "",
                c.satisfaction or "",
                word("risk", c.risk),
                word("risk", g.risk) if g else "",
                reasons(g.risk_reasons) if g else "",
                g.frequency if g else "",
                g.frequency_required if g else "",
                word("urgency", g.need_urgency) if g and g.need_urgency else "",
                when(g.next_contact_due, False) if g else "",
                when(g.review_due_at, False) if g else "",
            ]
        )
        by_series = {s.id: s for s in rec.series}
        for p in reversed(rec.map.plan):
            s = by_series.get(p.series_id) if p.series_id is not None else None
            every = ""
            if s is not None:
                every = _plain(renderer.render(lang, "export_every", s=s, tz=tz))
            sheets["plan"][1].append(
                who
                + [
                    L("kind_short") if p.due_at else L("kind_long"),
                    when(p.due_at),
                    p.text,
                    when(p.done_at),
                    every,
                ]
            )
        for s in reversed(rec.screenings):
            sheets["screenings"][1].append(
                who
                + [
                    s.spec.name,
                    when(s.at, False),
                    s.total,
                    word("band", s.band),
                    "" if s.item9 is None else s.item9,
                ]
            )
        for t in reversed(rec.tier_history):
            sheets["tiers"][1].append(
                who + [when(t.at), t.dimension, t.old or "", t.new or "", reasons(t.reasons)]
            )
    wb = Workbook()
    wb.remove(wb.active)
    for key, (columns, rows) in sheets.items():
        ws = wb.create_sheet(L(f"sheet_{key}")[:31])
        ws.append([L(col) for col in columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "C2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), {key: len(rows) for key, (_, rows) in sheets.items()}


# --- storage/caseload.py: CaseloadStore.export --------------------------------------------


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: list[str]
    rows: list[list[Any]]


def read_sheets(uow: Any, counsellor_id: int) -> list[Sheet]:
    s, dec = uow.session, uow.cipher.decrypt
    clients = list(
        s.scalars(
            select(ClientRow)
            .where(ClientRow.counsellor_id == counsellor_id)
            .order_by(ClientRow.number)
        )
    )
    by_id = {c.id: c for c in clients}
    mapper = inspect(ClientRow)
    client_attrs = [
        mapper.get_property_by_column(c).key
        for c in ClientRow.__table__.columns
        if c.name not in ("counsellor_id", "name_key")  # the name's blind index: not data
    ]
    sheets = [
        Sheet(
            "clients",
            [*client_attrs, "tags"],
            [
                [getattr(c, col) for col in client_attrs] + [" ".join(t.tag for t in c.tags)]
                for c in clients
            ],
        )
    ]
    for name, model in EXPORT_TABLES:
        table = model.__table__
        cols = [c for c in table.columns if c.name != "client_id"]
        header = ["client_number", "client_name"] + [c.name.removesuffix("_enc") for c in cols]
        order = [table.c.client_id] + ([table.c.id] if "id" in table.c else [])
        rows = []
        for r in s.execute(
            select(table)
            .where(
                table.c.client_id.in_(
                    select(ClientRow.id).where(ClientRow.counsellor_id == counsellor_id)
                )
            )
            .order_by(*order)
        ).mappings():
            client = by_id.get(r["client_id"])
            if client is None:
                continue
            # `*_enc` columns of the Encrypted* types come back decrypted already
            values = [
                dec(r[c.name])
                if c.name.endswith("_enc") and r[c.name] and not isinstance(c.type, _ENCRYPTED)
                else r[c.name]
                for c in cols
            ]
            rows.append([client.number, client.name, *values])
        sheets.append(Sheet(name, header, rows))
    return sheets


# --- services/caseload.py: export ----------------------------------------------------------


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


def _in_words(sheet: Any, words: Callable[[str, Any], str]) -> None:
    """Codes and JSON become the counsellor's words (in place): `high` → 高风险, `face` →
    面谈, the tier reasons' JSON → sentences. Column names stay (they are the file format)."""
    cols = {name: i for i, name in enumerate(sheet.columns)}
    keyed = {
        i: kind
        for (name, col), kind in _WORD_COLUMNS.items()
        if name == sheet.name and (i := cols.get(col)) is not None
    }
    risky = None  # old/new are risk tiers when the row's field/dimension is "risk"
    if sheet.name in ("status_history", "tier_history"):
        risky = cols.get("field", cols.get("dimension"))
    for row in sheet.rows:
        if risky is not None and row[risky] == "risk":
            for col in ("old", "new"):
                i = cols[col]
                if row[i]:
                    row[i] = words("risk", row[i])
        for i, kind in keyed.items():
            value = row[i]
            if value is None or value == "":
                continue
            if kind == "reasons":
                try:
                    value = decode_reasons(value)
                except (ValueError, KeyError, TypeError):
                    continue
            row[i] = words(kind, value)


def export_csv(
    db: Database, actor: Counsellor, now: datetime, words: Callable[[str, Any], str] | None = None
) -> tuple[str, bytes, dict[str, int]]:
    """The counsellor's whole caseload as a .zip of CSV files plus README.txt. `words(kind,
    value)` puts codes into the counsellor's language (the bot passes its templates)."""
    tz = ZoneInfo(actor.timezone)
    with db.uow(write=True) as uow:
        sheets = read_sheets(uow, actor.id)
        uow.staff.record(actor.id, "export", now)
    if words is not None:
        for sheet in sheets:
            _in_words(sheet, words)
    local = now.astimezone(tz)
    buffer = io.BytesIO()
    files = []
    stamp = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for sheet in sheets:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(sheet.columns)
            for row in sheet.rows:
                writer.writerow([_cell(v, tz) for v in row])
            archive.writestr(
                zipfile.ZipInfo(f"{sheet.name}.csv", stamp), out.getvalue().encode("utf-8-sig")
            )
            files.append(f"{sheet.name}.csv ({len(sheet.rows)} rows): " + ", ".join(sheet.columns))
        readme = README.format(
            name=actor.display_name,
            stamp=local.strftime("%Y-%m-%d %H:%M"),
            tz=actor.timezone,
            files="\n".join(files),
        )
        archive.writestr(zipfile.ZipInfo("README.txt", stamp), readme.encode("utf-8-sig"))
    return (
        f"caremap-export-{local.strftime('%Y-%m-%d')}.zip",
        buffer.getvalue(),
        {s.name: len(s.rows) for s in sheets},
    )
