"""The service layer on its own (issue 12): the use cases called directly, on a real SQLite
file built by the composition root (`bootstrap.assemble`), with an injected `now` — no bot,
no fake Telegram. Rules and catalogue come from the container, as in production."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bootstrap import Container, Settings, assemble
from domain import grammar
from domain.errors import CommandError
from domain.model import Counsellor, Risk
from services import clients, invites, logs, parked, records, referrals, undo
from services.errors import NotYours, UnknownClient
from services.grading import practice_rules
from storage import Cipher, Database

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
MIN = timedelta(minutes=1)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Container]:
    settings = Settings(token="1:x", database_url=f"sqlite+pysqlite:///{tmp_path / 'caremap.db'}")
    db = Database(settings.database_url, Cipher(Cipher.generate_key()))
    db.migrate()
    try:
        yield assemble(settings, db, clock=lambda: NOW)
    finally:
        db.dispose()


def _admin(app: Container, telegram_id: int = 1) -> Counsellor:
    return invites.ensure_admin(
        app.db, telegram_id, f"Li {telegram_id}", NOW - 60 * MIN, "Asia/Shanghai"
    )


def _new(app: Container, actor: Counsellor, args: str, at: datetime = NOW - 30 * MIN) -> int:
    added = clients.add_client(app.db, actor, grammar.parse_new(args), at, None, app.rules)
    assert isinstance(added, clients.ClientAdded)
    return added.client.id


# --- /log --------------------------------------------------------------------------------


def test_log_writes_the_note_needs_status_and_follow_up_in_one_go(app: Container) -> None:
    me = _admin(app)
    client_id = _new(app, me, "王芳")
    logged = logs.log_conversation(
        app.db,
        me,
        "王芳 talked about money #学费 trust=2 risk=high next=1d",
        NOW,
        update_id=7,
        rules=app.rules,
    )
    assert isinstance(logged, logs.Logged)
    assert logged.client.id == client_id
    assert logged.needs == [("学费", True)]
    assert {(c.field, c.new) for c in logged.changes} == {("trust", "2"), ("risk", "high")}
    assert logged.plan is not None and logged.plan.due_at is not None and logged.plan.due_at > NOW
    assert logged.interaction_count == 1
    assert logged.grading is not None and logged.grading.grades.risk == Risk.HIGH
    # the same Telegram update again writes nothing
    again = logs.log_conversation(
        app.db, me, "王芳 talked about money", NOW, update_id=7, rules=app.rules
    )
    assert isinstance(again, clients.AlreadyHandled)
    with app.db.uow(write=False) as uow:
        view = uow.records_of(me.id).relationship_map(client_id, interactions_limit=10)
    assert view is not None and view.interaction_count == 1


def test_log_entry_of_a_parsed_log_keeps_every_field() -> None:
    parsed = grammar.parse_log(
        "王芳 a long talk #学费 via=phone trust=3 sat=4 outcome=reached #+编程强", NOW, UTC
    )
    entry = logs.LogEntry.of(parsed)
    assert (entry.notes, entry.channel, entry.trust, entry.satisfaction, entry.outcome) == (
        parsed.notes,
        "phone",
        3,
        4,
        "reached",
    )
    assert entry.needs == tuple(parsed.needs) and entry.strengths == ("+编程强",)
    assert logs.LogEntry(notes="x") == logs.LogEntry("x", None, (), None, None, None, None, None)


def test_a_risk_phrase_in_a_note_is_recorded_as_a_signal(app: Container) -> None:
    me = _admin(app)
    _new(app, me, "王芳")
    logged = logs.log_conversation(app.db, me, "王芳 she said 不想活了", NOW, None, rules=app.rules)
    assert isinstance(logged, logs.Logged)
    assert logged.risk_signal is not None and "不想活" in logged.risk_signal.phrases[0]


# --- resolving and parking ---------------------------------------------------------------


def test_an_ambiguous_name_parks_the_command_and_a_tap_runs_it_once(app: Container) -> None:
    me = _admin(app)
    first = _new(app, me, "张伟")
    second = _new(app, me, "张伟")
    asked = logs.log_conversation(app.db, me, "张伟 came by trust=4", NOW, None, rules=app.rules)
    assert isinstance(asked, clients.Choice)
    assert {c.id for c in asked.candidates} == {first, second}
    resumed = parked.resume_pending(app.db, me, asked.pending_id, second, NOW + MIN, app.rules)
    assert resumed.command == "log" and isinstance(resumed.result, logs.Logged)
    assert resumed.result.client.id == second and resumed.result.changes[0].new == "4"
    with pytest.raises(NotYours):  # a second tap of the same button
        parked.resume_pending(app.db, me, asked.pending_id, second, NOW + 2 * MIN, app.rules)


def test_every_command_that_parks_has_a_resumer() -> None:
    assert set(parked.RESUMERS) == {"log", "status", "goal", "plan", "map", "phq9", "gad7"}


def test_a_parked_status_resumes_through_the_registry(app: Container) -> None:
    me = _admin(app)
    _new(app, me, "张伟")
    target = _new(app, me, "张伟")
    asked = records.set_status(app.db, me, "张伟 risk=medium", NOW, None, app.rules)
    assert isinstance(asked, clients.Choice)
    resumed = parked.resume_pending(app.db, me, asked.pending_id, target, NOW, app.rules)
    assert resumed.command == "status" and isinstance(resumed.result, records.StatusResult)
    assert resumed.result.client.risk == Risk.MEDIUM


def test_a_plain_note_tapped_onto_a_client_is_logged(app: Container) -> None:
    me = _admin(app)
    client_id = _new(app, me, "王芳")
    note = parked.park_note(app.db, me, "王芳 looked tired today", NOW)
    assert [c.id for c in note.named] == [client_id]
    resumed = parked.resume_pending(app.db, me, note.pending_id, client_id, NOW, app.rules)
    assert (
        isinstance(resumed.result, logs.Logged)
        and resumed.result.notes == "王芳 looked tired today"
    )
    assert resumed.result.outcome is None and resumed.result.plan is None


def test_a_note_for_a_new_client_asks_before_a_second_client_of_the_same_name(
    app: Container,
) -> None:
    me = _admin(app)
    amy = _new(app, me, "Amy")
    _new(app, me, "Amyc")  # a prefix of it is not the same name
    note = parked.park_note(app.db, me, "met her at the library", NOW)
    asked = parked.new_client_with_note(
        app.db, me, note.pending_id, grammar.parse_new("amy"), NOW, 31, app.rules
    )
    assert isinstance(asked, parked.SameName)
    assert [c.id for c in asked.existing] == [amy]  # case aside, the same name; nothing else
    added, logged = parked.new_client_with_note(
        app.db,
        me,
        asked.pending_id,
        grammar.parse_new("amy"),
        NOW,
        32,
        app.rules,
        allow_same_name=True,
    )
    assert added.client.id != amy and [c.id for c in added.same_name] == [amy]
    assert logged.notes == "met her at the library"


def test_resolution_errors(app: Container) -> None:
    me = _admin(app)
    other = _admin(app, 2)
    mine = _new(app, me, "王芳")
    _new(app, me, "张伟")
    _new(app, me, "张伟")
    with app.db.uow(write=True) as uow:
        assert clients.resolve_client(uow, me, "王芳").id == mine
        with pytest.raises(UnknownClient) as ambiguous:
            clients.resolve_client(uow, me, "张伟")
        assert len(ambiguous.value.suggestions) == 2  # the candidates, to choose from
        with pytest.raises(UnknownClient) as unknown:
            clients.resolve_client(uow, me, "李娜")
        assert unknown.value.ref == "李娜"
        with pytest.raises(NotYours):  # another counsellor's client is not found
            clients.get_owned(uow, other, mine)
        with pytest.raises(UnknownClient):
            clients.resolve_client(uow, other, "王芳")


# --- rules are the ones passed in --------------------------------------------------------


def test_the_value_tier_follows_the_rules_passed_in(app: Container) -> None:
    me = _admin(app)
    _new(app, me, "王芳")
    with pytest.raises(CommandError) as refused:
        records.set_status(app.db, me, "王芳 pay=self", NOW, None, app.rules)
    assert refused.value.code == "practice_only"
    done = records.set_status(app.db, me, "王芳 pay=self", NOW, None, practice_rules(app.rules))
    assert isinstance(done, records.StatusResult) and done.grading is not None


# --- /undo -------------------------------------------------------------------------------


def test_undo_a_log_puts_the_status_back_and_removes_the_note(app: Container) -> None:
    me = _admin(app)
    client_id = _new(app, me, "王芳", at=NOW - 2 * MIN)
    records.set_status(app.db, me, "王芳 trust=3", NOW - MIN, None, app.rules)
    logs.log_conversation(app.db, me, "王芳 talk #学费 trust=1 next=1d", NOW, None, rules=app.rules)
    preview = undo.peek_undo(app.db, me, NOW + MIN)
    assert preview is not None and preview.kind == "log" and preview.detail["needs"] == 1
    done = undo.undo_entry(app.db, me, preview.entry_id, NOW + MIN, app.rules)
    assert done is not None and (done.kind, done.needs, done.plan) == ("log", 1, 1)
    assert done.client.trust == 3
    with app.db.uow(write=False) as uow:
        view = uow.records_of(me.id).relationship_map(client_id, interactions_limit=10)
    assert view is not None and view.interaction_count == 0 and not view.needs
    status = undo.undo(app.db, me, NOW + 2 * MIN, app.rules)
    assert status is not None and status.kind == "status" and status.client.trust is None
    # then the /new itself (nothing is recorded for the client any more)
    gone = undo.undo(app.db, me, NOW + 2 * MIN, app.rules)
    assert gone is not None and gone.kind == "new" and not gone.blocked
    assert undo.undo(app.db, me, NOW + 3 * MIN, app.rules) is None


def test_undo_is_per_counsellor_and_expires(app: Container) -> None:
    me = _admin(app)
    other = _admin(app, 2)
    _new(app, me, "王芳", at=NOW)
    assert undo.undo(app.db, other, NOW + MIN, app.rules) is None
    assert undo.undo(app.db, me, NOW + undo.UNDO_WINDOW + MIN, app.rules) is None


def test_every_undo_kind_has_an_undoer_and_unknown_kinds_are_refused(app: Container) -> None:
    assert set(undo.UNDO_KINDS) == {
        "new",
        "log",
        "status",
        "plan",
        "goal",
        "screening",
        "done",
        "snooze",
        "referral",
        "referral_status",
    }
    me = _admin(app)
    with app.db.uow(write=True) as uow, pytest.raises(ValueError):
        undo.record_undo(uow, me, "forget", {"client_id": 1}, NOW)


# --- referrals ---------------------------------------------------------------------------


def test_refer_to_a_catalogue_resource_then_accept_and_undo(app: Container) -> None:
    me = _admin(app)
    client_id = _new(app, me, "王芳")
    done = referrals.refer(app.db, me, "王芳 学业辅导", NOW, None, app.rules, app.catalogue)
    assert isinstance(done, referrals.Referred)
    assert done.resource is not None and done.resource.code == "tutoring"
    accepted = referrals.set_status(app.db, me, done.referral.id, "a", NOW + MIN, app.catalogue)
    assert accepted.changed and accepted.referral.status == "accepted"
    with pytest.raises(NotYours):  # someone else's referral
        referrals.set_status(
            app.db, _admin(app, 2), done.referral.id, "d", NOW + MIN, app.catalogue
        )
    first = undo.undo(app.db, me, NOW + 2 * MIN, app.rules)
    assert first is not None and first.kind == "referral_status"
    second = undo.undo(app.db, me, NOW + 3 * MIN, app.rules)
    assert second is not None and second.kind == "referral"
    with app.db.uow(write=False) as uow:
        view = uow.records_of(me.id).relationship_map(client_id, interactions_limit=0)
    assert view is not None and view.referrals == []


def test_refer_without_a_resource_suggests_by_the_needs(app: Container) -> None:
    me = _admin(app)
    _new(app, me, "王芳")
    logs.log_conversation(app.db, me, "王芳 missed classes #挂科 #学费", NOW, None, rules=app.rules)
    offer = referrals.refer(app.db, me, "王芳", NOW, None, app.rules, app.catalogue)
    assert isinstance(offer, referrals.Suggestions)
    codes = [r.code for r in offer.resources]
    assert "tutoring" in codes and "counselling_centre" not in codes
    picked = referrals.pick_suggestion(app.db, me, offer.pending_id, "tutoring", NOW, app.catalogue)
    assert picked.resource is not None and picked.resource.code == "tutoring"
    with pytest.raises(NotYours):  # the suggestion buttons work once
        referrals.pick_suggestion(app.db, me, offer.pending_id, "tutoring", NOW, app.catalogue)
