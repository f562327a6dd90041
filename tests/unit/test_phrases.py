"""Risk phrases: true and false positives in both languages, normalisation, the operator's
additions. A match never labels anyone; it only makes the bot ask (see tests/e2e/test_crisis.py).

Known non-matches (documented, deliberately not prompted): jokes and idioms that contain 死
(笑死我了, 死磕, 热死了, 累死了, 想死你了 "miss you to death"), "解脱出来" (freed from a chore),
English words that merely contain a phrase ("spills", "pillsbury"), and "dying to see it".
"""

from pathlib import Path

import pytest

from domain.rules import RulesError, default_phrases, load_rules

RULES = load_rules(None)


def found(text, rules=RULES):
    return [m.phrase for m in rules.find_phrases(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("不想活了,觉得活着没意思", ["不想活", "活着没意思"]),
        ("她说最近想死", ["想死"]),
        ("提到过自杀的念头", ["自杀"]),
        ("说想从宿舍跳楼", ["跳楼"]),
        ("手腕上有割腕的痕迹", ["割腕"]),
        ("在攒安眠药", ["安眠药"]),
        ("写了遗书", ["遗书"]),
        ("觉得死了就是解脱", ["解脱"]),
        ("一了百了吧", ["一了百了"]),
        ("I just want to kill myself", ["kill myself"]),
        ("he said he would END IT ALL", ["end it all"]),
        ("took an overdose last year", ["overdose"]),
        ("has been saving pills", ["pills"]),
        ("says everyone is better off without me", ["better off without me"]),
        ("left a suicide note", ["suicide note"]),
        ("💊", ["💊"]),
        # normalisation: spacing, punctuation, full-width, case, traditional characters
        ("不 想 活", ["不想活"]),
        ("不-想-活!", ["不想活"]),
        ("他說想自殺", ["自杀"]),
        ("寫了遺書", ["遗书"]),
        ("想從樓上跳樓", ["跳楼"]),
        ("ｋｉｌｌ　ｍｙｓｅｌｆ", ["kill myself"]),
        ("Kill   Myself.", ["kill myself"]),
        ("don’t want to live", ["don't want to live"]),
        # both languages in one note, each phrase once
        ("想死 … wants to die, 想死", ["想死", "wants to die"]),
        # a counsellor's note is about someone: third person, other tenses
        ("she said she wants to die, so tired", ["wants to die"]),
        ("talked about killing herself", ["killing herself"]),
        ("afraid he will hurt himself again", ["hurt himself"]),
        ("he doesn't want to live anymore", ["doesn't want to live"]),
        ("thinks everyone is better off without her", ["better off without her"]),
        ("self harming since May", ["self-harming"]),
        # how students write it online
        ("说想紫砂", ["紫砂"]),
        ("she talked about wanting to unalive herself", ["unalive"]),
        ("最近觉得活着好没意思，想消失", ["活着好没意思", "想消失"]),
    ],
)
def test_true_positives(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "笑死我了",
        "这题真是笑死",
        "死磕到底",
        "热死了",
        "累死了",
        "饿死了",
        "想死你了",
        "想死我了",
        "从题海中解脱出来",
        "今天状态不错,聊了实习",
        "他很活泼",
        "死亡率的作业",
        "spills",
        "the pillsbury dough",
        "I'm dying to see it",
        "killer app",
        "ending it early",
        "送了老师一把紫砂壶",
        "the kids killed it at the contest",
        "she wanted to diet",
        "a long history",
        "",
    ],
)
def test_known_non_matches(text):
    assert found(text) == []


def test_the_match_names_the_phrase_and_shows_where():
    m = RULES.find_phrases("学生上周说 不想活了, 之后情绪好转")[0]
    assert m.phrase == "不想活" and m.kind == "ideation" and "不想活" in m.found


def test_the_list_is_bilingual_and_large_enough():
    phrases = default_phrases()
    zh = [p for p in phrases if not p.text.isascii()]
    en = [p for p in phrases if p.text.isascii()]
    assert len(zh) >= 30 and len(en) >= 25
    assert len({p.text for p in phrases}) == len(phrases)
    for p in phrases:  # every shipped phrase finds itself
        assert found(p.text) == [p.text], p.text


def test_operator_adds_phrases_in_the_rule_file_and_an_extra_file(tmp_path: Path):
    base = Path("domain/default_rules.toml").read_text(encoding="utf-8")
    (tmp_path / "more.toml").write_text(
        '[[risk_phrases]]\ntext = "不想上岸了"\nkind = "ideation"\n', encoding="utf-8"
    )
    rules_path = tmp_path / "rules.toml"
    base = base.replace("version = 1", 'version = 1\nphrases_file = "more.toml"')
    rules_path.write_text(
        base + '\n[[risk_phrases]]\ntext = "走了算了"\n'
        'kind = "ideation"\nunless = ["走了算了吧去吃饭"]\n',
        encoding="utf-8",
    )
    rules = load_rules(rules_path)
    assert found("我觉得走了算了", rules) == ["走了算了"]
    assert found("不想上岸了", rules) == ["不想上岸了"]
    assert found("走了算了吧去吃饭", rules) == []
    assert found("不想活", rules) == ["不想活"]  # the shipped list stays
    assert found("不想上岸了") == []  # the default rules are not changed


def test_a_bad_phrase_file_is_a_rules_error(tmp_path: Path):
    base = Path("domain/default_rules.toml").read_text(encoding="utf-8")
    (tmp_path / "more.toml").write_text('[[risk_phrases]]\ntext = ""\n', encoding="utf-8")
    rules_path = tmp_path / "rules.toml"
    rules_path.write_text(
        base.replace("version = 1", 'version = 1\nphrases_file = "more.toml"'), encoding="utf-8"
    )
    with pytest.raises(RulesError, match="more.toml"):
        load_rules(rules_path)
    rules_path.write_text(
        base.replace("version = 1", 'version = 1\nphrases_file = "missing.toml"'), encoding="utf-8"
    )
    with pytest.raises(RulesError, match="cannot read the phrase file"):
        load_rules(rules_path)
