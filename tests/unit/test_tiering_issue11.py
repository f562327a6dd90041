"""Issue 11, the grading rules: PHQ-9 15–19 is high, identity tags never count as risk, the
contact gap is the counsellor's overdue contact (not 失联), the standard of a new tier counts
from the moment it was raised, a screening is a contact, ideal and latest contact dates."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jinja2
import pytest

from domain.model import Risk
from domain.rules import DEFAULT_RULES_PATH, RulesError, load_rules, parse_rules
from domain.screening import score
from domain.tiering import ClientFacts, grade, regrade

RULES = load_rules(None)
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def facts(**kw) -> ClientFacts:
    kw.setdefault("client_id", 7)
    kw.setdefault("interactions", (NOW - DAY,))
    kw.setdefault("created_at", NOW - 200 * DAY)
    return ClientFacts(**kw)


def codes(reasons):
    return [r.code for r in reasons]


def render(reason, lang):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return str(env.get_template(f"{lang}/reasons.j2").module.reason(reason)).strip()


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (15, "moderately_severe"),
        (17, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
    ],
)
def test_phq9_moderately_severe_and_severe_are_high(total, band):
    answers = [3, 3, 3, 3, 3, 0, 0, 0, 0]
    left = total - 15
    for i in range(5, 8):
        answers[i] = min(3, left)
        left -= answers[i]
    g = grade(facts(phq9=score("phq9", answers, at=NOW)), RULES, NOW)
    assert g.risk is Risk.HIGH
    r = next(r for r in g.risk_reasons if r.code == "screening_total")
    assert r.params["band"] == band and r.params["tier"] == "high" and r.params["threshold"] == 15


@pytest.mark.parametrize(
    "tag",
    [
        "贫困生",
        "留学生",
        "班干部",
        "竞赛达人",
        "经济困难",
        "建档立卡",
        "单亲家庭",
        "international student",
        "class cadre",
    ],
)
def test_identity_tags_never_raise_risk_nor_show_as_risk(tag):
    g = grade(facts(risk_tags=(tag,)), RULES, NOW)
    assert g.risk is Risk.LOW and g.risk_floor is Risk.LOW
    assert codes(g.risk_reasons) == ["no_risk_factors"]
    assert RULES.tag(tag) is None and RULES.identity_tag(tag) is not None


def test_identity_tags_do_not_add_to_risk_tags():
    alone = grade(facts(risk_tags=("挂科",)), RULES, NOW)
    both = grade(facts(risk_tags=("挂科", "贫困生", "班干部", "留学生")), RULES, NOW)
    assert alone.risk is both.risk is Risk.MEDIUM
    assert alone.risk_reasons == both.risk_reasons


def test_risk_tags_stay_and_each_counts():
    for tag, tier in (
        ("挂科", Risk.MEDIUM),
        ("失联", Risk.HIGH),
        ("家庭变故", Risk.HIGH),
        ("自伤史", Risk.HIGH),
    ):
        g = grade(facts(risk_tags=(tag,)), RULES, NOW)
        assert g.risk is tier, tag
        assert g.risk_reasons[0].code == "risk_tag"


def test_operator_adds_risk_and_identity_tags_in_the_rule_file():
    text = (
        DEFAULT_RULES_PATH.read_text(encoding="utf-8")
        + """
[[risk_tags]]
code = "housing_loss"
en = "lost housing"
zh = "无处居住"
min_tier = "high"

[[identity_tags]]
code = "athlete"
en = "athlete"
zh = "运动员"
"""
    )
    rules = parse_rules(text)
    assert grade(facts(risk_tags=("无处居住",)), rules, NOW).risk is Risk.HIGH
    assert grade(facts(risk_tags=("运动员",)), rules, NOW).risk is Risk.LOW
    assert (
        grade(facts(risk_tags=("挂科",)), rules, NOW).risk is Risk.MEDIUM
    )  # the shipped ones stay


def test_a_name_cannot_be_both_a_risk_and_an_identity_tag():
    text = (
        DEFAULT_RULES_PATH.read_text(encoding="utf-8")
        + """
[[identity_tags]]
code = "failing"
en = "repeat student"
zh = "挂科"
"""
    )
    with pytest.raises(RulesError, match="both a risk tag and an identity tag"):
        parse_rules(text)


def test_no_logged_contact_is_the_counsellors_overdue_contact_not_unreachable():
    g = grade(facts(interactions=(NOW - 61 * DAY,), risk_tags=("挂科",)), RULES, NOW)
    gap = next(r for r in g.risk_reasons if r.code == "contact_gap")
    zh, en = render(gap, "zh"), render(gap, "en")
    assert "失联" not in zh and "辅导员的联系已逾期" in zh and "61 天" in zh
    assert "lost contact" not in en and "unreachable" not in en and "contact is overdue" in en
    assert "lost_contact" not in codes(g.risk_reasons)


def test_a_new_tier_counts_its_standard_from_the_moment_it_was_raised():
    # a student last seen 32 days ago; the first PHQ-9 (16 → high) is taken today
    phq = score("phq9", [2, 2, 2, 2, 2, 2, 2, 2, 0], at=NOW)
    f = facts(
        interactions=(NOW - 32 * DAY,),
        other_contacts=(NOW,),
        phq9=phq,
        standing_risk=Risk.LOW,
        tier_since=NOW - 150 * DAY,
    )
    g = grade(f, RULES, NOW)
    assert g.risk is Risk.HIGH
    assert "contact_gap" not in codes(g.risk_reasons)
    assert g.next_contact_due == NOW + 7 * DAY and g.contact_latest_at == NOW + 10 * DAY
    assert g.next_contact_due > NOW and not g.overdue
    assert g.tier_since == NOW


def test_raised_tier_without_a_contact_still_counts_from_the_raise():
    # risk=high set by the counsellor today (no screening): last contact 32 days ago
    f = facts(
        interactions=(NOW - 32 * DAY,),
        counsellor_risk=Risk.HIGH,
        standing_risk=Risk.LOW,
        tier_since=NOW - 150 * DAY,
    )
    d = regrade(None, f, RULES, NOW)
    g = d.grades
    assert "contact_gap" not in codes(g.risk_reasons)
    assert g.next_contact_due == NOW + 7 * DAY  # not "2026-11-06", a month in the past
    # eleven days later, still nothing logged: now it is overdue, counted from the raise
    later = NOW + 11 * DAY
    g2 = grade(
        facts(
            interactions=(NOW - 32 * DAY,),
            counsellor_risk=Risk.HIGH,
            standing_risk=Risk.HIGH,
            tier_since=NOW,
        ),
        RULES,
        later,
    )
    assert g2.next_contact_due == NOW + 7 * DAY and g2.overdue_days == 4
    assert g2.past_latest(later)


def test_a_screening_is_a_contact_and_resets_the_dates():
    g = grade(facts(interactions=(NOW - 40 * DAY,), other_contacts=(NOW - DAY,)), RULES, NOW)
    assert g.last_contact_at == NOW - DAY
    assert g.next_contact_due == NOW - DAY + 60 * DAY
    assert g.contact_latest_at == NOW - DAY + 90 * DAY
    nxt = next(r for r in g.frequency_reasons if r.code == "next_contact")
    assert nxt.params == {"ideal": "2027-01-29", "latest": "2027-02-28"}


def test_a_screening_in_the_same_meeting_is_not_counted_twice():
    f = facts(
        interactions=(NOW - 2 * DAY,), other_contacts=(NOW - 2 * DAY + timedelta(minutes=20),)
    )
    g = grade(f, RULES, NOW)
    counted = next(r for r in g.frequency_reasons if r.code == "contacts_counted")
    assert counted.params["count"] == 1
    f2 = facts(interactions=(NOW - 5 * DAY,), other_contacts=(NOW - DAY,))
    assert (
        next(
            r for r in grade(f2, RULES, NOW).frequency_reasons if r.code == "contacts_counted"
        ).params["count"]
        == 2
    )


def test_the_contact_gap_does_not_reset_its_own_clock():
    g = grade(
        facts(interactions=(NOW - 125 * DAY,), standing_risk=Risk.LOW, tier_since=NOW - 300 * DAY),
        RULES,
        NOW,
    )
    assert g.risk is Risk.MEDIUM and g.risk_reasons[0].code == "contact_gap"
    assert g.overdue and g.next_contact_due == NOW - 125 * DAY + 14 * DAY
    # the next day, still no contact: it stays medium (the gap is not forgotten)
    g2 = grade(
        facts(interactions=(NOW - 125 * DAY,), standing_risk=Risk.MEDIUM, tier_since=g.tier_since),
        RULES,
        NOW + DAY,
    )
    assert g2.risk is Risk.MEDIUM and g2.risk_reasons[0].code == "contact_gap"


def test_every_tier_has_an_ideal_and_a_latest_contact():
    for risk, (ideal, latest) in {
        Risk.CRISIS: (2, 3),
        Risk.HIGH: (7, 10),
        Risk.MEDIUM: (14, 21),
        Risk.LOW: (60, 90),
    }.items():
        s = RULES.standard(risk)
        assert (s.contact_every_days, s.latest_days) == (ideal, latest)
        g = grade(facts(counsellor_risk=risk, interactions=(NOW,)), RULES, NOW)
        assert g.next_contact_due == NOW + ideal * DAY and g.contact_latest_at == NOW + latest * DAY


def test_latest_before_ideal_is_refused():
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace(
        "contact_latest_days = 10", "contact_latest_days = 5"
    )
    with pytest.raises(RulesError, match="tiers.high: contact_latest_days"):
        parse_rules(text)


def test_unreachable_after_n_attempts_in_a_row_is_graded_like_the_tag():
    assert grade(facts(unreached_streak=2), RULES, NOW).risk is Risk.LOW
    g = grade(facts(unreached_streak=3), RULES, NOW)
    assert g.risk is Risk.HIGH
    r = g.risk_reasons[0]
    assert r.code == "unreached_attempts" and r.params == {"count": 3, "tier": "high"}
    assert "连续 3 次没有联系上，视为失联" in render(r, "zh")
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace(
        "unreached_attempts = 3", "unreached_attempts = 5"
    )
    assert grade(facts(unreached_streak=4), parse_rules(text), NOW).risk is Risk.LOW
