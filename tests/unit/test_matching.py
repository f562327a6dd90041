from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from domain.grammar import ClientRef
from domain.matching import Match, folded_name, lookup_key, match_client
from domain.model import Client


def mk(number: int, name: str, sid: str | None = None, last: int | None = None) -> Client:
    at = datetime(2026, 11, last, tzinfo=UTC) if last else None
    return Client(
        id=100 + number, counsellor_id=1, number=number, name=name, sid=sid, last_contact_at=at
    )


CLIENTS = [
    mk(1, "王芳", sid="2025001"),
    mk(2, "王芳菲", sid="2025002"),
    mk(3, "李明"),
    mk(4, "Li Ming"),
    mk(5, "张三", sid="12"),
    mk(6, "张小明"),
    mk(7, "单丽"),
    mk(8, "吕小红"),
    mk(9, "Alice Brown"),
    mk(10, "alice"),
    mk(11, "欧阳娜娜"),
    mk(12, "陈晨"),
    mk(13, "陈辰", last=20),
]
BY_NO = {c.number: c for c in CLIENTS}


def nums(cs: list[Client]) -> list[int]:
    return [c.number for c in cs]


UNIQUE = [
    # digits → number, else exact sid
    ("1", 1),
    ("13", 13),
    ("２", 2),
    ("2025002", 2),
    ("#3", 3),
    ("12", 12),  # number 12 beats sid "12" of 张三
    # exact name (beats prefix: 王芳 is also a prefix of 王芳菲)
    ("王芳", 1),
    ("王芳菲", 2),
    ("李明", 3),
    ("li ming", 4),
    ("LI  MING", 4),
    ("Alice", 10),
    # unique prefix
    ("王芳菲", 2),
    ("欧阳", 11),
    ("张小", 6),
    ("吕", 8),
    ("单", 7),
    ("alice b", 9),
    # full pinyin, with spaces / capitals, then pinyin prefix
    ("wangfang", 1),
    ("wang fang", 1),
    ("WangFang", 1),
    ("wangfangfei", 2),
    ("zhangsan", 5),
    ("ouyangnana", 11),
    ("ouyang", 11),
    ("zhangx", 6),
    ("wangfangf", 2),
    ("shanli", 7),
    ("danli", 7),
    ("lvxiaohong", 8),
    ("luxiaohong", 8),
    ("lü xiao hong", 8),
    # initials
    ("wf", 1),
    ("wff", 2),
    ("zs", 5),
    ("zxm", 6),
    ("oynn", 11),
    ("ab", 9),
    ("lxh", 8),
    ("sl", 7),
    ("oy", 11),
    ("ouyangn", 11),
    ("li ming", 4),
]


@pytest.mark.parametrize(("ref", "number"), UNIQUE)
def test_unique(ref: str, number: int) -> None:
    m = match_client(ref, CLIENTS)
    assert m.client == BY_NO[number]
    assert m.candidates == [] and m.suggestions == []
    assert m.found and not m.ambiguous


def test_quoted_ref_exact_name() -> None:
    assert match_client(ClientRef("Li Ming", quoted=True), CLIENTS).client == BY_NO[4]
    assert match_client(ClientRef("王芳", quoted=True), CLIENTS).client == BY_NO[1]
    assert match_client(ClientRef("alice brown", quoted=True), CLIENTS).client == BY_NO[9]


AMBIGUOUS = [
    ("王", [1, 2]),  # shorter name first
    ("张", [5, 6]),
    ("li", [3, 4]),  # a Latin name's start and a pinyin start are one rule: ask, don't guess
    ("liming", [3, 4]),  # same full pinyin
    ("chenchen", [13, 12]),  # same pinyin: recent contact first at equal length
    ("cc", [13, 12]),
    ("al", [10, 9]),
]


@pytest.mark.parametrize(("ref", "expected"), AMBIGUOUS)
def test_ambiguous(ref: str, expected: list[int]) -> None:
    m = match_client(ref, CLIENTS)
    assert m.client is None
    assert nums(m.candidates) == expected
    assert m.ambiguous and m.suggestions == []


def test_same_exact_name_twice_is_ambiguous() -> None:
    twins = [mk(1, "王芳"), mk(2, "王芳", last=5), mk(3, "王芳菲")]
    m = match_client("王芳", twins)
    assert m.client is None and nums(m.candidates) == [2, 1]


def test_candidates_capped_at_8() -> None:
    many = [mk(i, f"王{chr(0x4E00 + i)}") for i in range(1, 21)]
    m = match_client("王", many)
    assert len(m.candidates) == 8
    assert nums(m.candidates) == list(range(1, 9))


NONE = [
    ("99", []),  # no such number or sid
    ("王芬", [1]),  # a typo: close names
    ("wangfnag", [1]),  # pinyin typos
    ("wnagfang", [1]),
    ("zhangsna", [5]),
    ("芳", [1, 2]),  # a substring
    ("alise", [10, 9]),
    ("赵六", []),
    ("xyz", []),
    ("", []),
]


@pytest.mark.parametrize(("ref", "suggested"), NONE)
def test_none_with_suggestions(ref: str, suggested: list[int]) -> None:
    m = match_client(ref, CLIENTS)
    assert m.client is None and m.candidates == []
    assert nums(m.suggestions) == suggested
    assert not m.found and not m.ambiguous


def test_suggestions_capped_at_5() -> None:
    many = [mk(i, f"王芳{chr(0x4E00 + i)}") for i in range(1, 11)]
    m = match_client("x王芳", many)
    assert m.client is None and len(m.suggestions) == 5


def test_empty_caseload() -> None:
    assert match_client("王芳", []) == Match()


def test_fast_for_300_clients() -> None:
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "芳明伟娜静丽强磊军洋勇艳杰娟涛超"
    clients = [
        mk(i + 1, surnames[i % 20] + given[i % 15] + given[(i * 7) % 15]) for i in range(300)
    ]
    refs = ["wangfang", "lmw", "张", "zhao", "300", "陈伟", "nobody", "zhangweifang"]
    for r in refs:  # warm-up
        match_client(r, clients)
    t0 = time.perf_counter()
    for r in refs:
        match_client(r, clients)
    per_call = (time.perf_counter() - t0) / len(refs)
    assert per_call < 0.005, per_call


REFS = [r for r, _ in UNIQUE] + [
    "王",
    "陈",
    "li",
    "zhang",
    "nobody",
    "99",
    "2025001",
    "#1",
    "",
    "  ",
    '"王芳"',
]


@pytest.mark.parametrize("ref", REFS)
def test_what_the_index_finds_matches_as_the_whole_caseload(ref: str) -> None:
    """services.clients.match_ref: the clients a number or an exact folded name finds (what
    SQL can look up), when there are any, give the same match as the whole caseload."""
    key = lookup_key(ref)
    if isinstance(key, int):
        hits = [c for c in CLIENTS if c.number == key]
    elif key is not None:
        hits = [c for c in CLIENTS if folded_name(c.name) == key]
    else:
        hits = []
    if hits:
        assert match_client(ref, hits) == match_client(ref, CLIENTS)


def test_lookup_keys() -> None:
    assert lookup_key("#3") == 3 and lookup_key("２") == 2 and lookup_key(ClientRef("12")) == 12
    assert lookup_key("LI  MING") == "li ming" == folded_name("Li Ming")
    assert lookup_key("王芳") == "王芳" and lookup_key("   ") is None
    # the same name twice: both found by the index, the whole caseload asks the same question
    twins = [*CLIENTS, mk(14, "王芳", last=25)]
    hits = [c for c in twins if folded_name(c.name) == lookup_key("王芳")]
    assert nums(hits) == [1, 14] and match_client("王芳", hits) == match_client("王芳", twins)
    assert match_client("王芳", twins).ambiguous


def test_a_miss_without_suggestions_when_asked() -> None:
    assert match_client("wangfnag", CLIENTS).suggestions  # close to wangfang
    assert match_client("wangfnag", CLIENTS, suggest=False) == Match()
    assert match_client("王芳", CLIENTS, suggest=False).client == BY_NO[1]
