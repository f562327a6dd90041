"""Finding a client by an exact name is one indexed lookup on the name's blind index
(clients.name_key, migration 0011), not a decryption of the whole caseload (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, text

from domain.matching import folded_name
from services.clients import Choice, relationship_map
from services.grading import default_rules
from services.logs import log_conversation
from storage import Cipher, Database
from storage.keycheck import ensure_key_check, rotate_key

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _seed(db: Database, names: list[str], telegram_id: int = 1) -> tuple[object, list[int]]:
    with db.uow() as uow:
        actor = uow.counsellors.add(telegram_id, f"C{telegram_id}", False, NOW)
        repo = uow.clients_of(actor.id)
        return actor, [repo.add(n, (), None, None, None, NOW).id for n in names]


def test_same_names_are_found_by_the_index_whatever_the_case_or_spacing(db: Database) -> None:
    actor, ids = _seed(db, ["王芳", "Li Ming", "王芳菲", "li  ming", "王芳"])
    other, other_ids = _seed(db, ["王芳"], telegram_id=2)
    with db.uow(write=False) as uow:
        repo = uow.clients_of(actor.id)
        assert [c.id for c in repo.named(folded_name("王芳"))] == [
            ids[0],
            ids[4],
        ]  # not 王芳菲, not C2's
        assert [c.id for c in repo.named(folded_name("LI MING"))] == [ids[1], ids[3]]
        assert repo.named(folded_name("王")) == []
        assert [c.id for c in uow.clients_of(other.id).named(folded_name("王芳"))] == other_ids
        stored = (
            uow.session.execute(text("SELECT name_key FROM clients ORDER BY id")).scalars().all()
        )
    assert all(len(k) == 32 and "王" not in k for k in stored)
    assert stored[0] == stored[4] == stored[5] != stored[2]


def test_an_exact_name_reads_only_its_clients(db: Database) -> None:
    """/log and /map by exact name: the caseload's names are not read (one small query),
    and a name two clients share still asks which one."""
    actor, ids = _seed(db, [f"学生{i}" for i in range(300)] + ["学生7"])
    seen: list[str] = []
    listener = lambda *a: seen.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        logged = log_conversation(db, actor, "学生12 聊了近况", NOW, 1, rules=default_rules())
        twins = relationship_map(db, actor, "学生7", NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert logged.client.id == ids[12] and logged.interaction_count == 1
    assert isinstance(twins, Choice) and sorted(c.id for c in twins.candidates) == [
        ids[7],
        ids[300],
    ]
    # the whole-caseload read (`ClientRepo.list`) never ran
    assert not [
        s
        for s in seen
        if "FROM client_tags t JOIN clients c" in s or "FROM clients WHERE counsellor_id" in s
    ]


def test_a_key_rotation_rewrites_the_index(tmp_path) -> None:
    old, new = Cipher.generate_key(), Cipher.generate_key()
    db = Database(f"sqlite:///{tmp_path / 'caremap.db'}", Cipher(old))
    db.migrate()
    ensure_key_check(db)
    actor, ids = _seed(db, ["周晓雯", "陈晨"])
    rotate_key(db, Cipher(new))
    db.dispose()
    for key in (new, f"{new},{old}"):
        db = Database(f"sqlite:///{tmp_path / 'caremap.db'}", Cipher(key))
        try:
            with db.uow(write=False) as uow:
                assert [c.id for c in uow.clients_of(actor.id).named(folded_name("周晓雯"))] == [
                    ids[0]
                ]
        finally:
            db.dispose()


def test_rows_keyed_under_an_older_key_are_found_while_it_is_configured(tmp_path) -> None:
    """During a rotation (`new,old`), a row indexed under the old key is still found."""
    old, new = Cipher.generate_key(), Cipher.generate_key()
    db = Database(f"sqlite:///{tmp_path / 'caremap.db'}", Cipher(old))
    db.migrate()
    actor, ids = _seed(db, ["周晓雯"])
    db.dispose()
    db = Database(f"sqlite:///{tmp_path / 'caremap.db'}", Cipher(f"{new},{old}"))
    try:
        with db.uow() as uow:
            repo = uow.clients_of(actor.id)
            later = repo.add("周晓雯", (), None, None, None, NOW).id  # indexed under `new`
            assert [c.id for c in repo.named(folded_name("周晓雯"))] == [ids[0], later]
    finally:
        db.dispose()
