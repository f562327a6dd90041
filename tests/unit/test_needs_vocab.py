"""The need vocabulary (需求分析) against the seeds' own words and the known false hits, and
the resources those needs suggest (价值匹配)."""

from __future__ import annotations

import pytest

from domain.resources import load_resources
from domain.rules import load_rules

RULES = load_rules()
CATALOGUE = load_resources()


def cats(text: str) -> set[str]:
    return {c.code for c in RULES.classify_need(text)}


# the seed's explicit and implicit needs, and the cases' own needs, with common synonyms
SEED_NEEDS = [
    ("课程辅导", {"academic"}),
    ("课业辅导", {"academic"}),
    ("学业帮扶一对一", {"academic"}),
    ("实习推荐", {"career"}),
    ("心理咨询申请", {"psychological"}),
    ("渴望被认可", {"growth"}),
    ("需要社交支持", {"social"}),
    ("对未来感到迷茫", {"career"}),
    ("保研规划", {"career"}),
    ("推免", {"career"}),
    ("勤工助学", {"financial"}),
    ("勤工俭学", {"financial"}),
    ("需要兼职", {"financial"}),
    ("缺乏团队协作经验", {"social"}),
    ("对大学的学习方式感到迷茫", {"academic", "career"}),
    ("期中考试多门挂科", {"academic"}),
    ("经常缺课", {"academic"}),
    ("不想活了", {"crisis"}),
    ("需要心理危机干预", {"crisis", "psychological"}),
    ("internship referral", {"career"}),
    ("tutoring", {"academic"}),
    ("work-study", {"financial"}),
]

# words that used to land in the wrong category
FALSE_HITS = [
    ("工作坊", "career"),
    ("参加职业规划工作坊", None),  # career by 职业, never by 工作
    ("危机感", "crisis"),
    ("有危机感, 想提升自己", "crisis"),
    ("不想活动", "crisis"),
    ("咨询保研政策", "psychological"),
    ("职业咨询", "psychological"),
]


@pytest.mark.parametrize(("text", "expected"), SEED_NEEDS)
def test_seed_needs(text, expected):
    assert cats(text) == expected


@pytest.mark.parametrize(("text", "wrong"), FALSE_HITS)
def test_known_false_hits(text, wrong):
    found = cats(text)
    if wrong is not None:
        assert wrong not in found
    else:
        assert found == {"career", "growth"}


def suggested(needs: list[str]) -> list[str]:
    categories = {c for t in needs for c in cats(t)}
    return [r.code for r in CATALOGUE.for_needs(categories, needs)]


def test_student_b_is_offered_the_work_study_post_first():
    assert suggested(["勤工助学"])[0] == "work_study"
    assert "work_study" in suggested(["家庭经济压力大, 需要兼职"])
    assert suggested(["学业帮扶一对一"])[0] == "tutoring"


def test_student_a_is_offered_the_team_and_a_study_partner():
    offered = suggested(["想加入ACM竞赛队", "对大学的学习方式感到迷茫"])
    assert offered[0] == "competition_team"
    assert "study_partner" in offered


def test_short_latin_aliases_match_whole_words_only():
    assert "professor_lab" not in suggested(["collaborate with classmates"])
