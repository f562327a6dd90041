"""/export streamed (issue 12): both files, written batch by batch onto disk, hold exactly
what one batch holds, across batch boundaries; the same statements for every batch; one
snapshot of the data, read without the write lock; and nothing of another counsellor's
caseload."""

from __future__ import annotations

import html
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from bot.export_xlsx import write_workbook
from domain import grammar
from rendering.render import default_renderer
from services import caseload, export_data
from services.clients import add_client
from services.grading import default_rules
from services.logs import log_conversation
from services.records import add_goal, add_plan, set_status
from services.screenings import screening
from storage import Database
from storage import export as export_store
from storage.caseload import CaseloadStore

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
RULES = default_rules()
OTHERS = ("别人的学生", "Stranger", "外人甲")


def _actor(db: Database, telegram_id: int):
    with db.uow() as uow:
        return uow.counsellors.add(telegram_id, f"C{telegram_id}", False, NOW)


def _seed(db: Database):
    """Ten clients of `me` (two of them handed over: numbered after the others, though
    their ids are lower, so number order is not id order), with a bit of everything, and
    another counsellor's clients interleaved by id."""
    me, other, leaving = _actor(db, 1), _actor(db, 2), _actor(db, 3)
    for k, name in enumerate(("交接甲", "交接乙")):
        add_client(db, leaving, grammar.parse_new(f"{name} sid=30{k}"), NOW, None, RULES)
        log_conversation(db, leaving, f"{name} 交接前的记录 risk=high", NOW, None, rules=RULES)
    names = ["王芳", "李雷", "Anna", "周晓雯", "陈晨", "赵六", "钱七", "孙八"]
    for k, name in enumerate(names):
        add_client(db, me, grammar.parse_new(f"{name} #挂科 sid=20250{k}"), NOW, None, RULES)
        if k < len(OTHERS):
            add_client(db, other, grammar.parse_new(OTHERS[k]), NOW, None, RULES)
            log_conversation(db, other, f"{OTHERS[k]} secret {k}", NOW, None, rules=RULES)
    with db.uow() as uow:
        uow.staff.hand_over(leaving.id, me.id)
    for day in range(3):
        at = NOW + timedelta(days=day)
        log_conversation(
            db, me, f"王芳 第{day}次 想要奖学金 trust={day + 2} next=明天", at, None, rules=RULES
        )
        log_conversation(db, me, f"李雷 电话 {day} via=电话 risk=high", at, None, rules=RULES)
        log_conversation(db, me, f'交接甲 {day} 近况, "引号" via=微信', at, None, rules=RULES)
    screening(db, me, "phq9", "王芳 1 2 3 1 2 3 1 2 1", NOW, None, RULES)
    screening(db, me, "gad7", "孙八 1 1 1 1 1 1 1", NOW + timedelta(hours=1), None, RULES)
    set_status(db, me, "Anna trust=4 satisfaction=3 #新 -#挂科 risk=medium", NOW, None, RULES)
    add_goal(db, me, "周晓雯 按时毕业", NOW, None, RULES)
    add_plan(db, me, "周晓雯 every 1w 每周回访", NOW, None, RULES)
    add_plan(db, me, "交接乙 明天 回访", NOW, None, RULES)
    with db.uow() as uow:
        ids = {c.name: c.id for c in uow.clients_of(me.id).list()}
        uow.records_of(me.id).add_referral(ids["李雷"], "心理中心", "suggested", NOW)
        uow.details_of(me.id).set(ids["李雷"], dorm="3-201", payer="self")
        uow.details_of(me.id).set(ids["交接乙"], phone="13800000000")
    with db.uow(write=False) as uow:
        mine = uow.clients_of(me.id).list()
    assert len(mine) == 10
    by_number = [c.id for c in sorted(mine, key=lambda c: c.number)]
    assert by_number != sorted(by_number)  # the handed-over clients: number order ≠ id order
    return me


def _cells(data: bytes | Path):
    wb = load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    return [
        (
            ws.title,
            ws.freeze_panes,
            [[(c.value, c.font.b) for c in row] for row in ws.iter_rows()],
        )
        for ws in wb.worksheets
    ]


def _words(renderer, lang):
    return lambda kind, value: html.unescape(
        renderer.render(lang, "export_csv_word", kind=kind, value=value)
    )


def _export_both(db: Database, me, lang: str, directory: Path):
    """Both files (the workbook, the CSV zip) as the handlers write them."""
    renderer = default_renderer()
    directory.mkdir()
    path = directory / "x.xlsx"
    counts = write_workbook(
        renderer, lang, me.timezone, export_data.caseload_batches(db, me), NOW, path
    )
    got = caseload.export(db, me, NOW, _words(renderer, lang), directory=directory)
    return path, counts, got


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_files_written_batch_by_batch_are_the_files_of_one_batch(
    db: Database, monkeypatch, tmp_path, lang
):
    """(When the export began to stream, the old in-memory code was the oracle: the same
    zip byte for byte, the same workbook cell for cell; the batching is what can break it.)"""
    me = _seed(db)
    monkeypatch.setattr(export_store, "EXPORT_BATCH", 10_000)  # the whole caseload at once
    one_path, one_counts, one = _export_both(db, me, lang, tmp_path / "one")
    monkeypatch.setattr(export_store, "EXPORT_BATCH", 3)  # ten clients: four batches
    batches = list(export_data.caseload_batches(db, me))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    path, counts, got = _export_both(db, me, lang, tmp_path / "batched")
    assert counts == one_counts and counts["identification"] == 10
    assert _cells(path) == _cells(one_path)
    assert (got.filename, got.counts) == (one.filename, one.counts)
    assert got.path.read_bytes() == one.path.read_bytes()  # byte for byte
    assert not list(tmp_path.rglob("caremap-csv-*"))
    # the other counsellor's clients are in neither file
    archive = zipfile.ZipFile(got.path)
    everything = "".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    everything += repr(_cells(path))
    assert "王芳" in everything and "交接甲" in everything
    for name in (*OTHERS, "secret"):
        assert name not in everything


def test_the_same_statements_for_every_batch(db: Database, monkeypatch) -> None:
    me = _seed(db)
    monkeypatch.setattr(export_store, "EXPORT_BATCH", 3)
    statements: list[str] = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        per_batch = []
        for _ in export_data.caseload_batches(db, me):
            per_batch.append(len(statements))
            statements.clear()
        with db.uow(write=False, snapshot=True) as uow:
            statements.clear()
            per_piece: dict[str, list[int]] = {}
            for name, _rows in uow.caseload_of(me.id).export_batches():
                per_piece.setdefault(name, []).append(len(statements))
                statements.clear()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    begin = 1 if db.dialect == "sqlite" else 0  # SQLite's BEGIN is a statement of ours
    # the workbook: per batch the clients, their tags and one statement per table
    assert per_batch == [12 + begin, 12, 12, 12], per_batch
    # the CSVs: per batch the clients and their tags (by number), then the clients' numbers
    # and names (by id) and one statement per table
    assert per_piece["clients"] == [2 + begin, 2, 2, 2], per_piece
    assert per_piece["interactions"] == [2, 2, 2, 2]  # the first table of a batch
    assert len(per_piece) == 12
    assert all(
        n == [1, 1, 1, 1] for k, n in per_piece.items() if k not in ("clients", "interactions")
    )


def test_one_snapshot_read_without_the_write_lock(db: Database, monkeypatch, tmp_path) -> None:
    """A /log and a /new committed while the export reads (between its batches) are not
    in it, and they commit at once: the export's read holds no write lock."""
    me = _seed(db)
    monkeypatch.setattr(export_store, "EXPORT_BATCH", 3)

    def write_meanwhile(k: int) -> None:
        log_conversation(db, me, f"孙八 写于导出之间 {k}", NOW, None, rules=RULES)
        add_client(db, me, grammar.parse_new(f"新来的{k}"), NOW, None, RULES)

    batches = export_data.caseload_batches(db, me)
    seen = []
    for k, batch in enumerate(batches):
        seen += batch
        write_meanwhile(k)
    assert len(seen) == 10
    assert not any("写于导出之间" in i.notes for r in seen for i in r.map.interactions)

    real = CaseloadStore.export_batches

    def interleaved(self, size=None):
        for k, piece in enumerate(real(self, size)):
            yield piece
            if k in (0, 5):
                write_meanwhile(100 + k)

    monkeypatch.setattr(CaseloadStore, "export_batches", interleaved)
    got = caseload.export(db, me, NOW, None, directory=tmp_path)
    archive = zipfile.ZipFile(got.path)
    text = "".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    assert got.counts["clients"] == 14 and "新来的3" in text  # those before the export began
    assert "写于导出之间 10" not in text and "新来的10" not in text
