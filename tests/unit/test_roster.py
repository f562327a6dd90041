"""Reading a class roster (domain.roster): headers in Chinese or English anywhere in the first
rows, numbers as 学号, empty lines, duplicates, rows with problems."""

from __future__ import annotations

import pytest

from domain.errors import CommandError
from domain.roster import cell_text, plan_roster


def test_chinese_headers_under_a_title_row():
    rows = [
        ["2025级市场营销1班 学生名单", None, None],
        [None],
        ["序号", "姓名", "学号", "专业", "宿舍", "手机号", "标签"],
        [1, "学生A", 2025101, "计算机", "东3-412", 13800000001, "竞赛达人"],
        [],
        [2, "学生B", 2025102.0, "市场营销", "西1-208", "138-0000-0002", "贫困生、班干部"],
        [3, "学生C", 2025102, "市场营销", None, None, None],  # same 学号 as B
        [4, None, 2025104, "市场营销", None, None, None],  # no name
        [5, "学生E", 2025105, "市场营销", None, "call me", None],
        [6, "学生F", 2025001, "市场营销", None, None, None],  # already in the caseload
    ]
    plan = plan_roster(rows, existing_sids={"2025001": 7})
    assert plan.header_line == 3
    assert plan.columns == {
        "name": "姓名",
        "sid": "学号",
        "major": "专业",
        "dorm": "宿舍",
        "phone": "手机号",
        "tags": "标签",
    }
    assert plan.unused == ["序号"]
    assert [(r.line, r.name, r.sid) for r in plan.to_add] == [
        (4, "学生A", "2025101"),
        (6, "学生B", "2025102"),
    ]
    b = plan.to_add[1]
    assert (b.dorm, b.phone, b.tags) == ("西1-208", "138-0000-0002", ("贫困生", "班干部"))
    assert plan.to_add[0].phone == "13800000001"
    assert [(p.line, p.code, p.other_line) for p in plan.problems] == [
        (7, "duplicate_in_file", 6),
        (8, "missing_name", None),
        (9, "bad_phone", None),
    ]
    assert [(p.line, p.name, p.number) for p in plan.present] == [(10, "学生F", 7)]


def test_english_headers():
    rows = [
        ["Name", "Student ID", "Major", "Grade", "Tags"],
        ["Li Ming", "S1", "Law", 2025, "#cadre, athlete"],
    ]
    plan = plan_roster(rows, {})
    (r,) = plan.to_add
    assert (r.name, r.sid, r.major, r.grade, r.tags) == (
        "Li Ming",
        "S1",
        "Law",
        "2025",
        ("cadre", "athlete"),
    )


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([["hello", "world"], ["a", "b"]], "roster_no_header"),
        ([["学号", "专业"], ["1", "x"]], "roster_no_header"),  # no name column
        ([["姓名", "学号"], [None, None], []], "roster_empty"),
        ([["姓名", "学号"]] + [[f"s{i}", i] for i in range(2001)], "roster_too_many"),
    ],
)
def test_files_that_import_nothing(rows, code):
    with pytest.raises(CommandError) as e:
        plan_roster(rows, {})
    assert e.value.code == code


def test_cell_text():
    assert (
        cell_text(2025102.0) == "2025102" and cell_text(None) == "" and cell_text(" a  b ") == "a b"
    )


# every roster error, raised by reading bytes (services.roster) or planning rows
ROSTER_BAD = [
    ("rows", [["hello", "world"], ["a", "b"]], "roster_no_header"),
    ("rows", [["姓名", "学号"]], "roster_empty"),
    ("rows", [["姓名", "学号"]] + [[f"s{i}", i] for i in range(2001)], "roster_too_many"),
    ("file", ("名单.xlsx", b"PK\x03\x04 not really a zip"), "roster_unreadable"),
    ("file", ("名单.docx", b"\x00\x01binary"), "roster_not_a_table"),
    ("file", ("名单.csv", b"x" * (5 * 1024 * 1024 + 1)), "roster_too_big"),
]


@pytest.mark.parametrize(("kind", "arg", "code"), ROSTER_BAD)
def test_roster_errors(kind, arg, code):
    from services.roster import read_rows

    with pytest.raises(CommandError) as e:
        if kind == "rows":
            plan_roster(arg, {})
        else:
            plan_roster(read_rows(*arg), {})
    assert e.value.code == code
    for lang in ("en", "zh"):
        from tests.unit.test_grammar import _ENV

        text = _ENV.get_template(f"{lang}/errors/{code}.j2").render(**e.value.params)
        assert "/import" in text and "{{" not in text
