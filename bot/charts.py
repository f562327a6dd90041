"""Pictures (matplotlib, Agg backend, no display): `/overview`. Every word on a picture comes
from templates/<lang>/overview_labels.j2; the font is one with the CJK glyphs (Noto Sans
CJK from Debian's fonts-noto-cjk), so Chinese labels are never drawn as empty boxes."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rendering.render import Renderer  # noqa: E402
from services.overview import RISKS, TRUST, Overview  # noqa: E402

# Phone first: a chat shows a picture at the screen's width (~360 pt), so both pictures are
# portraits 1080 pixels wide (three pixels to a point on a phone) with 15-point type (about
# 10 pt on the screen), their panels stacked in one column.
DPI = 150
SIZE_INCHES = (7.2, 12.0)  # → 1080 × 1800 pixels
CLIENT_SIZE_INCHES = (7.2, 9.6)  # → 1080 × 1440 pixels
_STYLE = {"font.size": 15, "axes.titlesize": 17, "axes.titleweight": "bold"}
_CANDIDATES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
)
_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


@lru_cache(maxsize=1)
def cjk_font() -> tuple[str, str] | None:
    """(family name, file) of an installed font with CJK glyphs, or None."""
    for path in _FILES:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
    for name in _CANDIDATES:
        for entry in font_manager.fontManager.ttflist:
            if entry.name == name:
                return name, entry.fname
    return None


def chart_labels(renderer: Renderer, lang: str) -> dict[str, str]:
    """The pictures' words (templates/<lang>/overview_labels.j2, `key|label` lines)."""
    text = renderer.render(lang, "overview_labels")
    return dict(line.split("|", 1) for line in text.splitlines() if "|" in line)


def overview_png(renderer: Renderer, lang: str, data: Overview) -> bytes:
    """The caseload by risk tier and trust, contacts per week over the last term, and what is
    overdue: three panels, counts only, no names."""
    L = chart_labels(renderer, lang)
    font = cjk_font()
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    family = [font[0]] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": family, "axes.unicode_minus": False, **_STYLE}):
        grid = fig.add_gridspec(3, 1, height_ratios=(1.35, 0.75, 1.1))
        ax1 = fig.add_subplot(grid[0])
        ax3 = fig.add_subplot(grid[1])
        ax2 = fig.add_subplot(grid[2])
        fig.suptitle(L["title"].format(n=data.clients), fontsize=19)
        # 1. risk tier × trust, stacked
        trust_colours = ("#d6eaf8", "#aed6f1", "#85c1e9", "#5dade2", "#2e86c1", "#cccccc")
        left = [0] * len(RISKS)
        for trust, colour in zip(TRUST, trust_colours, strict=True):
            counts = [data.by_risk_trust[r][trust] for r in RISKS]
            label = L["trust_none"] if trust is None else L["trust"].format(t=trust)
            ax1.barh(
                [L[f"risk_{r}"] for r in RISKS],
                counts,
                left=left,
                color=colour,
                label=label,
                edgecolor="white",
            )
            left = [a + b for a, b in zip(left, counts, strict=True)]
        for i, total in enumerate(left):
            ax1.text(total, i, f" {total}", va="center")
        ax1.invert_yaxis()
        ax1.set_title(L["by_risk"])
        ax1.legend(
            fontsize=12, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False
        )
        ax1.set_xlim(0, max(max(left), 1) * 1.15)
        # 2. contacts per week
        weeks = [w[5:] for w in data.week_starts]
        ax2.bar(weeks, data.contacts_per_week, color="#2e86c1")
        ax2.set_title(L["contacts"])
        ax2.set_ylabel(L["contacts_axis"])
        ax2.tick_params(axis="x", labelrotation=60, labelsize=12)
        for i, label in enumerate(ax2.get_xticklabels()):  # every other week, legible
            label.set_visible((len(weeks) - 1 - i) % 2 == 0)
        # 3. overdue
        names = [L["overdue_contact"], L["overdue_follow_ups"]]
        values = [data.overdue_contact, data.overdue_follow_ups]
        ax3.barh(names, values, color=("#e67e22", "#8e44ad"))
        for i, v in enumerate(values):
            ax3.text(v, i, f" {v}", va="center")
        ax3.invert_yaxis()
        ax3.set_title(L["overdue"])
        ax3.set_xlim(0, max(*values, 1) * 1.2)
        ax3.xaxis.get_major_locator().set_params(integer=True)
        ax2.yaxis.get_major_locator().set_params(integer=True)
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def time_range(times: list[datetime]) -> tuple[datetime, datetime] | None:
    """The client chart's time axis: the records with a few days either side, at least two
    weeks wide (one record alone sits in the middle); None without records."""
    if not times:
        return None
    lo, hi = min(times), max(times)
    pad = max(timedelta(days=3), (timedelta(days=14) - (hi - lo)) / 2)
    return lo - pad, hi + pad


def client_png(renderer: Renderer, lang: str, tz: str, data: object) -> bytes:
    """`/map <client> chart`: PHQ-9 and GAD-7 totals over time with the published band lines,
    and trust (1–5) over time."""
    from zoneinfo import ZoneInfo

    from matplotlib.dates import AutoDateLocator, DateFormatter

    L = chart_labels(renderer, lang)
    zone = ZoneInfo(tz)
    font = cjk_font()
    fig = Figure(figsize=CLIENT_SIZE_INCHES, dpi=DPI)
    family = [font[0]] if font else ["DejaVu Sans"]
    with matplotlib.rc_context(
        {"font.family": family, "axes.unicode_minus": False, "timezone": tz, **_STYLE}
    ):
        ax1 = fig.add_subplot(2, 1, 1)
        ax2 = fig.add_subplot(2, 1, 2, sharex=ax1)
        fig.suptitle(L["chart_title"].format(name=data.client.name), fontsize=17)
        for series, label, colour in (
            (data.phq9, "PHQ-9", "#c0392b"),
            (data.gad7, "GAD-7", "#2e86c1"),
        ):
            if series:
                ax1.plot(
                    [t.astimezone(zone) for t, _ in series],
                    [v for _, v in series],
                    marker="o",
                    label=label,
                    color=colour,
                )
        for y in (5, 10, 15, 20):
            ax1.axhline(y, color="#bbbbbb", linewidth=0.8, linestyle="--")
        ax1.set_ylim(0, 27)
        ax1.set_title(L["chart_scores"])
        if data.phq9 or data.gad7:
            ax1.legend(loc="upper left", fontsize=13)
        else:
            ax1.text(0.5, 0.5, L["chart_none"], ha="center", va="center", transform=ax1.transAxes)
        if data.trust:
            ax2.step(
                [t.astimezone(zone) for t, _ in data.trust],
                [v for _, v in data.trust],
                where="post",
                marker="o",
                color="#27ae60",
            )
        else:
            ax2.text(0.5, 0.5, L["chart_none"], ha="center", va="center", transform=ax2.transAxes)
        ax2.set_ylim(0.5, 5.5)
        ax2.set_yticks([1, 2, 3, 4, 5])
        ax2.set_title(L["chart_trust"])
        # the time axis spans the records (at least two weeks, a few days either side):
        # matplotlib's default for an empty panel is 1970, which made "01-01 07-01 …" ticks
        span = time_range([t for series in (data.phq9, data.gad7, data.trust) for t, _ in series])
        if span is not None:
            ax2.set_xlim(span[0].astimezone(zone), span[1].astimezone(zone))
        long = span is not None and span[1] - span[0] > timedelta(days=300)
        ax2.xaxis.set_major_locator(AutoDateLocator(tz=zone, maxticks=7))
        ax2.xaxis.set_major_formatter(DateFormatter("%Y-%m" if long else "%m-%d", tz=zone))
        ax2.tick_params(axis="x", labelrotation=45, labelsize=12)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()
