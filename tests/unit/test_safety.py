"""The safety check: triage table, one more "yes" never lowers the result (property), the skip
logic and the button encoding, the triage as data, and the no-downgrade rule in the domain."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import safety
from domain.model import Risk
from domain.rules import DEFAULT_RULES_PATH, RulesError, load_rules, parse_rules
from domain.screening import score
from domain.tiering import ClientFacts, grade, regrade

RULES = load_rules(None)
LEVELS = RULES.safety_check.levels()
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RANK = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRISIS: 3}


def answers(yes=(), no=None):
    """Every item answered: those in `yes` yes, the others no (or None when not asked)."""
    out = {i: (i in yes) for i in safety.ITEMS}
    if "thoughts" not in yes:
        for i in ("method", "intent", "plan"):
            out[i] = None if i not in yes else True
    if "behaviour" not in yes and "behaviour_recent" not in yes:
        out["behaviour_recent"] = None
    return out


@pytest.mark.parametrize(
    ("yes", "expected", "deciding"),
    [
        ((), Risk.LOW, ()),
        (("wish",), Risk.MEDIUM, ("wish",)),
        (("thoughts",), Risk.MEDIUM, ("thoughts",)),
        (("wish", "thoughts"), Risk.MEDIUM, ("wish", "thoughts")),
        (("wish", "thoughts", "method"), Risk.HIGH, ("method",)),
        (("behaviour",), Risk.HIGH, ("behaviour",)),
        (("wish", "thoughts", "intent"), Risk.CRISIS, ("intent",)),
        (("wish", "thoughts", "plan"), Risk.CRISIS, ("plan",)),
        (("behaviour", "behaviour_recent"), Risk.CRISIS, ("behaviour_recent",)),
        (
            ("wish", "thoughts", "method", "intent", "plan", "behaviour", "behaviour_recent"),
            Risk.CRISIS,
            ("intent", "plan", "behaviour_recent"),
        ),
    ],
)
def test_triage_table(yes, expected, deciding):
    check = safety.triage(answers(yes), LEVELS)
    assert check.result is expected and check.deciding == deciding


full_answers = st.fixed_dictionaries(
    {i: st.sampled_from([True, False, None]) for i in safety.ITEMS}
)


@given(full_answers, st.sampled_from(safety.ITEMS))
def test_one_more_yes_never_lowers_the_result(a, item):
    before = safety.triage(a, LEVELS).result
    after = safety.triage({**a, item: True}, LEVELS).result
    assert RANK[after] >= RANK[before]


@given(
    full_answers,
    st.sampled_from(safety.ITEMS),
    st.fixed_dictionaries(
        {i: st.sampled_from(["crisis", "high", "medium", "none"]) for i in safety.ITEMS}
    ),
)
def test_monotone_for_any_triage_in_the_rule_file(a, item, where):
    levels = {
        tier: tuple(i for i in safety.ITEMS if where[i] == tier.value)
        for tier in (Risk.CRISIS, Risk.HIGH, Risk.MEDIUM)
    }
    assert (
        RANK[safety.triage({**a, item: True}, levels).result]
        >= RANK[safety.triage(a, levels).result]
    )


def test_skip_logic_and_the_order_of_questions():
    a: dict = {}
    asked = []
    for reply in (True, False, False):  # wish yes, thoughts no → behaviour, no → done
        item = safety.next_item(a)
        asked.append(item)
        a[item] = reply
    assert asked == ["wish", "thoughts", "behaviour"] and safety.next_item(a) is None
    assert safety.complete(a)["method"] is None
    b = {"wish": False, "thoughts": True}
    assert safety.next_item(b) == "method"
    b.update(method=False, intent=False, plan=False, behaviour=True)
    assert safety.next_item(b) == "behaviour_recent"
    with pytest.raises(ValueError, match="not finished"):
        safety.complete({"wish": True})


@given(full_answers)
def test_the_button_encoding_round_trips_for_any_real_check(a):
    # build the answers as the questions would be asked
    got: dict = {}
    while (item := safety.next_item(got)) is not None:
        got[item] = bool(a[item])
    code = safety.encode_answers(got)
    assert len(code) <= 7 and len(f"sk:{2**31 - 1}:{code}".encode()) <= 64
    assert {k: v for k, v in safety.decode_answers(code).items() if v is not None} == got


@pytest.mark.parametrize("forged", ["yyyyyyyy", "abc", "n-", "ny-", "nn-y", "y" * 20])
def test_forged_codes_are_refused(forged):
    with pytest.raises(ValueError):
        safety.decode_answers(forged)


def test_the_triage_is_data_in_the_rule_file():
    text = (
        DEFAULT_RULES_PATH.read_text(encoding="utf-8")
        .replace('high = ["method", "behaviour"]', 'high = ["behaviour"]')
        .replace(
            'crisis = ["intent", "plan", "behaviour_recent"]',
            'crisis = ["method", "intent", "plan", "behaviour_recent"]',
        )
    )
    rules = parse_rules(text)
    assert (
        safety.triage(answers(("wish", "thoughts", "method")), rules.safety_check.levels()).result
        is Risk.CRISIS
    )
    bad = DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace(
        'high = ["method", "behaviour"]', 'high = ["method", "intent"]'
    )
    with pytest.raises(RulesError, match="more than one tier"):
        parse_rules(bad)
    with pytest.raises(RulesError, match="safety_check.medium"):
        parse_rules(
            DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace(
                'medium = ["wish", "thoughts"]', 'medium = ["wishes"]'
            )
        )


# --- grading with a safety check, and no silent downgrade ---


def facts(**kw):
    kw.setdefault("client_id", 3)
    kw.setdefault("interactions", (NOW - DAY,))
    kw.setdefault("created_at", NOW - 300 * DAY)
    return ClientFacts(**kw)


def checked(yes, days_ago=0):
    return replace(safety.triage(answers(yes), LEVELS), at=NOW - days_ago * DAY)


def test_a_safety_check_raises_the_tier_with_its_reason():
    g = grade(facts(safety_check=checked(("wish", "thoughts", "plan"))), RULES, NOW)
    assert g.risk is Risk.CRISIS and g.held is Risk.CRISIS
    r = g.risk_reasons[0]
    assert r.code == "safety_check" and r.params == {
        "date": "2026-12-01",
        "tier": "crisis",
        "items": "plan",
    }
    g = grade(facts(safety_check=checked(("behaviour",))), RULES, NOW)
    assert g.risk is Risk.HIGH and g.held is Risk.HIGH  # high from a safety check is held too
    g = grade(facts(safety_check=checked(("wish",))), RULES, NOW)
    assert g.risk is Risk.MEDIUM and g.held is None
    g = grade(facts(counsellor_risk=Risk.HIGH), RULES, NOW)
    assert g.risk is Risk.HIGH and g.held is None  # a high set by hand is the counsellor's own


def _step(previous, f, now):
    """One re-grade as the service does it: the stored grades feed the next facts (the tier
    was set at NOW in these tests)."""
    f = replace(f, tier_set_at=NOW)
    if previous is not None:
        f = replace(
            f,
            standing_risk=previous.risk,
            tier_since=previous.tier_since,
            held=previous.held,
            held_since=previous.held_since,
        )
    return regrade(previous, f, RULES, now).grades


def test_item9_then_item9_zero_and_100_days_still_crisis_until_reviewed():
    g = _step(None, facts(phq9=score("phq9", [0] * 8 + [1], at=NOW)), NOW)
    assert g.risk is Risk.CRISIS and g.held is Risk.CRISIS and not g.review_requested
    week = NOW + 7 * DAY
    g = _step(
        g,
        facts(phq9=score("phq9", [0] * 9, at=week), previous_phq9_total=1, interactions=(week,)),
        week,
    )
    assert g.risk is Risk.CRISIS and g.risk_floor is Risk.LOW
    assert g.risk_reasons[0].code == "held_until_review"
    first_due = g.review_due_at
    assert g.review_requested and first_due <= week  # the review is due (asked for at once)
    for days in (30, 60, 91, 107):
        t = NOW + days * DAY
        g = _step(
            g,
            facts(
                phq9=score("phq9", [0] * 9, at=week), previous_phq9_total=1, interactions=(week,)
            ),
            t,
        )
        assert g.risk is Risk.CRISIS and g.held is Risk.CRISIS, days
        assert g.review_due_at == first_due  # still due since then: not re-sent on each re-grade


def test_a_stale_screening_does_not_lower_a_held_crisis():
    g = _step(None, facts(phq9=score("phq9", [0] * 8 + [1], at=NOW)), NOW)
    later = NOW + 91 * DAY
    g = _step(
        g, facts(phq9=score("phq9", [0] * 8 + [1], at=NOW), interactions=(later - DAY,)), later
    )
    assert g.risk is Risk.CRISIS and g.review_requested
    codes = [r.code for r in g.risk_reasons]
    assert codes[0] == "held_until_review" and "screening_stale" in codes


def test_a_newer_check_that_no_longer_supports_a_high_asks_for_the_review():
    g = _step(None, facts(safety_check=checked(("behaviour",))), NOW)
    assert g.risk is Risk.HIGH and g.held is Risk.HIGH
    t = NOW + 3 * DAY
    g = _step(g, facts(safety_check=checked((), days_ago=-3)), t)
    assert g.risk is Risk.HIGH and g.review_requested and g.review_due_at == t


def test_without_the_hold_the_tier_follows_the_facts():
    g = _step(None, facts(phq9=score("phq9", [0] * 8 + [1], at=NOW)), NOW)
    released = g._replace(held=None, held_since=None)
    t = NOW + 7 * DAY
    g2 = _step(released, facts(phq9=score("phq9", [0] * 9, at=t)), t)
    assert g2.risk is Risk.LOW and g2.held is None
