"""Admin rights follow CAREMAP_ADMIN_IDS at every start (issue 14): an id removed from the
setting loses /invite, the supervisor setting and the admins' escalations after a restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bootstrap.database import open_database
from bootstrap.settings import Settings
from domain.errors import CommandError
from services import invites
from services import reminders as rem
from services.escalation import escalation_targets
from storage import Cipher

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _start(url: str, key: str, admins: set[int]):
    return open_database(
        Settings(token="1:x", database_url=url, secret_key=key, admin_ids=frozenset(admins))
    )


def test_an_id_removed_from_the_setting_is_no_longer_admin_after_restart(tmp_path):
    url, key = f"sqlite:///{tmp_path / 'caremap.db'}", Cipher.generate_key()
    db = _start(url, key, {1001, 1002})
    try:
        invites.ensure_admin(db, 1001, "Li", NOW, "Asia/Shanghai")
        second = invites.ensure_admin(db, 1002, "Wang", NOW, "Asia/Shanghai")
        code, _ = invites.create_invite(db, second, NOW)
        member = invites.redeem_invite(db, code, 2002, "Zhao", NOW, "Asia/Shanghai")
        with db.uow(write=False) as uow:
            assert {a.telegram_id for a in escalation_targets(uow, member)} == {1001, 1002}
    finally:
        db.dispose()

    db = _start(url, key, {1001})  # 1002 removed from CAREMAP_ADMIN_IDS, restart
    try:
        second = invites.find_counsellor(db, 1002)
        assert second is not None and not second.is_admin
        assert invites.find_counsellor(db, 1001).is_admin
        with pytest.raises(CommandError) as err:
            invites.create_invite(db, second, NOW)
        assert err.value.code == "admin_only"
        with pytest.raises(CommandError):
            rem.set_supervisor(db, second, 2002, 1002, NOW)
        with db.uow(write=False) as uow:
            assert [a.telegram_id for a in escalation_targets(uow, member)] == [1001]
    finally:
        db.dispose()

    db = _start(url, key, {1001, 1002})  # and back: the setting is the truth both ways
    try:
        assert invites.find_counsellor(db, 1002).is_admin
    finally:
        db.dispose()
