"""`/export`: the caseload as an Excel workbook, one sheet per dimension of the map (plus the
screenings and the tier history), headers in the counsellor's language, reasons in words.
Built here, in the rendering layer, because every header and reason comes from templates."""

from __future__ import annotations

import html
import io
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.rules import load_rules
from domain.vocab import channel_label, outcome_label
from rendering.render import Renderer
from services.export_data import ClientRecord

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
