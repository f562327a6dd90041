from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import text

from storage import Database

THREADS, UNITS = 8, 25


def test_concurrent_read_then_write_units(db: Database, now):
    """8 threads × 25 read-then-write units on one database: no "database is locked",
    every row lands. On SQLite this relies on BEGIN IMMEDIATE + busy_timeout."""
    with db.uow() as uow:
        c = uow.counsellors.add(1, "A", False, now)
        client = uow.clients_of(c.id).add("Shared", [], None, None, None, now)

    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(UNITS):
                with db.uow(write=True) as uow:
                    repo = uow.clients_of(c.id)
                    records = uow.records_of(c.id)
                    got = repo.get(client.id)  # read first …
                    assert got is not None
                    at = now + timedelta(seconds=n * UNITS + i)
                    records.add_interaction(client.id, at, "chat", f"t{n}-{i}", now)  # … then write
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM interactions")).scalar() == THREADS * UNITS
    with db.uow(write=False) as uow:
        got = uow.clients_of(c.id).get(client.id)
        assert got.last_contact_at == now + timedelta(seconds=THREADS * UNITS - 1)


def test_concurrent_client_numbers_are_unique(db: Database, now):
    with db.uow() as uow:
        c = uow.counsellors.add(1, "A", False, now)
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            for i in range(5):
                with db.uow() as uow:
                    num = uow.clients_of(c.id).add(f"s{n}-{i}", [], None, None, None, now).number
                with lock:
                    numbers.append(num)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(numbers) == list(range(1, 31))
