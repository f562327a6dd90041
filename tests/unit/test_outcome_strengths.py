"""`/log … outcome=…` (沟通反馈和结果) and `#+strength` tags (潜力股): grammar and vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain import grammar as g
from domain.errors import CommandError
from domain.model import Client
from domain.rules import load_rules
from domain.tiering import ClientFacts, grade
from domain.vocab import outcome_label, parse_outcome, unreached_streak

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("reached", "reached"),
        ("联系上", "reached"),
        ("已联系上", "reached"),
        ("OK", "reached"),
        ("not reached", "unreached"),
        ("unreached", "unreached"),
        ("未联系上", "unreached"),
        ("没接", "unreached"),
        ("联系不上", "unreached"),
        ("no-answer", "unreached"),
        ("refused", "refused"),
        ("拒绝", "refused"),
        ("拒绝沟通", "refused"),
        ("referred", "referred"),
        ("已转介", "referred"),
        ("转介", "referred"),
        ("改约", "rescheduled"),
        ("ＲＥＡＣＨＥＤ", "reached"),
        ("maybe", None),
        ("", None),
    ],
)
def test_outcome_words(text, code):
    assert parse_outcome(text) == code


def test_outcome_labels():
    assert outcome_label("unreached", "zh") == "未联系上"
    assert outcome_label("unreached", "en") == "not reached"


def test_log_outcome_option():
    e = g.parse_log("学生B 打了两次电话 outcome=未联系上 via=电话", NOW, SH)
    assert (e.outcome, e.channel, e.notes) == ("unreached", "phone", "打了两次电话")
    e = g.parse_log("学生B 聊得不错 结果=联系上", NOW, SH)
    assert e.outcome == "reached" and e.notes == "聊得不错"
    assert g.parse_log("学生B 聊得不错", NOW, SH).outcome is None


OUTCOME_BAD = [
    ("学生B 打电话 outcome=maybe", "bad_outcome", {"value": "maybe"}),
    ("学生B 打电话 结果=还行吧", "bad_outcome", {"value": "还行吧"}),
]


@pytest.mark.parametrize(("args", "code", "params"), OUTCOME_BAD)
def test_bad_outcome(args, code, params):
    with pytest.raises(CommandError) as e:
        g.parse_log(args, NOW, SH)
    assert (e.value.code, e.value.params) == (code, params)


def test_unreached_streak():
    assert unreached_streak([]) == 0
    assert unreached_streak(["unreached", "unreached", None, "unreached"]) == 2
    assert unreached_streak(["refused", "unreached"]) == 0
    assert unreached_streak([None, "unreached"]) == 0


def test_strength_tags_on_log_new_and_status():
    e = g.parse_log("学生A 代码写得很漂亮 #+编程强 #＋逻辑清晰 #学习方法", NOW, SH)
    assert e.strengths == ("+编程强", "+逻辑清晰")
    assert [n.text for n in e.needs] == ["学习方法"]
    assert e.notes == "代码写得很漂亮"
    assert g.parse_new("学生A #+编程强 #班干部").tags == ("+编程强", "班干部")
    assert g.parse_status("学生A #+编程强").add_tags == ("+编程强",)


def test_strengths_are_never_graded():
    c = Client(1, 1, 1, "学生A", tags=("+编程强", "+挂科", "班干部"))
    assert c.strengths == ("编程强", "挂科") and c.plain_tags == ("班干部",)
    rules = load_rules()
    # even a strength spelled like a risk tag raises nothing: the storage leaves "+…" tags
    # out of the facts, and the tiering ignores a tag it does not know
    facts = ClientFacts(client_id=1, risk_tags=("+挂科", "+失联"), created_at=NOW)
    assert grade(facts, rules, NOW, SH).risk.value == "low"
