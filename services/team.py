"""Team administration: who is an admin, (later) deactivation and handover."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from storage.db import Database


def sync_admins(db: Database, admin_telegram_ids: Iterable[int], log: logging.Logger | None = None) -> tuple[list[int], list[int]]:
    """At every start: admins are exactly the counsellors listed in CAREMAP_ADMIN_IDS.
    A removed id loses /invite, supervisor settings and the admins' escalations at once."""
    with db.uow(write=True) as uow:
        granted, revoked = uow.counsellors.sync_admins(admin_telegram_ids)
    if log is not None and (granted or revoked):
        log.info(
            "CAREMAP_ADMIN_IDS: admin rights given to %d and taken from %d counsellor(s) "
            "(counsellor ids given %s, taken %s)", len(granted), len(revoked), granted, revoked,
        )
    return granted, revoked
