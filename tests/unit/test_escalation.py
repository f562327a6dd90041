"""Who receives a counsellor's unacknowledged alerts (domain.escalation)."""

from __future__ import annotations

from domain.escalation import escalation_targets, fallback_targets, supervisees
from domain.model import Counsellor


def person(i: int, admin: bool = False, supervisor: int | None = None) -> Counsellor:
    return Counsellor(
        id=i, telegram_id=1000 + i, display_name=f"c{i}", is_admin=admin, supervisor_id=supervisor
    )


def ids(people) -> list[int]:
    return [p.id for p in people]


def test_supervisor_first_then_the_other_admins_then_nobody():
    admin, other_admin, sup = person(1, admin=True), person(2, admin=True), person(3)
    c = person(4, supervisor=3)
    assert ids(escalation_targets(c, sup, [admin, other_admin])) == [3]
    assert ids(escalation_targets(person(5), None, [admin, other_admin])) == [1, 2]
    # an admin without a supervisor: the OTHER admins, never themself
    assert ids(escalation_targets(admin, None, [admin, other_admin])) == [2]
    # the only admin, no supervisor: nobody (and the caller must say so)
    assert escalation_targets(admin, None, [admin]) == []
    # a counsellor set as their own supervisor does not count as one
    me = person(6, supervisor=6)
    assert ids(escalation_targets(me, me, [admin])) == [1]


def test_supervisees_are_those_whose_alerts_come_to_me():
    admin = person(1, admin=True)
    sup = person(2)
    a, b, c = person(3, supervisor=2), person(4), person(5, supervisor=2)
    everyone = [admin, sup, a, b, c]
    assert ids(supervisees(sup, everyone)) == [3, 5]
    assert ids(supervisees(admin, everyone)) == [2, 4]  # the unsupervised ones (not itself)
    assert supervisees(a, everyone) == []


def test_when_a_target_cannot_be_reached_the_other_admins_are_next():
    admin, other_admin, sup = person(1, admin=True), person(2, admin=True), person(3)
    c = person(4, supervisor=3)
    assert ids(fallback_targets(c, sup, [admin, other_admin])) == [1, 2]
    # an admin who blocked the bot is skipped, and so is the counsellor themself
    assert ids(fallback_targets(admin, other_admin, [admin, other_admin])) == []
    assert ids(fallback_targets(c, admin, [admin, other_admin])) == [2]
