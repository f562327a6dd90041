"""The composition root: settings → rules → catalogue → cipher → database → renderer → clock.

Built once, here, by `python -m bot`, `python -m reminders`, the demo and the tests; nothing
below it falls back to a default of its own. A layer between the two adapters (bot/,
reminders/) and everything they share (rendering/, services/, storage/, domain/).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bootstrap.database import open_database
from bootstrap.settings import ConfigError, Settings, load_settings
from domain.resources import Catalogue
from domain.rules import RuleBase, RulesError, load_rules
from rendering.render import Renderer, default_renderer
from services.grading import practice_rules
from services.referrals import catalogue as load_catalogue
from storage.db import Database

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The one wall clock; everything below the composition root is handed a clock."""
    return datetime.now(UTC)


def file_url_for(base_url: str) -> str:
    """`https://api.telegram.org/bot` → `https://api.telegram.org/file/bot`."""
    if base_url.endswith("/bot"):
        return base_url[: -len("/bot")] + "/file/bot"
    return base_url.rstrip("/") + "/file/bot"


def rule_base(settings: Settings) -> RuleBase:
    """The rule file of CAREMAP_RULES (the built-in one without it); practice mode switches
    the value tier on. A bad file is a ConfigError naming the variable."""
    try:
        rules = load_rules(settings.rules_path)
    except RulesError as exc:
        raise ConfigError(f"CAREMAP_RULES: {exc}") from None
    return practice_rules(rules) if settings.mode == "practice" else rules


@dataclass(frozen=True)
class Container:
    """Everything the adapters are built from."""

    settings: Settings
    rules: RuleBase
    catalogue: Catalogue
    db: Database
    renderer: Renderer
    clock: Clock


def bootstrap(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    renderer: Renderer | None = None,
    log: logging.Logger | None = None,
) -> Container:
    """Rules and catalogue first (cheap, and a bad rule file stops the start before the
    database is touched), then the key and the database (checked, migrated)."""
    rules = rule_base(settings)
    resources = load_catalogue()
    db = open_database(settings, log)
    return Container(
        settings=settings,
        rules=rules,
        catalogue=resources,
        db=db,
        renderer=renderer or default_renderer(),
        clock=clock,
    )


def assemble(settings: Settings, db: Database, *, clock: Clock) -> Container:
    """The same parts around a database already opened (tests that restart the bot on one
    database, or open it with settings of their own)."""
    return Container(
        settings=settings,
        rules=rule_base(settings),
        catalogue=load_catalogue(),
        db=db,
        renderer=default_renderer(),
        clock=clock,
    )


__all__ = [
    "Clock",
    "ConfigError",
    "Container",
    "Settings",
    "assemble",
    "bootstrap",
    "file_url_for",
    "load_settings",
    "rule_base",
    "system_clock",
]
