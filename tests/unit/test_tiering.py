import ast
import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import domain.tiering as tiering
from domain.model import Risk
from domain.rules import DEFAULT_RULES_PATH, load_rules, parse_rules
from domain.screening import score
from domain.tiering import (
    REASON_PARAMS,
    ClientFacts,
    NeedFact,
    Reason,
    ValueInfo,
    grade,
    grade_many,
    regrade,
    review_due,
    review_due_at,
    urgency_key,
)

RULES = load_rules(None)
NOW = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def facts(**kw) -> ClientFacts:
    kw.setdefault("client_id", 7)
    kw.setdefault("interactions", (NOW - DAY,))
    kw.setdefault("created_at", NOW - 200 * DAY)
    return ClientFacts(**kw)


def phq9(answers, days_ago=1):
    return score("phq9", answers, at=NOW - days_ago * DAY)


def gad7(answers, days_ago=1):
    return score("gad7", answers, at=NOW - days_ago * DAY)


def spread(n_items, total, keep_last_zero=False):
    out, left = [0] * n_items, total
    for i in range(n_items - (1 if keep_last_zero else 0)):
        out[i] = min(3, left)
        left -= out[i]
    assert left == 0
    return out


def codes(reasons):
    return [r.code for r in reasons]


# --- risk tier: default rules ---


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, Risk.LOW),
        (9, Risk.LOW),
        (10, Risk.MEDIUM),
        (14, Risk.MEDIUM),
        (15, Risk.HIGH),
        (19, Risk.HIGH),
        (20, Risk.HIGH),
        (24, Risk.HIGH),
    ],
)
def test_phq9_total_thresholds(total, expected):
    g = grade(facts(phq9=phq9(spread(9, total, keep_last_zero=True))), RULES, NOW)
    assert g.risk is expected
    r = next(r for r in g.risk_reasons if r.code == "screening_total")
    assert r.params["total"] == total and r.params["tier"] == expected.value


@pytest.mark.parametrize(
    ("total", "expected"),
    [(9, Risk.LOW), (10, Risk.MEDIUM), (14, Risk.MEDIUM), (15, Risk.HIGH), (21, Risk.HIGH)],
)
def test_gad7_total_thresholds(total, expected):
    assert grade(facts(gad7=gad7(spread(7, total))), RULES, NOW).risk is expected


def test_item9_makes_crisis_whatever_the_total():
    g = grade(facts(phq9=phq9([0, 0, 0, 0, 0, 0, 0, 0, 1], days_ago=0)), RULES, NOW)
    assert g.risk is Risk.CRISIS
    assert g.risk_reasons[0] == Reason(
        "phq9_item9", {"answer": 1, "date": "2025-11-23", "tier": "crisis"}
    )


def test_counsellor_setting_is_kept_and_reported():
    g = grade(facts(counsellor_risk=Risk.HIGH, phq9=phq9([0] * 9)), RULES, NOW)
    assert g.risk is Risk.HIGH and g.risk_floor is Risk.LOW
    assert "counsellor_set" in codes(g.risk_reasons)


def test_risk_tags_raise_to_their_tier_and_unknown_tags_are_ignored():
    g = grade(facts(risk_tags=("班干部", "家庭变故", "挂科", "family crisis")), RULES, NOW)
    assert g.risk is Risk.HIGH
    tags = [r.params["tag"] for r in g.risk_reasons if r.code == "risk_tag"]
    assert tags == ["family_crisis", "failing_courses"]  # highest first, each once


def test_no_risk_factors_still_gives_a_reason():
    g = grade(facts(), RULES, NOW)
    assert g.risk is Risk.LOW
    assert codes(g.risk_reasons) == ["no_risk_factors"]


def test_lost_contact_against_the_cadence_of_the_current_tier():
    # medium (failing courses): every 14 days, lost after 28
    g = grade(facts(risk_tags=("挂科",), interactions=(NOW - 41 * DAY,)), RULES, NOW)
    lost = next(r for r in g.risk_reasons if r.code == "contact_gap")
    assert lost.params == {
        "days": 41,
        "cadence_days": 14,
        "limit_days": 28,
        "tier": "medium",
        "last_contact": "2025-10-13",
    }
    # low: every 60 days, lost after 120
    assert grade(facts(interactions=(NOW - 119 * DAY,)), RULES, NOW).risk is Risk.LOW
    g = grade(facts(interactions=(NOW - 121 * DAY,)), RULES, NOW)
    assert g.risk is Risk.MEDIUM and g.risk_reasons[0].code == "contact_gap"


def test_never_contacted_counts_from_creation():
    g = grade(facts(interactions=(), created_at=NOW - 130 * DAY), RULES, NOW)
    assert g.risk is Risk.MEDIUM
    assert g.risk_reasons[0].code == "never_contacted"
    assert g.risk_reasons[0].params["days"] == 130
    assert grade(facts(interactions=(), created_at=None), RULES, NOW).risk is Risk.LOW


def test_last_contact_at_from_the_caller_counts():
    g = grade(facts(interactions=(), last_contact_at=NOW - 3 * DAY), RULES, NOW)
    assert g.last_contact_at == NOW - 3 * DAY
    assert "contact_gap" not in codes(g.risk_reasons)


def test_stale_screening_no_longer_raises():
    g = grade(facts(phq9=phq9([3] * 9, days_ago=91)), RULES, NOW)
    assert g.risk is Risk.LOW
    assert codes(g.risk_reasons) == ["screening_stale"]
    assert g.risk_reasons[0].params["days"] == 91


def test_trend():
    g = grade(facts(phq9=phq9(spread(9, 9, True)), previous_phq9_total=3), RULES, NOW)
    assert g.risk is Risk.MEDIUM
    assert g.risk_reasons[0] == Reason(
        "screening_worsening",
        {"instrument": "PHQ-9", "previous": 3, "total": 9, "points": 6, "tier": "medium"},
    )
    g = grade(facts(gad7=gad7(spread(7, 4)), previous_gad7_total=12), RULES, NOW)
    assert g.risk is Risk.LOW
    assert "screening_improving" in codes(g.risk_reasons)


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        grade(facts(), RULES, datetime(2025, 1, 1))


def test_dates_in_the_callers_timezone():
    late = datetime(2025, 11, 23, 20, 0, tzinfo=UTC)  # 04:00 on the 24th in Shanghai
    f = facts(phq9=score("phq9", [0] * 8 + [1], at=late))
    assert grade(f, RULES, late).risk_reasons[0].params["date"] == "2025-11-23"
    assert (
        grade(f, RULES, late, tz=ZoneInfo("Asia/Shanghai")).risk_reasons[0].params["date"]
        == "2025-11-24"
    )


# --- properties ---

phq9_answers = st.lists(st.integers(0, 3), min_size=9, max_size=9)
gad7_answers = st.lists(st.integers(0, 3), min_size=7, max_size=7)
risks = st.sampled_from(list(Risk))


@given(phq9_answers, gad7_answers, st.integers(0, 8), st.booleans())
def test_raising_any_answer_never_lowers_the_tier(p, g, i, on_phq9):
    base = grade(facts(phq9=phq9(p), gad7=gad7(g)), RULES, NOW).risk
    p2, g2 = list(p), list(g)
    if on_phq9:
        p2[i] = min(3, p2[i] + 1)
    else:
        g2[i % 7] = min(3, g2[i % 7] + 1)
    raised = grade(facts(phq9=phq9(p2), gad7=gad7(g2)), RULES, NOW).risk
    assert raised.rank >= base.rank


@given(phq9_answers, st.integers(1, 3), risks)
def test_item9_above_zero_is_always_crisis(p, item9, counsellor):
    p = p[:8] + [item9]
    assert grade(facts(phq9=phq9(p), counsellor_risk=counsellor), RULES, NOW).risk is Risk.CRISIS


@given(
    phq9_answers,
    gad7_answers,
    risks,
    st.lists(st.sampled_from(["失联", "挂科", "家庭变故", "班干部"]), max_size=3),
)
def test_counsellor_setting_never_lowered(p, g, counsellor, tags):
    got = grade(
        facts(phq9=phq9(p), gad7=gad7(g), counsellor_risk=counsellor, risk_tags=tuple(tags)),
        RULES,
        NOW,
    )
    assert got.risk.rank >= counsellor.rank
    assert got.risk.rank >= got.risk_floor.rank


# --- frequency ---


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [
        ((1, 6), "S"),
        ((1,), "A"),
        ((29,), "A"),
        ((31, 60), "B"),
        ((90,), "B"),
        ((92,), "C"),
        ((), "C"),
    ],
)
def test_frequency_tier_from_interactions(days_ago, expected):
    f = facts(interactions=tuple(NOW - d * DAY for d in days_ago))
    assert grade(f, RULES, NOW).frequency == expected


def test_frequency_required_by_the_risk_tier_and_below_standard():
    g = grade(facts(counsellor_risk=Risk.CRISIS, interactions=(NOW - DAY,)), RULES, NOW)
    assert (g.frequency, g.frequency_required, g.frequency_met) == ("A", "S", False)
    assert codes(g.frequency_reasons)[:3] == [
        "contacts_counted",
        "frequency_required",
        "frequency_below_standard",
    ]
    g = grade(facts(interactions=(NOW - DAY,)), RULES, NOW)
    assert (g.frequency, g.frequency_required, g.frequency_met) == ("A", "B", True)


def test_future_interactions_are_ignored():
    g = grade(facts(interactions=(NOW + DAY, NOW + 2 * DAY, NOW - 40 * DAY)), RULES, NOW)
    assert g.frequency == "B" and g.last_contact_at == NOW - 40 * DAY


def test_next_contact_due_and_overdue():
    g = grade(
        facts(counsellor_risk=Risk.HIGH, interactions=(NOW - 10 * DAY, NOW - 30 * DAY)), RULES, NOW
    )
    assert g.next_contact_due == NOW - 3 * DAY
    assert g.overdue and g.overdue_days == 3
    assert (
        Reason("contact_overdue", {"days": 3, "due": "2025-11-20", "cadence_days": 7})
        in g.frequency_reasons
    )
    g = grade(facts(interactions=(NOW - DAY,)), RULES, NOW)
    assert g.next_contact_due == NOW + 59 * DAY and not g.overdue and g.overdue_days == 0


def test_first_contact_due_within_response_time():
    g = grade(
        facts(counsellor_risk=Risk.HIGH, interactions=(), created_at=NOW - 2 * DAY), RULES, NOW
    )
    assert g.next_contact_due == NOW - DAY and g.overdue_days == 1
    assert "first_contact_due" in codes(g.frequency_reasons)


# --- needs ---


def test_need_urgency_is_the_most_urgent_category():
    g = grade(facts(needs=("想找实习", NeedFact("挂科两门", explicit=False), "助学金")), RULES, NOW)
    assert g.need_urgency == "B"
    assert g.need_categories == ("career", "academic", "financial")
    assert [r.params["urgency"] for r in g.need_reasons] == ["B", "B", "C"]
    assert g.need_reasons[0].params["explicit"] is False
    assert grade(facts(needs=("说不想活了",)), RULES, NOW).need_urgency == "A"
    assert grade(facts(needs=("growth",)), RULES, NOW).need_categories == ("growth",)


def test_no_needs_and_unclassified_needs():
    g = grade(facts(), RULES, NOW)
    assert (g.need_urgency, codes(g.need_reasons)) == (None, ["no_needs"])
    g = grade(facts(needs=("心里空空的",)), RULES, NOW)
    assert (g.need_urgency, codes(g.need_reasons)) == ("C", ["need_unclassified"])


# --- value ---


def test_value_tier_off_by_default_and_on_when_enabled():
    info = ValueInfo(payment_capacity=5, payer="self")
    g = grade(facts(value=info), RULES, NOW)
    assert (g.value, g.value_reasons) == (None, ())
    private = parse_rules(
        DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace("enabled = false", "enabled = true")
    )
    cases = [
        (ValueInfo(5, "self"), "V1"),
        (ValueInfo(4, "insurance"), "V2"),
        (ValueInfo(2, "self"), "V2"),
        (ValueInfo(1, "self"), "V3"),
        (ValueInfo(5, "sponsored"), "V3"),
        (None, None),
        (ValueInfo(None, "self"), None),
    ]
    for value, expected in cases:
        got = grade(facts(value=value), private, NOW)
        assert got.value == expected, value
        assert codes(got.value_reasons) == (["value_payment"] if expected else ["value_unknown"])


# --- regrade, alerts, review ---


def test_alert_when_rising_to_high_or_crisis_only():
    low = grade(facts(), RULES, NOW)
    high_facts = facts(risk_tags=("家庭变故",))
    d = regrade(low, high_facts, RULES, NOW)
    assert d.changed and d.risk_changed and d.alert is not None
    a = d.alert
    assert (a.tier, a.previous, a.raised_at) == (Risk.HIGH, Risk.LOW, NOW)
    assert a.respond_by == NOW + timedelta(hours=24)
    assert (a.realert_at, a.escalate_at) == (
        NOW + timedelta(minutes=120),
        NOW + timedelta(minutes=1440),
    )
    assert d.changes[0].dimension == "risk" and (d.changes[0].old, d.changes[0].new) == (
        "low",
        "high",
    )
    assert d.changes[0].reasons[0].code == "risk_tag"

    crisis_facts = facts(phq9=phq9([0] * 8 + [2]))
    d2 = regrade(d.grades, crisis_facts, RULES, NOW)
    assert (
        d2.alert is not None
        and d2.alert.tier is Risk.CRISIS
        and d2.alert.escalate_at == NOW + timedelta(minutes=30)
    )

    assert regrade(d2.grades, crisis_facts, RULES, NOW).alert is None  # stays
    fall = regrade(d2.grades, high_facts, RULES, NOW)  # falls
    assert fall.alert is None and fall.risk_changed
    medium = regrade(low, facts(risk_tags=("挂科",)), RULES, NOW)  # rises, but not to high
    assert medium.alert is None and medium.risk_changed


def test_first_grading_counts_as_rising_from_low():
    d = regrade(None, facts(counsellor_risk=Risk.HIGH), RULES, NOW)
    assert d.alert is not None and d.alert.previous is None
    assert regrade(None, facts(), RULES, NOW).alert is None


def test_unchanged_regrade_and_review_clock_restart():
    f = facts(tier_set_at=NOW - 10 * DAY)
    g = grade(f, RULES, NOW)
    assert g.review_due_at == NOW + 80 * DAY
    d = regrade(g, f, RULES, NOW + DAY)
    assert not d.changed and d.changes == () and d.alert is None
    d = regrade(g, replace(f, risk_tags=("挂科",)), RULES, NOW)
    assert d.grades.review_due_at == NOW + 30 * DAY  # medium: review in 30 days from the change


def test_review_due():
    set_at = NOW - 3 * DAY
    assert review_due_at(set_at, Risk.CRISIS, RULES) == NOW
    assert review_due(set_at, Risk.CRISIS, RULES, NOW)
    assert not review_due(set_at, Risk.CRISIS, RULES, NOW - timedelta(seconds=1))
    assert not review_due(set_at, Risk.LOW, RULES, NOW)
    assert review_due(NOW - 90 * DAY, Risk.LOW, RULES, NOW)


def test_urgency_key_sorts_risk_then_longest_without_contact():
    rows = [
        ("low-old", facts(interactions=(NOW - 100 * DAY,))),
        ("high-recent", facts(counsellor_risk=Risk.HIGH, interactions=(NOW - DAY,))),
        ("high-old", facts(counsellor_risk=Risk.HIGH, interactions=(NOW - 5 * DAY,))),
        ("high-never", facts(counsellor_risk=Risk.HIGH, interactions=())),
        ("crisis", facts(counsellor_risk=Risk.CRISIS)),
    ]
    graded = [(name, grade(f, RULES, NOW)) for name, f in rows]
    order = [
        name for name, g in sorted(graded, key=lambda x: urgency_key(x[1], x[1].last_contact_at))
    ]
    assert order == ["crisis", "high-never", "high-old", "high-recent", "low-old"]


def test_grade_many_equals_grade():
    fs = [facts(client_id=i, interactions=(NOW - i * DAY,)) for i in range(1, 50)]
    assert grade_many(fs, RULES, NOW) == [grade(f, RULES, NOW) for f in fs]


# --- reason codes: registry, params and templates ---


def _emitted_codes() -> set[str]:
    tree = ast.parse(inspect.getsource(tiering))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Reason" and node.args:
            arg = node.args[0]
            assert isinstance(arg, ast.Constant), "reason codes must be literal strings"
            found.add(arg.value)
    return found


def test_every_emitted_code_is_registered():
    assert _emitted_codes() == set(REASON_PARAMS)


def _varied_facts():
    private = parse_rules(
        DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace("enabled = false", "enabled = true")
    )
    yield RULES, facts()
    yield (
        RULES,
        facts(interactions=(), created_at=NOW - 300 * DAY, needs=("挂科", NeedFact("？？", False))),
    )
    yield (
        RULES,
        facts(
            phq9=phq9([3] * 9),
            gad7=gad7([0] * 7),
            previous_phq9_total=2,
            previous_gad7_total=12,
            risk_tags=("失联", "孤立"),
            counsellor_risk=Risk.HIGH,
            interactions=(NOW - 50 * DAY,),
        ),
    )
    yield RULES, facts(phq9=phq9([3] * 9, days_ago=200))
    yield RULES, facts(interactions=(), created_at=NOW)
    yield private, facts(value=ValueInfo(3, "self"))
    yield private, facts()
    from domain.safety import triage

    check = triage(
        {
            "wish": True,
            "thoughts": True,
            "method": False,
            "intent": True,
            "plan": False,
            "behaviour": False,
            "behaviour_recent": None,
        },
        RULES.safety_check.levels(),
    )
    yield RULES, facts(safety_check=replace(check, at=NOW - DAY))
    yield RULES, facts(held=Risk.CRISIS, held_since=NOW - 9 * DAY)
    yield RULES, facts(unreached_streak=3)
    yield RULES, facts(safety_check=replace(check, at=NOW - 60 * DAY))


def test_emitted_params_match_the_registry():
    seen = set()
    for rules, f in _varied_facts():
        for r in grade(f, rules, NOW).reasons:
            assert set(r.params) == set(REASON_PARAMS[r.code]), r
            assert all(isinstance(v, (str, int, float, bool)) for v in r.params.values()), r
            seen.add(r.code)
    assert seen == set(REASON_PARAMS)  # the varied facts reach every code


SAMPLE = {
    "tier": "high",
    "risk": "crisis",
    "answer": 2,
    "date": "2025-11-23",
    "instrument": "PHQ-9",
    "total": 22,
    "band": "severe",
    "threshold": 20,
    "days": 41,
    "valid_days": 90,
    "previous": 12,
    "points": 10,
    "tag": "family_crisis",
    "en": "family crisis",
    "zh": "家庭变故",
    "cadence_days": 14,
    "limit_days": 28,
    "last_contact": "2025-10-13",
    "since": "2025-06-01",
    "count": 3,
    "window_days": 30,
    "actual": "B",
    "required": "S",
    "due": "2025-11-20",
    "hours": 24,
    "category": "academic",
    "urgency": "B",
    "text": "挂科 <3 门 & a<b",
    "explicit": False,
    "capacity": 4,
    "payer": "self",
    "ideal": "2025-11-25",
    "latest": "2025-11-30",
    "items": "intent,plan",
}


@pytest.fixture(scope="module")
def env():
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("code", sorted(REASON_PARAMS))
def test_every_reason_code_has_a_template_branch(env, lang, code):
    module = env.get_template(f"{lang}/reasons.j2").module
    params = {name: SAMPLE[name] for name in REASON_PARAMS[code]}
    out = str(module.reason(Reason(code, params))).strip()
    fallback = str(module.reason(Reason("no_such_code", {}))).strip()
    assert out and fallback == "[no_such_code]"
    assert out != f"[{code}]"
    assert "&lt;3" in out if "text" in params else "<" not in out
    if lang == "zh":
        assert any("\u4e00" <= ch <= "\u9fff" for ch in out)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_real_grades_render(env, lang):
    module = env.get_template(f"{lang}/reasons.j2").module
    for rules, f in _varied_facts():
        for r in grade(f, rules, NOW).reasons:
            out = str(module.reason(r))
            assert out.strip() and not out.startswith("["), r


@settings(max_examples=50)
@given(
    st.lists(st.integers(0, 3), min_size=9, max_size=9),
    st.sampled_from([None, ZoneInfo("Asia/Shanghai")]),
)
def test_grading_is_deterministic(p, tz):
    f = facts(phq9=phq9(p))
    assert grade(f, RULES, NOW, tz) == grade(f, RULES, NOW, tz)


def test_days_late_counts_calendar_days_in_the_counsellors_zone() -> None:
    from zoneinfo import ZoneInfo

    from domain.tiering import days_late

    shanghai = ZoneInfo("Asia/Shanghai")
    due = datetime(2026, 12, 6, 9, 38, tzinfo=UTC)  # 17:38 in Shanghai, 12-06
    assert days_late(None, due, shanghai) == 0
    assert days_late(due, due, shanghai) == 0
    assert days_late(due, due + timedelta(hours=6), shanghai) == 0  # 23:38, the same day
    # 12-07 00:30 in Shanghai: a day late by the calendar, though not 24 hours
    assert days_late(due, datetime(2026, 12, 6, 16, 30, tzinfo=UTC), shanghai) == 1
    assert days_late(due, datetime(2026, 12, 9, 2, 0, tzinfo=UTC), shanghai) == 3
    assert days_late(due, due - timedelta(days=2), shanghai) == 0
