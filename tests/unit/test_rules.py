from datetime import UTC, datetime, timedelta

import pytest

from domain.model import Risk
from domain.rules import DEFAULT_RULES_PATH, RulesError, load_rules, parse_rules
from domain.screening import score
from domain.tiering import ClientFacts, grade

DEFAULT_TEXT = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
NOW = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)


def with_replaced(old: str, new: str) -> str:
    assert DEFAULT_TEXT.count(old) == 1, old
    return DEFAULT_TEXT.replace(old, new)


def problem(text: str) -> str:
    with pytest.raises(RulesError) as err:
        parse_rules(text)
    return str(err.value)


def test_default_file_loads_with_campus_defaults():
    rules = load_rules(None)
    assert rules is load_rules()  # cached
    expected = {
        Risk.CRISIS: (1, 2, 3, 15, 30),
        Risk.HIGH: (24, 7, 7, 120, 1440),
        Risk.MEDIUM: (72, 14, 30, None, None),
        Risk.LOW: (168, 60, 90, None, None),
    }
    for risk, values in expected.items():
        s = rules.standard(risk)
        got = (
            s.respond_within_hours,
            s.contact_every_days,
            s.review_after_days,
            s.realert_minutes,
            s.escalate_minutes,
        )
        assert got == values
    t = rules.thresholds
    assert (t.phq9_item9_crisis, t.phq9_high, t.gad7_high, t.phq9_medium, t.gad7_medium) == (
        1,
        15,
        15,
        10,
        10,
    )
    assert t.lost_contact_factor == 2 and t.lost_contact_min_tier is Risk.MEDIUM
    assert rules.value.enabled is False
    assert [
        rules.required_frequency(r) for r in (Risk.CRISIS, Risk.HIGH, Risk.MEDIUM, Risk.LOW)
    ] == ["S", "A", "A", "B"]


def test_load_rules_from_a_path(tmp_path):
    path = tmp_path / "campus.toml"
    path.write_text(DEFAULT_TEXT, encoding="utf-8")
    rules = load_rules(path)
    assert rules.source == str(path)
    assert rules.standard("crisis").contact_every_days == 2


def test_missing_file_is_a_rules_error(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "tag", "expected"),
    [
        (["失联"], "lost_contact", Risk.HIGH),
        (["Lost Contact", "unreachable"], "lost_contact", Risk.HIGH),
        (["联系不上"], "lost_contact", Risk.HIGH),
        (["挂科", "学业预警"], "failing_courses", Risk.MEDIUM),
        (["家庭变故", "family crisis"], "family_crisis", Risk.HIGH),
        (["自伤史", "self-harm history"], "self_harm_history", Risk.HIGH),
    ],
)
def test_risk_tags_by_label_and_alias(text, tag, expected):
    rules = load_rules(None)
    for t in text:
        found = rules.tag(t)
        assert found is not None and found.code == tag and found.min_tier is expected
    assert rules.tag("班干部") is None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("挂科两门", "academic"),
        ("想申请助学金", "financial"),
        ("最近失眠", "psychological"),
        ("暑假找实习", "career"),
        ("looking for an internship", "career"),
        ("trouble paying tuition", "financial"),
        ("说不想活了", "crisis"),
        ("financial", "financial"),  # a category given by its code
        ("经济", "financial"),  # … or its label
    ],
)
def test_need_classification(text, category):
    cats = load_rules(None).classify_need(text)
    assert cats and cats[0].code == category


def test_need_classification_latin_keywords_match_whole_words_only():
    rules = load_rules(None)
    assert rules.classify_need("jobs fair")[0].code == "career"
    assert rules.classify_need("the billboard") == ()  # "ill" inside a word
    assert [c.code for c in rules.classify_need("挂科,想申请助学金")] == ["academic", "financial"]


# --- each kind of mistake names its key ---


def test_syntax_error_names_the_line():
    text = DEFAULT_TEXT.replace("phq9_high = 15", "phq9_high = = 20")
    msg = problem(text)
    line = (
        DEFAULT_TEXT.splitlines().index(
            next(x for x in DEFAULT_TEXT.splitlines() if x.startswith("phq9_high"))
        )
        + 1
    )
    assert msg.startswith(f"rules.toml: line {line}, column ")
    assert "TOML syntax error" in msg


def test_unknown_key_top_level_and_nested():
    assert "rules.toml: colour: unknown key" in problem("colour = 'red'\n" + DEFAULT_TEXT)
    msg = problem(
        with_replaced("review_after_days = 3\n", "review_after_days = 3\nreveiw_days = 4\n")
    )
    assert msg == "rules.toml: tiers.crisis.reveiw_days: unknown key"


def test_negative_and_zero_numbers():
    msg = problem(with_replaced("respond_within_hours = 1\n", "respond_within_hours = 0\n"))
    assert msg == "rules.toml: tiers.crisis.respond_within_hours: must be > 0, got 0"
    msg = problem(with_replaced("contact_every_days = 14", "contact_every_days = -14"))
    assert msg == "rules.toml: tiers.medium.contact_every_days: must be > 0, got -14"
    msg = problem(with_replaced("phq9_high = 15", "phq9_high = 30"))
    assert msg == "rules.toml: thresholds.phq9_high: must be <= 27, got 30"


def test_wrong_types():
    msg = problem(with_replaced("respond_within_hours = 24", 'respond_within_hours = "24"'))
    assert msg == "rules.toml: tiers.high.respond_within_hours: must be a number, got a string '24'"
    msg = problem(with_replaced("realert_minutes = 15", "realert_minutes = 15.5"))
    assert msg.startswith("rules.toml: tiers.crisis.realert_minutes: must be an integer")
    msg = problem(with_replaced("enabled = false", 'enabled = "no"'))
    assert msg.startswith("rules.toml: value.enabled: must be true or false")
    msg = problem(
        with_replaced(
            'min_tier = "high"\n\n[[risk_tags]]\ncode = "bereavement"',
            'min_tier = "severe"\n\n[[risk_tags]]\ncode = "bereavement"',
        )
    )
    assert msg.startswith("rules.toml: risk_tags[2].min_tier: must be one of")
    msg = problem(with_replaced('urgency = "A"', 'urgency = "D"'))
    assert msg.startswith("rules.toml: needs.categories[0].urgency: must be one of")


def test_missing_tier_and_missing_field():
    start = DEFAULT_TEXT.index("[tiers.medium]")
    end = DEFAULT_TEXT.index("[tiers.low]")
    msg = problem(DEFAULT_TEXT[:start] + DEFAULT_TEXT[end:])
    assert msg == "rules.toml: tiers.medium: missing (required)"
    msg = problem(with_replaced("review_after_days = 90\n", ""))
    assert msg == "rules.toml: tiers.low.review_after_days: missing (required)"


def test_cross_checks():
    assert "thresholds: phq9_medium (21) must be <= phq9_high (15)" in problem(
        with_replaced("phq9_medium = 10", "phq9_medium = 21")
    )
    assert "'自伤' names both" in problem(
        with_replaced(
            'aliases = ["欺凌", "霸凌", "被欺负", "bullied"]', 'aliases = ["欺凌", "自伤"]'
        )
    )
    assert "code 'bullying' is used twice" in problem(
        with_replaced('code = "social_isolation"', 'code = "bullying"')
    )


def test_several_problems_one_line_each_and_source_name():
    text = "extra = 1\n" + with_replaced(
        "respond_within_hours = 1\n", "respond_within_hours = -1\n"
    )
    with pytest.raises(RulesError) as err:
        parse_rules(text, source="/etc/caremap/rules.toml")
    lines = str(err.value).splitlines()
    assert lines == [
        "/etc/caremap/rules.toml: tiers.crisis.respond_within_hours: must be > 0, got -1",
        "/etc/caremap/rules.toml: extra: unknown key",
    ]
    assert "value.extra" in problem(DEFAULT_TEXT + "\nextra = 1\n")  # appended: inside [value]
    assert err.value.problems[1] == ("extra", "unknown key")


# --- a modified rule file changes grades without code changes ---


def test_modified_rules_change_grades():
    default = load_rules(None)
    stricter = parse_rules(with_replaced("phq9_medium = 10", "phq9_medium = 5"))
    facts = ClientFacts(
        client_id=1, phq9=score("phq9", [1, 1, 1, 1, 1, 1, 0, 0, 0], at=NOW), interactions=(NOW,)
    )
    assert grade(facts, default, NOW).risk is Risk.LOW
    assert grade(facts, stricter, NOW).risk is Risk.MEDIUM

    # a shorter low-tier cadence makes a quiet client "lost contact" sooner
    quiet = ClientFacts(client_id=2, interactions=(NOW - timedelta(days=50),))
    assert grade(quiet, default, NOW).risk is Risk.LOW
    monthly = parse_rules(with_replaced("contact_every_days = 60", "contact_every_days = 20"))
    g = grade(quiet, monthly, NOW)
    assert g.risk is Risk.MEDIUM
    assert g.risk_reasons[0].code == "contact_gap"
    assert g.risk_reasons[0].params["cadence_days"] == 20

    # a new need category, and a tag raised to high
    extra = (
        DEFAULT_TEXT
        + '\n[[needs.categories]]\ncode = "housing"\nen = "housing"\nzh = "住宿"\nurgency = "A"\nkeywords = ["宿舍", "dorm"]\n'
    )
    extra = extra.replace(
        'aliases = ["学业预警", "不及格", "重修", "failing", "academic warning", "academic probation"]\nmin_tier = "medium"',
        'aliases = ["学业预警"]\nmin_tier = "high"',
    )
    custom = parse_rules(extra)
    needy = ClientFacts(client_id=3, needs=("宿舍漏水",), risk_tags=("挂科",), interactions=(NOW,))
    g0, g1 = grade(needy, default, NOW), grade(needy, custom, NOW)
    assert (g0.need_urgency, g1.need_urgency) == ("C", "A")
    assert (g0.risk, g1.risk) == (Risk.MEDIUM, Risk.HIGH)
    assert g1.need_categories == ("housing",)
