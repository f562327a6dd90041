"""Issue 11 through the services on a real SQLite file: review dates are never in the past, a
new tier's contact standard counts from its raise, a screening is a contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import grammar
from domain.model import Risk
from services import clients, invites, logs, records, screenings
from services import reminders as rem
from services.grading import default_rules, regrade_everyone
from storage import Cipher, Database

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = default_rules()


def make_db(tmp_path) -> Database:
    db = Database(f"sqlite+pysqlite:///{tmp_path / 't.db'}", Cipher(Cipher.generate_key()))
    db.migrate()
    return db


def _setup(tmp_path):
    db = make_db(tmp_path)
    admin = invites.ensure_admin(db, 1, "Li", NOW - 40 * DAY, "Asia/Shanghai")
    client = clients.add_client(
        db, admin, grammar.parse_new("王芳"), NOW - 40 * DAY, update_id=1, rules=RULES
    ).client
    return db, admin, client


def test_lowering_a_crisis_on_12_12_never_shows_a_past_review_date(tmp_path):
    db, admin, client = _setup(tmp_path)
    screenings.screening(db, admin, "phq9", "王芳 3 3 3 3 3 0 0 0 1", NOW, update_id=2, rules=RULES)
    t = NOW
    for _ in range(11):  # the passage of time, day by day, to 12-12
        t += DAY
        regrade_everyone(db, t, rules=RULES)
    for fn in (rem.lower_tier, rem.confirm_review):
        out = fn(db, admin, client.id, t, RULES)
        assert out.grades.review_due_at is not None and out.grades.review_due_at > t, fn.__name__
        with db.uow(write=False) as uow:
            stored = uow.clinical_of(admin.id).grades(client.id)
        assert stored.review_due_at == out.grades.review_due_at
    db.dispose()


def test_first_phq9_of_a_student_last_seen_32_days_ago(tmp_path):
    db, admin, client = _setup(tmp_path)
    logs.log_conversation(db, admin, "王芳 聊了聊", NOW - 32 * DAY, update_id=2, rules=RULES)
    saved = screenings.screening(
        db, admin, "phq9", "王芳 2 2 2 2 2 2 2 2 0", NOW, update_id=3, rules=RULES
    )
    g = saved.grading.grades
    assert g.risk is Risk.HIGH
    assert saved.grading.alert is not None
    codes = [r.code for r in saved.grading.alert.reasons]
    assert "contact_gap" not in codes and "lost_contact" not in codes
    # the screening itself is a contact: the dates count from it, never a month in the past
    assert g.last_contact_at == NOW
    assert g.next_contact_due == NOW + 7 * DAY and g.contact_latest_at == NOW + 10 * DAY
    db.dispose()


def test_raising_the_tier_restarts_the_standard_and_a_log_resets_the_dates(tmp_path):
    db, admin, client = _setup(tmp_path)
    logs.log_conversation(db, admin, "王芳 聊了聊", NOW - 32 * DAY, update_id=2, rules=RULES)
    res = records.set_status(db, admin, "王芳 risk=high", NOW, update_id=3, rules=RULES)
    g = res.grading.grades
    assert g.risk is Risk.HIGH and g.next_contact_due == NOW + 7 * DAY
    assert "contact_gap" not in [r.code for r in g.risk_reasons]
    regrade_everyone(db, NOW + 3 * DAY, rules=RULES)
    with db.uow(write=False) as uow:
        g2 = uow.clinical_of(admin.id).grades(client.id)
    assert g2.next_contact_due == NOW + 7 * DAY  # the clock did not restart with time
    logged = logs.log_conversation(db, admin, "王芳 电话", NOW + 5 * DAY, update_id=4, rules=RULES)
    g3 = logged.grading.grades
    assert g3.next_contact_due == NOW + 12 * DAY and g3.contact_latest_at == NOW + 15 * DAY
    db.dispose()


def test_item9_then_zero_and_100_days_stays_crisis_until_a_review_with_a_reason(tmp_path):
    db, admin, client = _setup(tmp_path)
    first = screenings.screening(
        db, admin, "phq9", "王芳 0 0 0 0 0 0 0 0 1", NOW, update_id=2, rules=RULES
    )
    assert first.grading.grades.risk is Risk.CRISIS and first.grading.alert is not None
    second = screenings.screening(
        db, admin, "phq9", "王芳 0 0 0 0 0 0 0 0 0", NOW + 7 * DAY, update_id=3, rules=RULES
    )
    assert second.grading.grades.risk is Risk.CRISIS and second.grading.grades.review_requested
    t = NOW + 107 * DAY
    regrade_everyone(db, t, rules=RULES)
    with db.uow(write=False) as uow:
        g = uow.clinical_of(admin.id).grades(client.id)
        due = uow.scan.reviews_due(t)
    assert g.risk is Risk.CRISIS and g.held is Risk.CRISIS
    assert [(c, d) for _, c, d in due] == [(client.id, g.review_due_at)]  # the review is asked for
    # /status risk=low is the counsellor's setting, not a review: the crisis stays
    res = records.set_status(db, admin, "王芳 risk=medium", t, update_id=4, rules=RULES)
    assert res.grading.grades.risk is Risk.CRISIS
    out = rem.lower_tier(db, admin, client.id, t, reason="no_risk", rules=RULES)
    assert out.lowered and out.grades.risk is Risk.HIGH and out.grades.held is None
    with db.uow(write=False) as uow:
        history = uow.clinical_of(admin.id).tier_history(client.id)
    last = next(h for h in history if h.dimension == "risk")
    assert (last.old, last.new) == ("crisis", "high")
    assert last.reasons[0].code == "counsellor_review"
    assert last.reasons[0].params == {"reason": "no_risk", "old": "crisis", "new": "high"}
    db.dispose()


def test_undo_of_the_log_that_raised_a_crisis_lets_it_go(tmp_path):
    from services.undo import undo

    db, admin, client = _setup(tmp_path)
    logs.log_conversation(db, admin, "王芳 聊了聊 risk=crisis", NOW, update_id=2, rules=RULES)
    with db.uow(write=False) as uow:
        assert uow.clinical_of(admin.id).grades(client.id).held is Risk.CRISIS
    undo(db, admin, NOW + timedelta(minutes=2), rules=RULES)
    with db.uow(write=False) as uow:
        g = uow.clinical_of(admin.id).grades(client.id)
    assert g.risk is Risk.LOW and g.held is None
    db.dispose()


def test_confirming_a_held_crisis_is_not_asked_again_before_the_next_review(tmp_path):
    db, admin, client = _setup(tmp_path)
    screenings.screening(db, admin, "phq9", "王芳 0 0 0 0 0 0 0 0 1", NOW, update_id=2, rules=RULES)
    screenings.screening(
        db, admin, "phq9", "王芳 0 0 0 0 0 0 0 0 0", NOW + 7 * DAY, update_id=3, rules=RULES
    )
    t = NOW + 8 * DAY
    out = rem.confirm_review(db, admin, client.id, t, rules=RULES)
    assert out.grades.risk is Risk.CRISIS and out.grades.review_due_at == t + 3 * DAY
    regrade_everyone(db, t + DAY, rules=RULES)
    with db.uow(write=False) as uow:
        assert uow.scan.reviews_due(t + DAY) == []
        assert uow.clinical_of(admin.id).grades(client.id).review_due_at == t + 3 * DAY
    regrade_everyone(db, t + 3 * DAY, rules=RULES)
    with db.uow(write=False) as uow:
        assert [c for _, c, _ in uow.scan.reviews_due(t + 3 * DAY)] == [client.id]
    db.dispose()


def test_three_unreached_attempts_in_a_row_make_the_client_unreachable(tmp_path):
    db, admin, client = _setup(tmp_path)
    logs.log_conversation(db, admin, "王芳 聊了聊", NOW - 10 * DAY, update_id=2, rules=RULES)
    for i in range(3):
        res = logs.log_conversation(
            db,
            admin,
            "王芳 打电话没接 outcome=unreached",
            NOW + i * DAY,
            update_id=10 + i,
            rules=RULES,
        )
    g = res.grading.grades
    assert g.risk is Risk.HIGH and g.risk_reasons[0].code == "unreached_attempts"
    assert res.grading.alert is not None
    # the next contact that reaches the client ends the streak (the high tier itself is not held)
    reached = logs.log_conversation(
        db, admin, "王芳 终于联系上了", NOW + 4 * DAY, update_id=20, rules=RULES
    )
    assert "unreached_attempts" not in [r.code for r in reached.grading.grades.risk_reasons]
    db.dispose()
