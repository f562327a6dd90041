from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.model import Counsellor, PlanKind, Risk
from storage import AlreadyExists, ClientNotFound, Database, DecryptionError

H = timedelta(hours=1)


def _two_counsellors(db: Database, now) -> tuple[Counsellor, Counsellor]:
    with db.uow() as uow:
        a = uow.counsellors.add(1001, "Ms A", True, now)
        b = uow.counsellors.add(1002, "Mr B", False, now, language="en", timezone="Europe/Paris")
    return a, b


# -- counsellors --------------------------------------------------------------------


def test_counsellors(db: Database, now):
    a, b = _two_counsellors(db, now)
    assert (a.is_admin, a.language, a.timezone) == (True, None, "Asia/Shanghai")
    assert (b.language, b.timezone) == ("en", "Europe/Paris")
    with db.uow() as uow:
        assert uow.counsellors.get_by_telegram_id(1002) == b
        assert uow.counsellors.get_by_telegram_id(5) is None
        assert uow.counsellors.get(12345) is None
        uow.counsellors.set_admin(b.id, True)
        uow.counsellors.set_language(b.id, "zh")
        uow.counsellors.set_timezone(b.id, "Asia/Tokyo")
        uow.counsellors.set_supervisor(b.id, a.id)
    with db.uow(write=False) as uow:
        got = uow.counsellors.get(b.id)
        assert (got.is_admin, got.language, got.timezone, got.supervisor_id) == (
            True,
            "zh",
            "Asia/Tokyo",
            a.id,
        )
        assert [c.id for c in uow.counsellors.list_admins()] == [a.id, b.id]
        assert [c.id for c in uow.counsellors.list_all()] == [a.id, b.id]
    with db.uow() as uow:
        uow.counsellors.set_language(b.id, None)
        assert uow.counsellors.get(b.id).language is None
    with pytest.raises(AlreadyExists):
        with db.uow() as uow:
            uow.counsellors.add(1001, "dup", False, now)


# -- encryption at rest ---------------------------------------------------------------


def test_free_text_is_encrypted_at_rest(db: Database, now, tmp_path):
    marker = "SECRETMARK"
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        records = uow.records_of(a.id)
        c = repo.add("Chen", ["贫困生"], "20230001", "CS", "2023", now)
        records.add_interaction(c.id, now, "face", f"note {marker} 家庭困难", now)
        records.add_need(c.id, f"need {marker}", True, "face", now)
        records.add_plan(c.id, PlanKind.SHORT, f"plan {marker}", now + 24 * H, now)
        records.add_plan(c.id, PlanKind.LONG, f"goal {marker}", None, now)
        uow.pending.add(a.id, "note", {"text": f"pending {marker}"}, now, now + H)
    raw: list[str] = []
    with db.engine.connect() as conn:
        for sql in (
            "SELECT notes_enc FROM interactions",
            "SELECT text_enc FROM needs",
            "SELECT text_enc FROM plan_items",
            "SELECT payload_enc FROM pending_inputs",
        ):
            values = [r[0] for r in conn.execute(text(sql))]
            assert values, sql
            raw.extend(values)
    assert all(marker not in v and "家庭" not in v for v in raw)
    # identification is encrypted too (issue 14)
    with db.engine.connect() as conn:
        name, sid = conn.execute(text("SELECT name_enc, sid_enc FROM clients")).one()
    assert "Chen" not in name and "20230001" not in sid and db.cipher.decrypt(name) == "Chen"
    if db.dialect == "sqlite":
        db.dispose()  # checkpoint the WAL, then look at every byte on disk
        blob = b"".join(p.read_bytes() for p in tmp_path.glob("caremap.db*"))
        assert marker.encode() not in blob
    with db.uow(write=False) as uow:
        m = uow.records_of(a.id).relationship_map(c.id)
        assert m.interactions[0].notes == f"note {marker} 家庭困难"
        assert m.needs[0].text == f"need {marker}"
        assert {p.text for p in m.plan} == {f"plan {marker}", f"goal {marker}"}


def test_wrong_key_gives_decryption_error(db: Database, now):
    from storage import Cipher

    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        c = uow.clients_of(a.id).add("Chen", [], None, None, None, now)
        uow.records_of(a.id).add_interaction(c.id, now, None, "private words", now)
    other = Database(db._url.render_as_string(hide_password=False), Cipher(Cipher.generate_key()))
    try:
        with pytest.raises(DecryptionError) as err:
            with other.uow(write=False) as uow:
                uow.records_of(a.id).relationship_map(c.id)
        assert "private words" not in str(err.value)
    finally:
        other.dispose()


# -- scoping --------------------------------------------------------------------------


def test_another_counsellors_client_is_not_found(db: Database, now):
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        ca = uow.clients_of(a.id).add("A's student", [], None, None, None, now)
        cb = uow.clients_of(b.id).add("B's student", [], None, None, None, now)
    with db.uow() as uow:
        rb = uow.clients_of(b.id)
        rb_records = uow.records_of(b.id)
        assert rb.get(ca.id) is None
        assert rb.get_by_number(ca.number) == cb  # both are number 1, each in their own list
        assert [c.id for c in rb.list()] == [cb.id]
        assert [c.id for c in rb.recent()] == [cb.id]
        assert rb_records.relationship_map(ca.id) is None
        assert rb.history(ca.id) == []
        assert rb.delete(ca.id) is False
        for write in (
            lambda: rb_records.add_interaction(ca.id, now, None, "x", now),
            lambda: rb_records.add_need(ca.id, "x", True, None, now),
            lambda: rb_records.add_plan(ca.id, PlanKind.SHORT, "x", now, now),
            lambda: rb.add_tags(ca.id, ["x"]),
            lambda: rb.set_status(ca.id, by_counsellor_id=b.id, now=now, risk=Risk.HIGH),
            lambda: rb_records.add_referral(ca.id, "tutoring", "suggested", now),
        ):
            with pytest.raises(ClientNotFound):
                write()
    with db.uow(write=False) as uow:
        got = uow.records_of(a.id).relationship_map(ca.id)
        assert got.client == ca and got.interaction_count == 0 and got.needs == []


def test_pending_is_scoped(db: Database, now):
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        pid = uow.pending.add(a.id, "note", {"t": 1}, now, now + H)
    with db.uow() as uow:
        assert uow.pending.get(pid, b.id, now=now) is None
        assert uow.pending.consume(pid, b.id, now=now) is None
        assert uow.pending.latest(b.id, "note", now=now) is None
        assert uow.pending.get(pid, a.id, now=now).payload == {"t": 1}


# -- numbering ------------------------------------------------------------------------


def test_per_counsellor_numbering_never_reused(db: Database, now):
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        ra, rb = uow.clients_of(a.id), uow.clients_of(b.id)
        nums_a = [ra.add(f"a{i}", [], None, None, None, now).number for i in range(3)]
        nums_b = [rb.add(f"b{i}", [], None, None, None, now).number for i in range(2)]
    assert nums_a == [1, 2, 3] and nums_b == [1, 2]
    with db.uow() as uow:
        ra = uow.clients_of(a.id)
        third = ra.get_by_number(3)
        assert ra.delete(third.id) is True
        assert ra.delete(third.id) is False
    with db.uow() as uow:
        assert uow.clients_of(a.id).add("a-new", [], None, None, None, now).number == 4
        assert [c.number for c in uow.clients_of(a.id).list()] == [1, 2, 4]


def test_client_fields_and_tags(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        c = repo.add("  Li Hua ", ["#班干部", "竞赛达人", "班干部", ""], "2023", "CS", "大一", now)
        assert (c.name, c.tags, c.sid, c.major, c.grade) == (
            "Li Hua",
            ("班干部", "竞赛达人"),
            "2023",
            "CS",
            "大一",
        )
        assert (c.risk, c.trust, c.satisfaction, c.last_contact_at) == (Risk.LOW, None, None, None)
        assert repo.add_tags(c.id, ["#留学生", "班干部"]).tags == ("班干部", "竞赛达人", "留学生")
        assert repo.remove_tags(c.id, ["竞赛达人"]).tags == ("班干部", "留学生")
        with pytest.raises(ValueError):
            repo.add("", [], None, None, None, now)
    with db.uow(write=False) as uow:
        assert uow.clients_of(a.id).get(c.id).tags == ("班干部", "留学生")


# -- status history ---------------------------------------------------------------------


def test_status_changes_only_what_changed(db: Database, now):
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        c = repo.add("Zhou", [], None, None, None, now)
        first = repo.set_status(c.id, by_counsellor_id=a.id, now=now, trust=2, risk="high")
        assert [(s.field, s.old, s.new) for s in first] == [
            ("trust", None, "2"),
            ("risk", "low", "high"),
        ]
        # same values again: nothing changes, nothing recorded
        assert (
            repo.set_status(c.id, by_counsellor_id=a.id, now=now + H, trust=2, risk=Risk.HIGH) == []
        )
        second = repo.set_status(
            c.id, by_counsellor_id=a.id, now=now + 2 * H, trust=4, satisfaction=3, risk=Risk.HIGH
        )
        assert [(s.field, s.old, s.new) for s in second] == [
            ("trust", "2", "4"),
            ("satisfaction", None, "3"),
        ]
        with pytest.raises(ValueError):
            repo.set_status(c.id, by_counsellor_id=a.id, now=now, trust=6)
        with pytest.raises(ValueError):
            repo.set_status(c.id, by_counsellor_id=a.id, now=now, risk="dire")
    with db.uow(write=False) as uow:
        repo = uow.clients_of(a.id)
        got = repo.get(c.id)
        assert (got.trust, got.satisfaction, got.risk) == (4, 3, Risk.HIGH)
        hist = repo.history(c.id)
        assert [(h.field, h.new) for h in hist] == [
            ("satisfaction", "3"),
            ("trust", "4"),
            ("risk", "high"),
            ("trust", "2"),
        ]
        assert all(h.counsellor_id == a.id and h.at.tzinfo is not None for h in hist)
        assert hist[0].at == now + 2 * H


# -- relationship map -------------------------------------------------------------------


def test_relationship_map_ordering_and_counts(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        records = uow.records_of(a.id)
        c = repo.add("Sun", ["贫困生"], None, None, None, now)
        # logged out of order: the map sorts by when it happened
        for hours in (5, 1, 30, 12, 3):
            records.add_interaction(c.id, now - hours * H, "phone", f"talk -{hours}h", now)
        records.add_need(c.id, "tutoring", True, "face", now)
        records.add_need(c.id, "recognition", False, "observation", now + H)
        records.add_plan(c.id, PlanKind.SHORT, "check competition team", now + 720 * H, now)
        records.add_plan(c.id, PlanKind.LONG, "postgraduate exam", None, now + H)
        records.add_referral(c.id, "counselling centre", "suggested", now)
        repo.set_status(c.id, by_counsellor_id=a.id, now=now, risk=Risk.MEDIUM)
    with db.uow(write=False) as uow:
        m = uow.records_of(a.id).relationship_map(c.id, interactions_limit=3)
    assert m.client.last_contact_at == now - 1 * H
    assert m.interaction_count == 5
    assert [i.notes for i in m.interactions] == ["talk -1h", "talk -3h", "talk -5h"]
    assert [n.text for n in m.needs] == ["recognition", "tutoring"]
    assert [(n.explicit, n.source) for n in m.needs] == [(False, "observation"), (True, "face")]
    assert [p.kind for p in m.plan] == [PlanKind.LONG, PlanKind.SHORT]
    assert m.plan[0].due_at is None and m.plan[1].due_at == now + 720 * H
    assert [r.resource for r in m.referrals] == ["counselling centre"]
    assert [h.new for h in m.history] == ["medium"]


def test_last_contact_only_moves_forward(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        records = uow.records_of(a.id)
        c = repo.add("Wu", [], None, None, None, now)
        records.add_interaction(c.id, now, None, "later", now)
        records.add_interaction(c.id, now - 48 * H, None, "backfilled", now)
        assert repo.get(c.id).last_contact_at == now


def test_recent_orders_by_latest_interaction_then_newest(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        records = uow.records_of(a.id)
        ids = [repo.add(f"c{i}", [], None, None, None, now + i * H).id for i in range(8)]
        records.add_interaction(ids[0], now + 20 * H, None, "x", now)
        records.add_interaction(ids[2], now + 10 * H, None, "x", now)
    with db.uow(write=False) as uow:
        recent = uow.clients_of(a.id).recent()
        assert [c.id for c in recent] == [ids[0], ids[2], ids[7], ids[6], ids[5], ids[4]]
        assert len(uow.clients_of(a.id).recent(limit=2)) == 2


def test_delete_cascades(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        records = uow.records_of(a.id)
        keep = repo.add("keep", ["t"], None, None, None, now)
        gone = repo.add("gone", ["t"], None, None, None, now)
        for cid in (keep.id, gone.id):
            records.add_interaction(cid, now, None, "n", now)
            records.add_need(cid, "n", True, None, now)
            records.add_plan(cid, PlanKind.SHORT, "p", now, now)
            records.add_referral(cid, "r", "suggested", now)
            repo.set_status(cid, by_counsellor_id=a.id, now=now, trust=3)
    with db.uow() as uow:
        assert uow.clients_of(a.id).delete(gone.id) is True
    with db.engine.connect() as conn:
        for table in (
            "interactions",
            "needs",
            "plan_items",
            "referrals",
            "status_changes",
            "client_tags",
        ):
            rows = conn.execute(text(f"SELECT client_id FROM {table}")).scalars().all()
            assert rows == [keep.id], table
    with db.uow(write=False) as uow:
        assert uow.clients_of(a.id).get(gone.id) is None
        assert uow.records_of(a.id).relationship_map(keep.id).interaction_count == 1


# -- pending ----------------------------------------------------------------------------


def test_pending_consume_once_and_expiry(db: Database, now):
    a, _ = _two_counsellors(db, now)
    payload = {"text": "她最近睡不好", "candidates": [3, 5], "nested": {"ok": True}}
    with db.uow() as uow:
        p1 = uow.pending.add(a.id, "note", payload, now, now + H)
        p2 = uow.pending.add(a.id, "note", {"n": 2}, now + timedelta(seconds=1), now + H)
        old = uow.pending.add(a.id, "log", {"n": 3}, now - 2 * H, now - H)
    with db.uow(write=False) as uow:
        got = uow.pending.get(p1, a.id, now=now)
        assert got.payload == payload and got.kind == "note" and got.expires_at == now + H
        assert uow.pending.latest(a.id, "note", now=now).id == p2
        assert uow.pending.latest(a.id, "log", now=now) is None  # expired
        assert uow.pending.get(old, a.id, now=now) is None
        assert uow.pending.get(p1, a.id, now=now + 2 * H) is None
    with db.uow() as uow:
        first = uow.pending.consume(p1, a.id, now=now)
        assert first is not None and first.payload == payload
    with db.uow() as uow:
        assert uow.pending.consume(p1, a.id, now=now) is None  # the double tap
        assert uow.pending.consume(old, a.id, now=now) is None  # expired: gone, not returned
        assert uow.pending.prune(now + 2 * H) == 1
        assert uow.pending.latest(a.id, "note", now=now) is None
    with db.uow() as uow:
        uow.pending.add(a.id, "note", {}, now, now + H)
        assert uow.pending.discard(a.id, "note") == 1


# -- invites ----------------------------------------------------------------------------


def test_invites_single_use_and_expiry(db: Database, now):
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        inv = uow.invites.create("hash-1", a.id, now + 24 * H, now)
        expired = uow.invites.create("hash-2", a.id, now - H, now - 25 * H)
    with db.uow(write=False) as uow:
        got = uow.invites.get_valid("hash-1", now)
        assert (got.id, got.created_by, got.used_at, got.expires_at) == (
            inv,
            a.id,
            None,
            now + 24 * H,
        )
        assert uow.invites.get_valid("hash-2", now) is None
        assert uow.invites.get_valid("nope", now) is None
        assert uow.invites.get_valid("hash-1", now + 25 * H) is None
    with db.uow() as uow:
        assert uow.invites.mark_used(inv, b.id, now + H) is True
    with db.uow() as uow:
        assert uow.invites.mark_used(inv, a.id, now + 2 * H) is False
        assert uow.invites.mark_used(expired, b.id, now) is False
        assert uow.invites.get_valid("hash-1", now + 2 * H) is None
    with db.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT used_by FROM invites WHERE id = :i"), {"i": inv}).scalar()
            == b.id
        )


# -- processed updates ------------------------------------------------------------------


def test_update_claimed_once(db: Database, now):
    with db.uow() as uow:
        assert uow.updates.claim(123456789012, now) is True
        assert uow.updates.claim(123456789012, now) is False
    with db.uow() as uow:
        assert uow.updates.claim(123456789012, now + H) is False
        assert uow.updates.claim(2, now + H) is True
    with db.uow() as uow:
        assert uow.updates.prune(now + timedelta(minutes=30)) == 1
        assert uow.updates.claim(123456789012, now + 2 * H) is True


def test_a_used_update_id_is_claimed_again_only_by_another_update(db: Database, now):
    """Telegram reuses update ids: the fingerprint (what the update was) tells a new update
    from the same one delivered again."""
    uid = 700_000_001
    with db.uow() as uow:
        assert uow.updates.claim(uid, now, "a" * 32) is True
        assert uow.updates.claim(uid, now, "a" * 32) is False  # the same update again
    with db.uow() as uow:
        assert uow.updates.claim(uid, now + H, "a" * 32) is False
        assert uow.updates.claim(uid, now + H, None) is False  # no fingerprint: the id decides
        assert uow.updates.claim(uid, now + H, "b" * 32) is True  # another update, same id
    with db.uow() as uow:
        assert uow.updates.claim(uid, now + 2 * H, "b" * 32) is False
    # a claim recorded before fingerprints (migration 0014) keeps its old meaning
    with db.uow() as uow:
        assert uow.updates.claim(uid + 1, now, None) is True
    with db.uow() as uow:
        assert uow.updates.claim(uid + 1, now + H, "c" * 32) is False


def test_the_inbox_takes_a_reused_id_only_for_another_update_it_has_handled(db: Database, now):
    uid = 700_000_001
    with db.uow() as uow:
        assert uow.inbox.store([(uid, '{"n": 1}', "a" * 32)], now) == [uid]
        # not handled yet: the same id again is left alone, whatever it carries
        assert (
            uow.inbox.store([(uid, '{"n": 1}', "a" * 32), (uid, '{"n": 2}', "b" * 32)], now) == []
        )
        uow.inbox.mark_handled([uid], now)
    with db.uow() as uow:
        assert uow.inbox.store([(uid, '{"n": 1}', "a" * 32)], now + H) == []  # delivered again
        assert uow.inbox.store([(uid, '{"n": 1}', None)], now + H) == []
        assert uow.inbox.store([(uid, '{"n": 3}', "c" * 32)], now + H) == [uid]  # a new update
        assert uow.inbox.unhandled() == [(uid, '{"n": 3}')]
        assert uow.inbox.is_handled(uid) is False


def test_a_forgotten_clients_id_is_never_given_again(db: Database, now):
    """The forgotten client's buttons (map, log, tier review) stay in the chat: a client
    added later must not answer to them. SQLite handed the newest id out again."""
    with db.uow() as uow:
        c = uow.counsellors.add(1, "A", False, now)
        repo = uow.clients_of(c.id)
        first = repo.add("甲", [], None, None, None, now)
        newest = repo.add("乙", [], None, None, None, now)
    with db.uow() as uow:
        assert uow.clients_of(c.id).delete(newest.id) is True
    with db.uow() as uow:
        again = uow.clients_of(c.id).add("丙", [], None, None, None, now)
        assert again.id > newest.id
        assert uow.clients_of(c.id).delete(first.id) is True  # not the newest: no effect
        later = uow.clients_of(c.id).add("丁", [], None, None, None, now)
        assert later.id == again.id + 1
        assert uow.clients_of(c.id).get(newest.id) is None
