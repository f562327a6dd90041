"""Database.once: the first write unit of work inside records the update id in its own
transaction; the same update again raises AlreadyProcessed and writes nothing."""

from __future__ import annotations

import pytest

from storage.errors import AlreadyProcessed


def _add_counsellor(db, tid, now):
    with db.uow(write=True) as uow:
        return uow.counsellors.add(telegram_id=tid, display_name=str(tid), is_admin=False, now=now)


def test_once_claims_in_the_same_transaction(db, now):
    with db.once(7, now):
        _add_counsellor(db, 1, now)
    with pytest.raises(AlreadyProcessed):
        with db.once(7, now):
            _add_counsellor(db, 2, now)
    with db.uow(write=False) as uow:
        assert uow.counsellors.get_by_telegram_id(1) is not None
        assert uow.counsellors.get_by_telegram_id(2) is None
    # a failed unit of work rolls its claim back with it: the update can be handled again
    with pytest.raises(RuntimeError):
        with db.once(8, now), db.uow(write=True) as uow:
            uow.counsellors.add(telegram_id=3, display_name="3", is_admin=False, now=now)
            raise RuntimeError("boom")
    with db.once(8, now):
        _add_counsellor(db, 3, now)
    # read units never claim; an explicit claim of the same update in the claiming unit is ours
    with db.once(9, now):
        with db.uow(write=False):
            pass
        with db.uow(write=True) as uow:
            assert uow.updates.claim(9, now) is True
    with db.uow(write=True) as uow:
        assert uow.updates.claim(9, now) is False
