"""/find keeps only the decrypted texts that hold the query (issue 12): what it finds is
what it found when it kept every text — spacing evened out, any case, latest first, one
counsellor's caseload only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import grammar
from services.caseload import find
from services.clients import add_client
from services.grading import default_rules
from services.logs import log_conversation
from storage import Database

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
RULES = default_rules()


def _actor(db: Database, telegram_id: int):
    with db.uow() as uow:
        return uow.counsellors.add(telegram_id, f"C{telegram_id}", False, NOW)


def test_find_over_the_texts_that_hold_the_query(db: Database) -> None:
    me, other = _actor(db, 1), _actor(db, 2)
    for actor in (me, other):
        for name in ("王芳", "李雷", "Anna"):
            add_client(db, actor, grammar.parse_new(name), NOW, None, RULES)
    log_conversation(
        db, me, "王芳 谈了 期末\n\n  考试 的压力", NOW - timedelta(days=2), None, rules=RULES
    )
    log_conversation(
        db, me, "李雷 Scholarship form handed in", NOW - timedelta(days=1), None, rules=RULES
    )
    log_conversation(db, me, "Anna 期末考试 went fine", NOW, None, rules=RULES)
    log_conversation(
        db, other, "王芳 期末 考试 (another counsellor's note)", NOW, None, rules=RULES
    )

    spaced = find(db, me, "期末 考试")  # the note's newline and double spaces count as one space
    assert [(r.client.name, r.where, r.match) for r in spaced] == [("王芳", "note", "期末 考试")]
    assert spaced[0].before == "谈了 " and spaced[0].after == " 的压力"
    tight = find(db, me, "期末考试")
    assert [r.client.name for r in tight] == ["Anna"]
    both = find(db, me, "期末")  # latest first
    assert [(r.client.name, r.at) for r in both] == [
        ("Anna", NOW),
        ("王芳", NOW - timedelta(days=2)),
    ]
    assert [r.match for r in find(db, me, "SCHOLARSHIP")] == ["Scholarship"]
    assert find(db, me, "another counsellor") == []
