"""`/export`: the caseload as an Excel workbook, one sheet per dimension of the map (plus the
screenings and the tier history), headers in the counsellor's language, reasons in words.
Built here, in the rendering layer, because every header and reason comes from templates.

Streamed (issue 12): a write-only workbook written to a file on disk, each batch of clients
appended to every sheet as it is read (openpyxl keeps each sheet's rows in a temporary file,
not in memory), so memory stays flat whatever the size of the caseload."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.resources import resource_label
from domain.rules import load_rules
from domain.vocab import channel_label, outcome_label
from rendering.render import Renderer
from services.export_data import ClientRecord

_TAG = re.compile(r"<[^>]+>")

# sheet → its columns (the header is each column's label), in the workbook's order
COLUMNS: dict[str, list[str]] = {
    "identification": [
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
    "needs": ["number", "name", "need", "explicit", "category", "source", "date"],
    "interactions": ["number", "name", "at", "channel", "outcome", "notes"],
    "resources": ["number", "name", "resource", "referral_status", "date", "updated"],
    "status": [
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
    "plan": ["number", "name", "kind", "due", "text", "done", "repeat"],
    "screenings": ["number", "name", "instrument", "date", "total", "band", "item9"],
    "tiers": ["number", "name", "date", "dimension", "old", "new", "reasons"],
}


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text)).strip()


def write_workbook(
    renderer: Renderer,
    lang: str,
    tz: str,
    batches: Iterable[list[ClientRecord]],
    now: datetime,
    path: Path,
) -> dict[str, int]:
    """Write the workbook of the caseload, read batch by batch, to `path`; returns the rows
    per sheet. Each client's rows go to every sheet as its batch comes, so a sheet holds
    its rows by client number, each client's oldest first."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
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

    # the same few words and reasons recur on thousands of rows: each is rendered once
    words: dict[tuple[str, Any], str] = {}
    said: dict[tuple[str, str], str] = {}

    def word(what: str, value: Any) -> str:
        if value is None:
            return ""
        value = getattr(value, "value", value)
        out = words.get((what, value))
        if out is None:
            out = _plain(renderer.render(lang, "export_word", what=what, value=value))
            words[(what, value)] = out
        return out

    def reason(r: Any) -> str:
        key = (r.code, repr(r.params))
        out = said.get(key)
        if out is None:
            out = said[key] = _plain(renderer.render(lang, "export_reason", r=r))
        return out

    def reasons(rs: Any) -> str:
        return "\n".join(reason(r) for r in rs)

    def category(text: str) -> str:
        return "、".join((c.zh if lang == "zh" else c.en) for c in rules.classify_need(text))

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    sheets: dict[str, Any] = {}
    for key, columns in COLUMNS.items():
        ws = wb.create_sheet(L(f"sheet_{key}")[:31])
        ws.freeze_panes = "C2"  # before the first row: a write-only sheet writes it first
        header = []
        for col in columns:
            cell = WriteOnlyCell(ws, L(col))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        sheets[key] = ws
    counts = dict.fromkeys(COLUMNS, 0)
    ident, needs, talks, resources = (
        sheets["identification"],
        sheets["needs"],
        sheets["interactions"],
        sheets["resources"],
    )
    status, plan, screenings, tiers = (
        sheets["status"],
        sheets["plan"],
        sheets["screenings"],
        sheets["tiers"],
    )
    sep = "、" if lang == "zh" else ", "
    yes, no = L("explicit_yes"), L("explicit_no")
    short, long = L("kind_short"), L("kind_long")

    for records in batches:
        for rec in records:
            c = rec.map.client
            who = [c.number, c.name]
            d = rec.details
            ident.append(
                who
                + [
                    c.sid or "",
                    c.major or "",
                    c.grade or "",
                    (d.dorm if d else None) or "",
                    (d.phone if d else None) or "",
                    sep.join(c.plain_tags),
                    sep.join(c.strengths),
                    when(c.created_at, False),
                    when(c.last_contact_at, False),
                ]
            )
            counts["identification"] += 1
            for n in reversed(rec.map.needs):
                needs.append(
                    who
                    + [
                        n.text,
                        yes if n.explicit else no,
                        category(n.text),
                        channel_label(n.source, lang),
                        when(n.created_at, False),
                    ]
                )
            counts["needs"] += len(rec.map.needs)
            for i in reversed(rec.map.interactions):
                talks.append(
                    who
                    + [
                        when(i.at),
                        channel_label(i.channel, lang),
                        outcome_label(i.outcome, lang),
                        i.notes,
                    ]
                )
            counts["interactions"] += len(rec.map.interactions)
            for r in reversed(rec.map.referrals):
                resources.append(
                    who
                    + [
                        resource_label(r.resource, lang),
                        word("referral", r.status),
                        when(r.created_at, False),
                        when(r.updated_at, False),
                    ]
                )
            counts["resources"] += len(rec.map.referrals)
            g = rec.grades
            status.append(
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
            counts["status"] += 1
            by_series = {s.id: s for s in rec.series}
            for p in reversed(rec.map.plan):
                s = by_series.get(p.series_id) if p.series_id is not None else None
                every = ""
                if s is not None:
                    every = _plain(renderer.render(lang, "export_every", s=s, tz=tz))
                plan.append(
                    who
                    + [short if p.due_at else long, when(p.due_at), p.text, when(p.done_at), every]
                )
            counts["plan"] += len(rec.map.plan)
            for s in reversed(rec.screenings):
                screenings.append(
                    who
                    + [
                        s.spec.name,
                        when(s.at, False),
                        s.total,
                        word("band", s.band),
                        "" if s.item9 is None else s.item9,
                    ]
                )
            counts["screenings"] += len(rec.screenings)
            for t in reversed(rec.tier_history):
                tiers.append(
                    who + [when(t.at), t.dimension, t.old or "", t.new or "", reasons(t.reasons)]
                )
            counts["tiers"] += len(rec.tier_history)
    wb.save(path)
    return counts
