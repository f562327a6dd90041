"""`agenda_list` (the agenda's "see all" lists): one numbered line per person in every section
and both languages. With trim_blocks, a line that ends in a block tag loses its newline; the
review section's rows once ran together ("…（已逾期 2 天）2. 🟠 #7 …")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as NS

import pytest

from domain.model import Risk
from rendering.render import default_renderer

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _rows(section: str) -> list[tuple[NS, NS]]:
    rows = []
    for i, days in enumerate((3, 0, -2), start=1):
        client = NS(number=i, name=f"学生{i}")
        due = NOW - timedelta(days=days)
        detail = NS(
            tier=Risk.HIGH,
            risk=Risk.HIGH,
            respond_by=due,
            due_at=due,
            text=f"事项{i}",
            next_contact_due=due,
            review_due_at=due,
        )
        rows.append((client, detail))
    return rows


def _render(lang: str, section: str, rows: list[tuple[NS, NS]]) -> str:
    return default_renderer().render(
        lang,
        "agenda_list",
        section=section,
        rows=rows,
        start=0,
        total=len(rows),
        page=0,
        pages=1,
        now=NOW,
        tz="Asia/Shanghai",
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("section", ["alerts", "reviews", "plan", "contact"])
def test_one_line_per_person(lang: str, section: str) -> None:
    text = _render(lang, section, _rows(section))
    numbered = re.findall(r"^(\d+)\. ", text, re.M)
    assert numbered == ["1", "2", "3"], text
    for i in (1, 2, 3):
        line = next(x for x in text.splitlines() if x.startswith(f"{i}. "))
        assert line.count("#") == 1 and f"学生{i}" in line, text


def test_a_review_row_says_when_the_review_is_due() -> None:
    """It said "high risk since <review date>" in English: the date is the review's."""
    text = _render("en", "reviews", _rows("reviews")[:1])
    assert "high risk, review due 2026-11-28" in text and "since" not in text, text
