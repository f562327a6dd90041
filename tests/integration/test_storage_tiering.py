"""Persistence of the tiering results: screenings, facts, grades, tier history, alerts."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest
from sqlalchemy import text

from domain.model import Counsellor, Risk
from domain.rules import load_rules
from domain.screening import Instrument, score
from domain.tiering import ClientFacts, NeedFact, Reason, TierChange, alert_for, grade, regrade
from storage import Alert, ClientNotFound, Database
from storage.tiering_codec import (
    decode_grades,
    decode_tier_change,
    encode_grades,
    encode_tier_change,
)

DAY = timedelta(days=1)
H = timedelta(hours=1)
NEED_MARK = "室友矛盾导致失眠 NEEDMARK"


def _two_counsellors(db: Database, now) -> tuple[Counsellor, Counsellor]:
    with db.uow() as uow:
        a = uow.counsellors.add(1001, "Ms A", True, now)
        b = uow.counsellors.add(1002, "Mr B", False, now)
    return a, b


def _rich_client(db: Database, counsellor_id: int, now) -> int:
    """A client with tags, needs, interactions and two screenings of each instrument."""
    with db.uow() as uow:
        repo = uow.clients_of(counsellor_id)
        records = uow.records_of(counsellor_id)
        clinical = uow.clinical_of(counsellor_id)
        c = repo.add("Chen", ["贫困生", "自伤"], None, None, None, now - 60 * DAY)
        records.add_need(c.id, NEED_MARK, True, "face", now - 50 * DAY)
        records.add_need(c.id, "学费 缺钱", False, None, now - 40 * DAY)
        for days in (45, 20, 3):
            records.add_interaction(c.id, now - days * DAY, "face", "note", now - days * DAY)
        clinical.add_screening(c.id, score("phq9", [1, 1, 1, 1, 0, 0, 0, 0, 0]), now - 30 * DAY)
        clinical.add_screening(c.id, score("phq9", [2, 2, 2, 2, 2, 1, 1, 0, 1]), now - 2 * DAY)
        clinical.add_screening(c.id, score("gad7", [1, 1, 1, 0, 0, 0, 0], at=now - 25 * DAY), now)
        clinical.add_screening(c.id, score("gad7", [3, 3, 2, 2, 1, 1, 1], at=now - DAY), now)
        return c.id


# -- screenings -------------------------------------------------------------------------


def test_screenings_round_trip_and_are_encrypted_at_rest(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        clinical = uow.clinical_of(a.id)
        c = repo.add("Li", [], None, None, None, now)
        first = clinical.add_screening(c.id, score("phq9", [3, 2, 1, 0, 3, 2, 1, 0, 2]), now - DAY)
        assert first.at == now - DAY and first.total == 14 and first.item9 == 2
        taken = now - 2 * H
        second = clinical.add_screening(
            c.id, score(Instrument.GAD7, [0, 1, 2, 3, 2, 1, 0], at=taken), now
        )
        assert second.at == taken  # result.at wins over now
    with db.uow(write=False) as uow:
        repo = uow.clinical_of(a.id)
        assert repo.screenings(c.id) == [second, first]
        assert repo.screenings(c.id, "phq9") == [first]
        assert repo.screenings(c.id, Instrument.GAD7) == [second]
        assert repo.screenings(c.id, limit=1) == [second]
        got = repo.screenings(c.id, "phq9")[0]
        assert got.answers == (3, 2, 1, 0, 3, 2, 1, 0, 2) and isinstance(got.answers, tuple)
        assert got.at.tzinfo is not None and got.at.utcoffset() == timedelta(0)
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT answers_enc, total_enc, band_enc FROM screenings")).all()
    assert len(rows) == 2
    for enc, total, band in rows:
        assert "[" not in enc and "," not in enc  # no JSON list in clear
        # results are encrypted too (issue 14): tokens, which the key reads back
        assert total.startswith("gAAAAA") and band.startswith("gAAAAA")
        assert int(db.cipher.decrypt(total)) in (14, 9) and db.cipher.decrypt(band) in (
            "moderate",
            "mild",
        )


def test_add_screening_refuses_bad_input(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        c = uow.clients_of(a.id).add("Li", [], None, None, None, now)
    good = score("phq9", [1] * 9)
    with pytest.raises(ValueError):  # inconsistent total
        with db.uow() as uow:
            uow.clinical_of(a.id).add_screening(
                c.id,
                good.__class__(
                    instrument=good.instrument,
                    answers=good.answers,
                    total=3,
                    band="minimal",
                    item9=1,
                ),
                now,
            )
    with pytest.raises(ValueError):  # naive time
        with db.uow() as uow:
            uow.clinical_of(a.id).add_screening(c.id, good, now.replace(tzinfo=None))
    with db.uow(write=False) as uow:
        assert uow.clinical_of(a.id).screenings(c.id) == []


# -- facts and grades -------------------------------------------------------------------


def test_facts_collect_everything_tiering_needs(db: Database, now):
    a, _ = _two_counsellors(db, now)
    cid = _rich_client(db, a.id, now)
    with db.uow() as uow:
        uow.clients_of(a.id).set_status(cid, by_counsellor_id=a.id, now=now, risk="medium")
    with db.uow(write=False) as uow:
        f = uow.clinical_of(a.id).facts(cid)
    assert isinstance(f, ClientFacts)
    assert f.client_id == cid
    assert f.counsellor_risk is Risk.MEDIUM
    assert f.risk_tags == ("贫困生", "自伤")
    assert f.needs == (NeedFact(NEED_MARK, True), NeedFact("学费 缺钱", False))
    assert sorted(f.interactions) == [now - 45 * DAY, now - 20 * DAY, now - 3 * DAY]
    assert f.last_contact_at == now - 3 * DAY
    assert f.phq9.total == 13 and f.phq9.at == now - 2 * DAY and f.phq9.item9 == 1
    assert f.previous_phq9_total == 4
    assert f.gad7.total == 13 and f.gad7.at == now - DAY
    assert f.previous_gad7_total == 3
    assert f.created_at == now - 60 * DAY
    assert f.tier_set_at is None  # never graded
    assert f.value is None


def test_facts_of_a_bare_client(db: Database, now):
    a, _ = _two_counsellors(db, now)
    with db.uow() as uow:
        c = uow.clients_of(a.id).add("Li", [], None, None, None, now)
    with db.uow(write=False) as uow:
        f = uow.clinical_of(a.id).facts(c.id)
    assert f == ClientFacts(client_id=c.id, created_at=now)


def test_grades_save_load_exact_and_upsert(db: Database, now):
    rules = load_rules()
    a, _ = _two_counsellors(db, now)
    cid = _rich_client(db, a.id, now)
    with db.uow(write=False) as uow:
        facts = uow.clinical_of(a.id).facts(cid)
    g = grade(facts, rules, now, timezone(timedelta(hours=8)))
    # the grading is non-trivial: reasons of every kind, need snippets among them
    assert g.risk is Risk.HIGH or g.risk is Risk.CRISIS
    assert g.risk_reasons and g.frequency_reasons and g.need_reasons
    assert any(r.code == "need_category" for r in g.need_reasons)
    with db.uow() as uow:
        repo = uow.clinical_of(a.id)
        assert repo.grades(cid) is None
        repo.save_grades(g, tier_set_at=now)
    with db.uow(write=False) as uow:
        repo = uow.clinical_of(a.id)
        got = repo.grades(cid)
        assert got == g
        assert all(type(r) is Reason for r in got.reasons)
        assert isinstance(got.need_categories, tuple) and isinstance(got.risk_reasons, tuple)
        assert got.risk is g.risk and got.risk_floor is g.risk_floor
        assert got.graded_at.tzinfo is UTC
        assert repo.facts(cid).tier_set_at == now

    # upsert: a second save replaces the row
    later = now + 10 * DAY
    g2 = grade(facts, rules, later)._replace(risk=Risk.CRISIS)
    with db.uow() as uow:
        uow.clinical_of(a.id).save_grades(g2, tier_set_at=later)
    with db.uow(write=False) as uow:
        assert uow.clinical_of(a.id).grades(cid) == g2
        assert uow.clinical_of(a.id).facts(cid).tier_set_at == later
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT risk, risk_rank, data_enc, review_due_at FROM client_grades")
        ).all()
    assert len(rows) == 1
    risk, rank, data, review = rows[0]
    assert (risk, rank) == ("crisis", 3)
    assert review is not None
    assert "NEEDMARK" not in data and "need_category" not in data  # reasons encrypted


def test_regrade_loop_through_storage(db: Database, now):
    """What services.grading does: facts → regrade → save grades, history, alert."""
    rules = load_rules()
    a, _ = _two_counsellors(db, now)
    cid = _rich_client(db, a.id, now)
    with db.uow() as uow:
        repo = uow.clinical_of(a.id)
        d = regrade(repo.grades(cid), repo.facts(cid), rules, now)
        repo.save_grades(d.grades, now)
        for change in d.changes:
            repo.add_tier_change(change, by_counsellor_id=a.id)
        assert d.alert is not None
        alert_id = repo.add_alert(d.alert)
    with db.uow(write=False) as uow:
        repo = uow.clinical_of(a.id)
        assert repo.grades(cid) == d.grades
        assert repo.tier_history(cid) == list(d.changes)
        [alert] = repo.alerts(cid)
        assert alert.id == alert_id and alert.reasons == d.alert.reasons


# -- tier history and alerts ------------------------------------------------------------


def test_tier_history_latest_first(db: Database, now):
    a, _ = _two_counsellors(db, now)
    r1 = (Reason("phq9_item9", {"answer": 2, "date": "2026-03-01", "tier": "crisis"}),)
    r2 = (Reason("contacts_counted", {"count": 1, "window_days": 30.5, "tier": "A"}),)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        clinical = uow.clinical_of(a.id)
        c = repo.add("Li", [], None, None, None, now)
        first = TierChange(c.id, "risk", None, "low", now - 2 * DAY, ())
        second = TierChange(c.id, "risk", "low", "crisis", now - DAY, r1)
        third = TierChange(c.id, "frequency", "B", "A", now - DAY, r2)  # same instant
        clinical.add_tier_change(first, by_counsellor_id=None)
        clinical.add_tier_change(second, by_counsellor_id=a.id)
        clinical.add_tier_change(third, by_counsellor_id=a.id)
        with pytest.raises(ValueError):
            clinical.add_tier_change(TierChange(c.id, "mood", "x", "y", now, ()), None)
    with db.uow(write=False) as uow:
        repo = uow.clinical_of(a.id)
        assert repo.tier_history(c.id) == [third, second, first]
        assert repo.tier_history(c.id, limit=1) == [third]
        assert repo.tier_history(c.id)[0].reasons[0].params["window_days"] == 30.5
    with db.engine.connect() as conn:
        by = sorted(
            (r[0] is None) for r in conn.execute(text("SELECT by_counsellor_id FROM tier_changes"))
        )
    assert by == [False, False, True]


def test_alerts(db: Database, now):
    rules = load_rules()
    a, _ = _two_counsellors(db, now)
    reasons = (
        Reason("risk_tag", {"tag": "self_harm_history", "en": "x", "zh": "自伤", "tier": "high"}),
    )
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        clinical = uow.clinical_of(a.id)
        c = repo.add("Li", [], None, None, None, now)
        e1 = alert_for(c.id, Risk.HIGH, Risk.LOW, reasons, rules, now - H)
        e2 = alert_for(c.id, Risk.CRISIS, Risk.HIGH, reasons, rules, now)
        id1 = clinical.add_alert(e1)
        id2 = clinical.add_alert(e2)
    assert id1 != id2
    with db.uow(write=False) as uow:
        got = uow.clinical_of(a.id).alerts(c.id)
    assert [x.id for x in got] == [id2, id1]
    x = got[0]
    assert isinstance(x, Alert)
    assert (x.client_id, x.counsellor_id, x.tier, x.previous) == (
        c.id,
        a.id,
        Risk.CRISIS,
        Risk.HIGH,
    )
    assert (x.raised_at, x.respond_by) == (e2.raised_at, e2.respond_by)
    assert (x.realert_at, x.escalate_at) == (e2.realert_at, e2.escalate_at)
    assert (x.realert_minutes, x.escalate_minutes) == (e2.realert_minutes, e2.escalate_minutes)
    assert x.reasons == reasons and x.status == "pending" and x.acknowledged_at is None
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM alerts")).scalars().all() == [
            "pending",
            "pending",
        ]


# -- caseload ---------------------------------------------------------------------------


def test_list_graded(db: Database, now):
    rules = load_rules()
    a, b = _two_counsellors(db, now)
    with db.uow() as uow:
        repo = uow.clients_of(a.id)
        clinical = uow.clinical_of(a.id)
        c1 = repo.add("One", ["孤立"], None, None, None, now)
        c2 = repo.add("Two", [], None, None, None, now)
        uow.clients_of(b.id).add("Other", [], None, None, None, now)
        g1 = grade(clinical.facts(c1.id), rules, now)
        clinical.save_grades(g1, now)
    with db.uow(write=False) as uow:
        listed = uow.clinical_of(a.id).list_graded()
        assert [(cl.id, cl.tags, gr) for cl, gr in listed] == [
            (c1.id, ("孤立",), g1),
            (c2.id, (), None),
        ]
        assert [cl.name for cl, _ in uow.clinical_of(b.id).list_graded()] == ["Other"]


# -- scoping and deletion ---------------------------------------------------------------


def test_another_counsellor_sees_and_writes_nothing(db: Database, now):
    rules = load_rules()
    a, b = _two_counsellors(db, now)
    cid = _rich_client(db, a.id, now)
    with db.uow() as uow:
        repo = uow.clinical_of(a.id)
        facts = repo.facts(cid)
        g = grade(facts, rules, now)
        repo.save_grades(g, now)
        repo.add_tier_change(TierChange(cid, "risk", None, "high", now, g.risk_reasons), a.id)
        repo.add_alert(alert_for(cid, Risk.HIGH, None, g.risk_reasons, rules, now))
    with db.uow(write=False) as uow:
        other = uow.clinical_of(b.id)
        assert other.facts(cid) is None
        assert other.grades(cid) is None
        assert other.screenings(cid) == []
        assert other.tier_history(cid) == []
        assert other.alerts(cid) == []
        assert other.list_graded() == []
    writes = [
        lambda r: r.add_screening(cid, score("gad7", [0] * 7), now),
        lambda r: r.save_grades(g, now),
        lambda r: r.add_tier_change(TierChange(cid, "risk", "high", "low", now, ()), b.id),
        lambda r: r.add_alert(alert_for(cid, Risk.CRISIS, None, (), rules, now)),
    ]
    for write in writes:
        with pytest.raises(ClientNotFound):
            with db.uow() as uow:
                write(uow.clinical_of(b.id))
    with db.uow(write=False) as uow:
        repo = uow.clinical_of(a.id)
        assert repo.grades(cid) == g
        assert len(repo.screenings(cid)) == 4
        assert len(repo.tier_history(cid)) == 1
        assert len(repo.alerts(cid)) == 1


def test_delete_cascades_to_tiering_tables(db: Database, now):
    rules = load_rules()
    a, _ = _two_counsellors(db, now)
    cid = _rich_client(db, a.id, now)
    keep = _rich_client(db, a.id, now)
    for client_id in (cid, keep):
        with db.uow() as uow:
            repo = uow.clinical_of(a.id)
            d = regrade(None, repo.facts(client_id), rules, now)
            repo.save_grades(d.grades, now)
            for change in d.changes:
                repo.add_tier_change(change, a.id)
            repo.add_alert(d.alert)
    tables = ("screenings", "client_grades", "tier_changes", "alerts")

    def counts() -> dict[str, int]:
        with db.engine.connect() as conn:
            return {
                t: conn.execute(
                    text(f"SELECT count(*) FROM {t} WHERE client_id = :c"), {"c": cid}
                ).scalar_one()
                for t in tables
            }

    assert all(n > 0 for n in counts().values())
    with db.uow() as uow:
        assert uow.clients_of(a.id).delete(cid)
    assert counts() == dict.fromkeys(tables, 0)
    with db.uow(write=False) as uow:
        assert uow.clinical_of(a.id).grades(keep) is not None
        assert len(uow.clinical_of(a.id).alerts(keep)) == 1


# -- the codec alone --------------------------------------------------------------------


def test_codec_round_trips_and_refuses_unplain_params(now):
    rules = load_rules()
    facts = ClientFacts(
        client_id=7,
        risk_tags=("自伤",),
        needs=(NeedFact("失眠", False), "学费"),
        interactions=(now - DAY,),
        created_at=now - 10 * DAY,
    )
    g = grade(facts, rules, now)
    assert decode_grades(encode_grades(g)) == g
    change = TierChange(7, "need", None, "B", now, g.need_reasons)
    assert decode_tier_change(encode_tier_change(change)) == change
    with pytest.raises(TypeError):
        encode_grades(g._replace(risk_reasons=(Reason("x", {"when": now}),)))
    with pytest.raises(ValueError):
        encode_grades(g._replace(graded_at=now.replace(tzinfo=None)))
