"""Data the delivery tests and benchmarks seed alike (one place, so they cannot drift)."""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from domain.model import PlanKind


def seed_due_followups(
    db: Any,
    server: Any,
    *,
    chats: int,
    per_chat: int,
    first_tid: int,
    prefix: str,
    due: datetime,
    client_prefix: str = "学生",
) -> dict[int, str]:
    """`chats` counsellors (Telegram ids from `first_tid`, agenda off, each with one client
    named `<client_prefix><chat>`) with `per_chat` follow-ups due at `due`; returns plan id → its label
    (`<prefix>-<chat>-<k>-end`, a word to find in the sent texts)."""
    labels: dict[int, str] = {}
    with db.uow(write=True) as uow:
        for n in range(chats):
            tid = first_tid + n
            server.user(tid, f"C{n}", started=True)
            counsellor = uow.counsellors.add(
                telegram_id=tid, display_name=f"C{n}", is_admin=False, now=due
            )
            uow.counsellors.set_settings(counsellor.id, agenda_at=None)
            repo = uow.clients_of(counsellor.id)
            records = uow.records_of(counsellor.id)
            client = repo.add(
                name=f"{client_prefix}{n}", tags=(), sid=None, major=None, grade=None, now=due
            )
            for k in range(per_chat):
                label = f"{prefix}-{n}-{k}-end"
                item = records.add_plan(
                    client.id, kind=PlanKind.SHORT, text=label, due_at=due, now=due
                )
                labels[item.id] = label
    return labels


@contextlib.contextmanager
def scratch_schema(base_url: str, prefix: str = "caremap_test") -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a brand-new schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def labels_delivered(server: Any, labels: set[str]) -> Counter:
    """How many times each label (a word of a seeded reminder's text) reached a chat."""
    counts: Counter = Counter()
    for call in server.calls:
        if call.method == "sendMessage" and call.status == 200:
            for word in (
                str(call.params.get("text", "")).replace("<", " ").replace(">", " ").split()
            ):
                if word in labels:
                    counts[word] += 1
    return counts
