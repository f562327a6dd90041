"""What every handler needs (the settings, the database, the clock, the renderer, the
rules and the catalogue), built once by `bot.app.build_application` and kept in
`application.bot_data["ctx"]`."""

from __future__ import annotations

from dataclasses import dataclass

from bootstrap import Clock, Settings
from domain.resources import Catalogue
from domain.rules import RuleBase
from rendering.render import Renderer
from storage.db import Database


@dataclass
class BotContext:
    """What every handler needs, built once here and kept in `application.bot_data`."""

    settings: Settings
    db: Database
    clock: Clock
    renderer: Renderer
    rules: RuleBase
    catalogue: Catalogue
