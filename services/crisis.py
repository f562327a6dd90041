"""Use cases of the crisis path (issue 11): risk phrases and the safety check.

- A risk phrase in a note, a need or a goal is recorded as a *signal* (encrypted) in the same
  transaction as the note; it labels nobody. The counsellor then chooses: a safety check now,
  a PHQ-9 now, or "not a risk" with a one-tap reason (joke / quoting someone / already
  handled), kept on record.
- The safety check is asked one item per step in one edited message (its answers wait in a
  pending row); the finished check is stored (answers encrypted) and the client re-graded in
  the same transaction, which raises the alert row when the tier rises to high or crisis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain import safety
from domain.model import Client, Counsellor
from domain.rules import RuleBase
from domain.screening import Instrument, ScreeningResult
from domain.tiering import RegradeDecision
from services.clients import get_owned
from services.errors import NotYours
from services.grading import regrade_client
from services.screenings import Questionnaire, start_questionnaire
from storage.crisis import DISMISS_REASONS, RiskSignal, StoredCheck
from storage.db import Database
from storage.uow import UnitOfWork

CHECK_TTL = timedelta(days=2)
# short trigger codes in button data → stored trigger names
TRIGGERS = safety.TRIGGERS


# --- risk phrases ------------------------------------------------------------------------


def record_signal(
    uow: UnitOfWork,
    actor: Counsellor,
    client_id: int,
    texts: Iterable[tuple[str, str]],
    now: datetime,
    rules: RuleBase,
) -> RiskSignal | None:
    """Look for risk phrases in (source, text) pairs; store one signal with every phrase found
    (in the caller's unit of work) or return None."""
    found: list[str] = []
    source = None
    for src, text in texts:
        for m in rules.find_phrases(text or ""):
            if m.phrase not in found:
                found.append(m.phrase)
                source = source or src
    if not found:
        return None
    return uow.crisis_of(actor.id).add_signal(client_id, source or "note", tuple(found[:8]), now)


def recent_phq9(
    db: Database, actor: Counsellor, client_id: int, now: datetime
) -> ScreeningResult | None:
    """The client's latest PHQ-9 if `now` is still within the two weeks it asks about
    (`ScreeningResult.covers`), else None (also for a client that is not the actor's)."""
    with db.uow(write=False) as uow:
        found = uow.clinical_of(actor.id).screenings(client_id, Instrument.PHQ9, limit=1)
    return found[0] if found and found[0].covers(now) else None


@dataclass(frozen=True)
class SignalOutcome:
    client: Client
    signal: RiskSignal
    changed: bool  # False: it had been answered already (a double tap)


def dismiss_signal(
    db: Database, actor: Counsellor, signal_id: int, reason: str, now: datetime
) -> SignalOutcome:
    if reason not in DISMISS_REASONS:
        raise NotYours()
    with db.uow(write=True) as uow:
        crisis = uow.crisis_of(actor.id)
        signal = crisis.signal(signal_id)
        if signal is None:
            raise NotYours()
        changed = crisis.resolve_signal(signal_id, "dismissed", reason, now)
        client = get_owned(uow, actor, signal.client_id)
        return SignalOutcome(
            client=client, signal=crisis.signal(signal_id) or signal, changed=changed
        )


def signal_subject(db: Database, actor: Counsellor, signal_id: int) -> SignalOutcome:
    with db.uow(write=False) as uow:
        signal = uow.crisis_of(actor.id).signal(signal_id)
        if signal is None:
            raise NotYours()
        return SignalOutcome(
            client=get_owned(uow, actor, signal.client_id), signal=signal, changed=False
        )


def signal_to_phq9(db: Database, actor: Counsellor, signal_id: int, now: datetime) -> Questionnaire:
    """ "PHQ-9 now" on a signal: the questionnaire starts."""
    with db.uow(write=True) as uow:
        crisis = uow.crisis_of(actor.id)
        signal = crisis.signal(signal_id)
        if signal is None:
            raise NotYours()
        crisis.resolve_signal(signal_id, "phq9", None, now)
        client = get_owned(uow, actor, signal.client_id)
        return start_questionnaire(uow, actor, client, "phq9", now)


# --- the safety check ----------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyPrompt:
    """The next item to ask (in one edited message)."""

    pending_id: int
    client: Client
    answers: dict[str, bool | None]
    item: str
    index: int  # 1-based number of this question among those asked so far
    code: str  # the answers so far, encoded for the buttons
    yes_code: str  # the answers with this item "yes" (button data)
    no_code: str


@dataclass(frozen=True)
class SafetyDone:
    client: Client
    stored: StoredCheck
    grading: RegradeDecision | None
    alert_raised: bool


def start_check(
    db: Database,
    actor: Counsellor,
    client_id: int,
    trigger: str,
    now: datetime,
    signal_id: int | None = None,
) -> SafetyPrompt:
    stored_trigger = TRIGGERS.get(trigger)
    if stored_trigger is None:
        raise NotYours()
    with db.uow(write=True) as uow:
        if signal_id is not None:
            crisis = uow.crisis_of(actor.id)
            signal = crisis.signal(signal_id)
            if signal is None:
                raise NotYours()
            crisis.resolve_signal(signal_id, "safety_check", None, now)
            client_id = signal.client_id
        client = uow.clients_of(actor.id).get(client_id)
        if client is None:
            raise NotYours()
        pending_id = uow.pending.add(
            counsellor_id=actor.id,
            kind="safety",
            payload={"client_id": client.id, "trigger": stored_trigger},
            now=now,
            expires_at=now + CHECK_TTL,
        )
        return _prompt(pending_id, client, {})


def _prompt(pending_id: int, client: Client, answers: dict[str, bool | None]) -> SafetyPrompt:
    item = safety.next_item(answers)
    assert item is not None
    asked = sum(1 for v in answers.values() if v is not None)
    return SafetyPrompt(
        pending_id=pending_id,
        client=client,
        answers=dict(answers),
        item=item,
        index=asked + 1,
        code=safety.encode_answers(answers),
        yes_code=safety.encode_answers({**answers, item: True}),
        no_code=safety.encode_answers({**answers, item: False}),
    )


def check_step(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    code: str,
    now: datetime,
    rules: RuleBase,
) -> SafetyPrompt | SafetyDone:
    """A yes/no (or Back) of the safety check was tapped: ask the next item, or store the
    finished check (exactly once) and re-grade."""
    try:
        answers = safety.decode_answers(code)
    except ValueError:
        raise NotYours() from None
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "safety":
            raise NotYours()
        client = uow.clients_of(actor.id).get(int(pending.payload["client_id"]))
        if client is None:
            raise NotYours()
        if safety.next_item(answers) is not None:
            return _prompt(pending_id, client, answers)
        if uow.pending.consume(pending_id, actor.id, now=now) is None:
            raise NotYours()
        check = safety.triage(safety.complete(answers), rules.safety_check.levels())
        stored = uow.crisis_of(actor.id).add_check(
            client.id, replace(check, at=now), pending.payload["trigger"], now
        )
        grading = regrade_client(uow, actor, client.id, now, rules)
        return SafetyDone(
            client=uow.clients_of(actor.id).get(client.id) or client,
            stored=stored,
            grading=grading,
            alert_raised=grading is not None and grading.alert is not None,
        )


def back_code(code: str) -> str:
    """The answers one step back (skipped items are not steps)."""
    code = code.rstrip("-")
    return code[:-1].rstrip("-") if code else ""


def cancel_check(db: Database, actor: Counsellor, pending_id: int, now: datetime) -> bool:
    with db.uow(write=True) as uow:
        pending = uow.pending.get(pending_id, actor.id, now=now)
        if pending is None or pending.kind != "safety":
            return False
        return uow.pending.consume(pending_id, actor.id, now=now) is not None


def checks_of(uow: UnitOfWork, actor: Counsellor, client_id: int) -> list[StoredCheck]:
    return uow.crisis_of(actor.id).checks(client_id, limit=3)
