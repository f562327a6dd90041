"""Referrals (dimension 4): scoped reads and status updates, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage import Database

DAY = timedelta(days=1)


def _setup(db: Database, now):
    with db.uow() as uow:
        a = uow.counsellors.add(1001, "Ms A", True, now)
        b = uow.counsellors.add(1002, "Mr B", False, now)
        ca = uow.clients_of(a.id).add("Chen", [], None, None, None, now)
        cb = uow.clients_of(b.id).add("Zhao", [], None, None, None, now)
    return a, b, ca, cb


def test_referrals_latest_first_and_status_updates(db: Database, now):
    a, _, ca, _ = _setup(db, now)
    with db.uow() as uow:
        repo = uow.records_of(a.id)
        first = repo.add_referral(ca.id, "tutoring", "referred", now)
        second = repo.add_referral(ca.id, "Prof. Li's group", "referred", now + DAY)
        assert first.updated_at is None
    with db.uow() as uow:
        repo = uow.records_of(a.id)
        assert [r.id for r in repo.referrals(ca.id)] == [second.id, first.id]
        done = repo.set_referral_status(first.id, "accepted", now + 2 * DAY)
        assert done.status == "accepted" and done.updated_at == now + 2 * DAY
    with db.uow() as uow:
        repo = uow.records_of(a.id)
        # The same status again changes nothing, not even the time.
        same = repo.set_referral_status(first.id, "accepted", now + 3 * DAY)
        assert same.updated_at == now + 2 * DAY
        got = repo.referral(first.id)
        assert (got.resource, got.status, got.created_at) == ("tutoring", "accepted", now)
        view = repo.relationship_map(ca.id)
        assert [(r.resource, r.status) for r in view.referrals] == [
            ("Prof. Li's group", "referred"),
            ("tutoring", "accepted"),
        ]
        assert view.referrals[1].updated_at == now + 2 * DAY


def test_referrals_are_scoped_to_the_counsellor(db: Database, now):
    a, b, ca, cb = _setup(db, now)
    with db.uow() as uow:
        ref = uow.records_of(a.id).add_referral(ca.id, "tutoring", "referred", now)
    with db.uow() as uow:
        other = uow.records_of(b.id)
        assert other.referral(ref.id) is None
        assert other.referrals(ca.id) == []
        assert other.set_referral_status(ref.id, "declined", now) is None
        assert other.set_referral_status(10**6, "declined", now) is None
    with db.uow(write=False) as uow:
        assert uow.records_of(a.id).referral(ref.id).status == "referred"


def test_referrals_go_with_a_forgotten_client(db: Database, now):
    a, _, ca, _ = _setup(db, now)
    with db.uow() as uow:
        ref = uow.records_of(a.id).add_referral(ca.id, "tutoring", "referred", now)
    with db.uow() as uow:
        assert uow.clients_of(a.id).delete(ca.id)
    with db.uow(write=False) as uow:
        assert uow.records_of(a.id).referral(ref.id) is None


def test_referral_resources_are_encrypted_at_rest(tmp_path, cipher, now):
    import sqlite3

    from storage import Database

    path = tmp_path / "r.db"
    db = Database(f"sqlite:///{path}", cipher)
    db.migrate()
    with db.uow(write=True) as uow:
        counsellor = uow.counsellors.add(telegram_id=1, display_name="Li", is_admin=False, now=now)
        repo = uow.clients_of(counsellor.id)
        records = uow.records_of(counsellor.id)
        client = repo.add(name="王芳", tags=(), sid=None, major=None, grade=None, now=now)
        records.add_referral(client.id, "精神科门诊 Dr. Zhou", "referred", now)
    with db.uow(write=False) as uow:
        assert [r.resource for r in uow.records_of(counsellor.id).referrals(client.id)] == [
            "精神科门诊 Dr. Zhou"
        ]
    db.dispose()
    con = sqlite3.connect(path)
    raw = con.execute("select resource_enc from referrals").fetchone()[0]
    con.close()
    assert "精神科" not in raw and "Zhou" not in raw
