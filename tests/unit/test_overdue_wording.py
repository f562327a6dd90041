"""A list read today says how late each contact and review is today, whenever the grades
were computed (the nightly re-grade, or days ago in a demo's time travel): "12-06 前" on
12-07 reads as a deadline still ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.model import Client, Risk
from domain.tiering import Grades
from rendering.render import Renderer

DUE = datetime(2026, 12, 6, 9, 38, tzinfo=UTC)  # 17:38 in Shanghai


def _client() -> Client:
    return Client(
        id=1,
        counsellor_id=1,
        number=20,
        name="于浩然",
        tags=(),
        sid=None,
        major=None,
        grade=None,
        trust=None,
        satisfaction=None,
        risk=Risk.LOW,
        created_at=DUE - timedelta(days=60),
        last_contact_at=DUE - timedelta(days=30),
    )


def _grades(stale: Grades) -> Grades:
    # graded before the due date: the stored grades say 0 days overdue
    return stale._replace(next_contact_due=DUE, review_due_at=DUE, overdue_days=0)


@pytest.fixture
def grades() -> Grades:
    from zoneinfo import ZoneInfo

    from domain.rules import DEFAULT_RULES_PATH, load_rules
    from domain.tiering import ClientFacts, grade

    facts = ClientFacts(
        client_id=1,
        counsellor_risk=Risk.LOW,
        risk_tags=(),
        needs=(),
        interactions=(DUE - timedelta(days=30),),
        last_contact_at=DUE - timedelta(days=30),
        created_at=DUE - timedelta(days=60),
    )
    return _grades(
        grade(
            facts,
            load_rules(DEFAULT_RULES_PATH),
            DUE - timedelta(days=2),
            ZoneInfo("Asia/Shanghai"),
        )
    )


def _agenda(client: Client, g: Grades, day: date) -> dict:
    return {
        "day": day,
        "alerts": [],
        "alerts_total": 0,
        "reviews": [(client, g)],
        "reviews_total": 1,
        "plan": [],
        "plan_total": 0,
        "contact": [(client, g)],
        "contact_total": 1,
        "quiet": [],
        "quiet_total": 0,
    }


@pytest.mark.parametrize(
    ("now", "zh", "en"),
    [
        (DUE - timedelta(hours=1), "2026-12-06 前", "due 2026-12-06"),
        (DUE + timedelta(hours=15), "已逾期 1 天", "overdue 1 d"),  # 12-07 08:38 in Shanghai
        (DUE + timedelta(days=3), "已逾期 3 天", "overdue 3 d"),
    ],
)
def test_today_says_how_late_a_contact_and_a_review_are_now(
    grades: Grades, now: datetime, zh: str, en: str
) -> None:
    renderer = Renderer()
    day = now.date()
    for lang, want in (("zh", zh), ("en", en)):
        text = renderer.render(
            lang,
            "today",
            a=_agenda(_client(), grades, day),
            pushed=False,
            tz="Asia/Shanghai",
            now=now,
        )
        assert want in text, text
        late = "已逾期" if lang == "zh" else "overdue"
        # the review line too: marked late exactly when the contact line is
        assert text.count(late) == (2 if now > DUE + timedelta(hours=14, minutes=22) else 0), text
