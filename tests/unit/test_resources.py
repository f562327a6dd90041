"""The resource catalogue (价值匹配) as data: loading, validation errors naming the key, lookup."""

from __future__ import annotations

import pytest

from domain.resources import KINDS, ResourcesError, load_resources, parse_resources
from domain.rules import load_rules

GOOD = """
version = 1
[[resources]]
code = "tutoring"
kind = "on_campus"
en = "Tutoring"
zh = "学业辅导"
desc_en = "Course tutoring."
desc_zh = "课程辅导。"
"""


def test_default_catalogue_loads_with_every_kind():
    cat = load_resources()
    assert cat.source == "default_resources.toml"
    assert {r.kind for r in cat.resources} == set(KINDS)
    assert [k for k, _ in cat.by_kind()] == list(KINDS)
    for code in (
        "tutoring",
        "counselling_centre",
        "work_study",
        "professor_lab",
        "internship",
        "alumni_mentor",
        "study_plan",
        "check_ins",
    ):
        assert cat.get(code) is not None
    for r in cat.resources:
        assert r.en and r.zh and r.desc_en and r.desc_zh
        assert len(f"rr:{2**31 - 1}:{r.code}".encode()) <= 64


def test_default_need_codes_exist_in_the_rule_base():
    known = {c.code for c in load_rules().needs.categories}
    for r in load_resources().resources:
        assert set(r.needs) <= known, r.code


def test_a_minimal_file_loads():
    cat = parse_resources(GOOD)
    assert cat.get("tutoring").name("zh") == "学业辅导"
    assert cat.get("tutoring").desc("en") == "Course tutoring."


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (
            lambda t: t.replace('kind = "on_campus"', 'kind = "abroad"'),
            "resources[0].kind",
            "must be one of",
        ),
        (
            lambda t: t.replace('code = "tutoring"', 'code = "Tutoring!"'),
            "resources[0].code",
            "lower-case",
        ),
        (lambda t: t.replace('zh = "学业辅导"\n', ""), "resources[0].zh", "missing"),
        (lambda t: t.replace('en = "Tutoring"', 'en = ""'), "resources[0].en", "must not be empty"),
        (lambda t: t + 'colour = "red"\n', "resources[0].colour", "unknown key"),
        (
            lambda t: t.replace('desc_zh = "课程辅导。"', "desc_zh = 3"),
            "resources[0].desc_zh",
            "must be a string",
        ),
        (lambda t: t + 'aliases = "tutor"\n', "resources[0].aliases", "must be an array"),
        (lambda t: t.replace("version = 1", "version = 2"), "version", "must be one of"),
        (lambda t: t + t.split("version = 1")[1], "resources[1].code", "used twice"),
        (
            lambda t: (
                t
                + t.split("version = 1")[1]
                .replace('"tutoring"', '"peer"', 1)
                .replace('"Tutoring"', '"Peer"')
            ),
            "resources[1].zh",
            "names both 'tutoring' and 'peer'",
        ),
    ],
)
def test_each_mistake_names_the_key(edit, key, problem):
    with pytest.raises(ResourcesError) as exc:
        parse_resources(edit(GOOD), source="mine.toml")
    assert (key,) in [(p,) for p, _ in exc.value.problems]
    assert f"mine.toml: {key}: " in str(exc.value) and problem in str(exc.value)


def test_syntax_error_and_unreadable_file(tmp_path):
    with pytest.raises(ResourcesError, match=r"mine.toml: line \d+, column \d+: TOML syntax error"):
        parse_resources("version = = 1", source="mine.toml")
    with pytest.raises(ResourcesError, match="cannot read"):
        load_resources(tmp_path / "missing.toml")
    path = tmp_path / "r.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_resources(path).source == str(path)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("tutoring", "tutoring"),
        ("TUTORING", "tutoring"),
        ("学业辅导", "tutoring"),
        ("辅导", "tutoring"),
        ("Counselling centre", "counselling_centre"),
        ("counselling   CENTRE", "counselling_centre"),
        ("心理咨询中心", "counselling_centre"),
        ("心理", "counselling_centre"),
        ("work-study", "work_study"),
        ("勤工", "work_study"),
        ("alum", "alumni_mentor"),
        ("校友导师", "alumni_mentor"),
        ("实习", "internship"),
        ("check-in", "check_ins"),
        ("定期", "check_ins"),
        ("study_plan", "study_plan"),
        ("学习计划", "study_plan"),
    ],
)
def test_lookup_by_code_name_alias_or_prefix(text, code):
    found = load_resources().lookup(text)
    assert found.resource is not None and found.resource.code == code and not found.candidates


def test_ambiguous_prefix_and_free_text():
    cat = load_resources()
    amb = cat.lookup("ca")
    assert amb.resource is None and {r.code for r in amb.candidates} == {
        "career_centre",
        "campus_clinic",
    }
    assert len(cat.lookup("c").candidates) > 2
    assert cat.lookup("Prof. Li's reading group") == type(amb)()
    assert cat.lookup("   ") == type(amb)()
    # Exact names win over prefixes; prefix matching can be switched off (quoted text).
    assert cat.lookup("lab").resource.code == "professor_lab"
    assert cat.lookup("tut", prefix=False).resource is None


def test_labels_and_need_matching():
    cat = load_resources()
    assert cat.label("tutoring", "zh") == "学业辅导" and cat.label("tutoring", "en") == "Tutoring"
    assert cat.label("Prof. Li's group", "zh") == "Prof. Li's group"
    codes = [r.code for r in cat.for_needs({"financial"}, [])]
    assert codes == ["work_study", "financial_aid"]
    assert "work_study" in [r.code for r in cat.for_needs(set(), ["晚上在打工"])]
    assert cat.for_needs(set(), []) == []


def test_chinese_descriptions_use_full_width_punctuation():
    """A counsellor reads these on a phone: "，：" after a Chinese character, not ",:"."""
    import re

    half_width = re.compile(r"[\u4e00-\u9fff][,?:;!]|[,?:;!][\u4e00-\u9fff]")
    for r in load_resources().resources:
        for text in (r.zh, r.desc_zh):
            assert not half_width.search(text), (r.code, text)
