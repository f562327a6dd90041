"""A class roster (学生名单) from a spreadsheet: which columns mean what, which rows to add,
which are already there (by 学号), which have problems and why. Pure: takes rows of cell
values (str / int / float / date / None) as a file reader produced them; no I/O.

Headers may be Chinese or English, anywhere in the first rows (a merged title row such as
"2025级市场营销1班 学生名单" above them is skipped). Empty rows are skipped. A 学号 stored as
a number (2025102 or 2025102.0) is read as the text "2025102".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.errors import CommandError
from domain.grammar import NAME_MAX, TAG_MAX, _check_name

__all__ = ["FIELDS", "RosterPlan", "RosterRow", "RowProblem", "plan_roster", "MAX_ROWS"]

MAX_ROWS = 2000
HEADER_SCAN = 10  # the header row is looked for in the first rows

# field → header names (compared NFKC, case-folded, without spaces and punctuation)
FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "学生姓名", "学生", "name", "studentname", "fullname"),
    "sid": (
        "学号",
        "学生学号",
        "学籍号",
        "studentid",
        "studentno",
        "studentnumber",
        "sid",
        "id",
        "number",
        "no",
    ),
    "major": ("专业", "专业名称", "所在专业", "major", "programme", "program", "subject"),
    "grade": ("年级", "入学年份", "级", "grade", "year", "cohort", "intake"),
    "dorm": ("宿舍", "寝室", "宿舍号", "寝室号", "宿舍房间", "dorm", "dormitory", "room", "hall"),
    "phone": (
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "联系方式",
        "phone",
        "mobile",
        "tel",
        "telephone",
        "phonenumber",
    ),
    "tags": ("标签", "类别", "身份", "备注标签", "学生类别", "tags", "tag", "labels", "category"),
}
_HEADER_INDEX = {h: f for f, names in FIELDS.items() for h in names}
_TAG_SPLIT = re.compile(r"[,，、;；/|\s]+")
_PHONE_OK = re.compile(r"\+?[0-9][0-9\- ]{4,24}")
FIELD_MAX = {"sid": 64, "major": 64, "grade": 64, "dorm": 64, "phone": 32}


def _key(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-.:：()（）*#/]+", "", t)


def cell_text(value: object) -> str:
    """A cell as text: numbers without a trailing ".0" (学号 2025102.0 → "2025102"), dates as
    YYYY-MM-DD, None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return " ".join(str(value).split())


@dataclass(frozen=True, slots=True)
class RosterRow:
    line: int  # the row number as the spreadsheet shows it (1-based)
    name: str
    sid: str | None = None
    major: str | None = None
    grade: str | None = None
    dorm: str | None = None
    phone: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    code: str  # missing_name | bad_name | duplicate_in_file | too_long | bad_phone | bad_tag
    value: str = ""
    other_line: int | None = None  # duplicate_in_file: the row it repeats


@dataclass(frozen=True, slots=True)
class Present:
    line: int
    name: str
    sid: str
    number: int  # the existing client's number


@dataclass(frozen=True)
class RosterPlan:
    columns: dict[str, str]  # field → the header as written
    unused: list[str]  # headers that were not understood (their columns are ignored)
    header_line: int
    to_add: list[RosterRow] = field(default_factory=list)
    present: list[Present] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def _find_header(rows: Sequence[Sequence[object]]) -> tuple[int, dict[int, str], list[str]]:
    best: tuple[int, int, dict[int, str], list[str]] | None = None
    for i, row in enumerate(rows[:HEADER_SCAN]):
        mapping: dict[int, str] = {}
        unused: list[str] = []
        for j, cell in enumerate(row):
            text = cell_text(cell)
            if not text:
                continue
            f = _HEADER_INDEX.get(_key(text))
            if f is not None and f not in mapping.values():
                mapping[j] = f
            else:
                unused.append(text)
        score = len(mapping)
        if "name" in mapping.values() and score >= 2 and (best is None or score > best[0]):
            best = (score, i, mapping, unused)
    if best is None:
        raise CommandError("roster_no_header")
    return best[1], best[2], best[3]


def plan_roster(rows: Sequence[Sequence[object]], existing_sids: dict[str, int]) -> RosterPlan:
    """Read `rows` (the first sheet, top to bottom). `existing_sids`: 学号 → client number of
    the counsellor's clients. Raises CommandError for a file that cannot be imported at all:
    roster_no_header, roster_empty, roster_too_many (max)."""
    rows = [list(r) for r in rows]
    header_at, mapping, unused = _find_header(rows)
    columns = {f: cell_text(rows[header_at][j]) for j, f in mapping.items()}
    plan = RosterPlan(columns=columns, unused=unused, header_line=header_at + 1)
    seen_sid: dict[str, int] = {}
    seen_name: dict[str, int] = {}
    data = [(i + 1, r) for i, r in enumerate(rows) if i > header_at]
    data = [(line, r) for line, r in data if any(cell_text(c) for c in r)]
    if not data:
        raise CommandError("roster_empty")
    if len(data) > MAX_ROWS:
        raise CommandError("roster_too_many", rows=len(data), max=MAX_ROWS)
    for line, r in data:
        values = {f: cell_text(r[j]) if j < len(r) else "" for j, f in mapping.items()}
        problem = _row_problem(line, values)
        if problem is not None:
            plan.problems.append(problem)
            continue
        name = values["name"]
        sid = values.get("sid") or None
        if sid is not None:
            if sid in seen_sid:
                plan.problems.append(RowProblem(line, "duplicate_in_file", sid, seen_sid[sid]))
                continue
            seen_sid[sid] = line
            if sid in existing_sids:
                plan.present.append(Present(line, name, sid, existing_sids[sid]))
                continue
        else:
            if name in seen_name:
                plan.problems.append(RowProblem(line, "duplicate_in_file", name, seen_name[name]))
                continue
        seen_name.setdefault(name, line)
        plan.to_add.append(
            RosterRow(
                line=line,
                name=name,
                sid=sid,
                major=values.get("major") or None,
                grade=values.get("grade") or None,
                dorm=values.get("dorm") or None,
                phone=values.get("phone") or None,
                tags=_tags(values.get("tags", "")),
            )
        )
    return plan


def _tags(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for t in _TAG_SPLIT.split(text):
        t = t.strip().lstrip("#＃")
        if t and t not in out:
            out.append(t)
    return tuple(out)


def _row_problem(line: int, values: dict[str, str]) -> RowProblem | None:
    name = values.get("name", "")
    if not name:
        return RowProblem(line, "missing_name")
    if len(name) > NAME_MAX:
        return RowProblem(line, "too_long", name[:20] + "…")
    try:
        _check_name(name)
    except CommandError:
        return RowProblem(line, "bad_name", name)
    for f, limit in FIELD_MAX.items():
        if len(values.get(f, "")) > limit:
            return RowProblem(line, "too_long", values[f][:20] + "…")
    phone = values.get("phone", "")
    if phone and not _PHONE_OK.fullmatch(phone):
        return RowProblem(line, "bad_phone", phone)
    for t in _tags(values.get("tags", "")):
        if len(t) > TAG_MAX:
            return RowProblem(line, "bad_tag", t[:20] + "…")
    return None


def template_rows(lang: str) -> list[list[str]]:
    """The header row and two example rows of the template file `/import` sends."""
    if lang.startswith("zh"):
        return [
            ["姓名", "学号", "专业", "年级", "宿舍", "电话", "标签"],
            ["学生A", "2025101", "计算机科学与技术", "2025", "东3-412", "13800000001", "竞赛达人"],
            ["学生B", "2025102", "市场营销", "2025", "西1-208", "13800000002", "贫困生、班干部"],
        ]
    return [
        ["name", "student id", "major", "grade", "dorm", "phone", "tags"],
        [
            "Student A",
            "2025101",
            "Computer Science",
            "2025",
            "E3-412",
            "13800000001",
            "competition star",
        ],
        [
            "Student B",
            "2025102",
            "Marketing",
            "2025",
            "W1-208",
            "13800000002",
            "financial hardship, class cadre",
        ],
    ]


def rows_from(cells: Iterable[Iterable[object]]) -> list[list[object]]:
    """Materialise an iterator of rows, dropping trailing empty cells (openpyxl pads)."""
    out = []
    for row in cells:
        r = list(row)
        while r and (r[-1] is None or r[-1] == ""):
            r.pop()
        out.append(r)
    return out
