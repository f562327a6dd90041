"""Configuration: read once, validated, in `main`.

Every setting comes from an environment variable (or a `.env` file in the working
directory). A missing or malformed one stops the bot with one line naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DB_FILE = "caremap.db"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    token: str
    api_base_url: str = DEFAULT_API_BASE_URL
    database_url: str = ""
    admin_ids: frozenset[int] = frozenset()
    timezone: str = "Asia/Shanghai"
    secret_key: str | None = None
    rules_path: str | None = None
    tick_seconds: float = 30.0
    mode: str = "campus"  # CAREMAP_MODE: campus | practice (value tiers on)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _read_dotenv(path: Path) -> dict[str, str]:
    """A minimal `.env` reader: KEY=VALUE lines, # comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(
    environ: dict[str, str] | None = None, *, dotenv: Path | None = Path(".env"),
    require_token: bool = True,
) -> Settings:
    """Build Settings from the environment; raise ConfigError naming the bad variable.
    `require_token=False` for maintenance commands (backup, rotate-key) that never talk
    to Telegram."""
    env: dict[str, str] = {}
    if dotenv is not None:
        env.update(_read_dotenv(dotenv))
    env.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    token = get("TELEGRAM_BOT_TOKEN")
    if not token and not require_token:
        token = "0:maintenance"
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and set it")
    if any(c.isspace() for c in token) or ":" not in token:
        raise ConfigError("TELEGRAM_BOT_TOKEN looks malformed: expected '<digits>:<secret>' from @BotFather")

    base_url = get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"TELEGRAM_API_BASE_URL must start with http:// or https:// (got {base_url!r})")

    database_url = get("DATABASE_URL") or f"sqlite:///{Path.cwd() / DEFAULT_DB_FILE}"
    from storage.db import normalize_database_url, validate_database_url

    try:
        validate_database_url(database_url)
        database_url = normalize_database_url(database_url)
    except ValueError as exc:
        raise ConfigError(f"DATABASE_URL is not usable: {exc}") from None

    admin_ids: set[int] = set()
    raw_admins = get("CAREMAP_ADMIN_IDS") or ""
    for part in raw_admins.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            admin_ids.add(int(part))
        except ValueError:
            raise ConfigError(
                f"CAREMAP_ADMIN_IDS must be comma-separated Telegram user ids (numbers); {part!r} is not"
            ) from None

    tz = get("CAREMAP_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"CAREMAP_TIMEZONE {tz!r} is not a known time zone (examples: Asia/Shanghai, Europe/London)"
        ) from None

    rules_path = get("CAREMAP_RULES")
    if rules_path and not Path(rules_path).is_file():
        raise ConfigError(f"CAREMAP_RULES points to {rules_path!r}, which is not a readable file")

    raw_tick = get("CAREMAP_TICK_SECONDS") or "30"
    try:
        tick = float(raw_tick)
    except ValueError:
        raise ConfigError(f"CAREMAP_TICK_SECONDS must be a number of seconds (got {raw_tick!r})") from None
    if not 1 <= tick <= 3600:
        raise ConfigError(f"CAREMAP_TICK_SECONDS must be between 1 and 3600 (got {raw_tick!r})")

    mode = (get("CAREMAP_MODE") or "campus").strip().lower()
    if mode not in ("campus", "practice"):
        raise ConfigError(f"CAREMAP_MODE must be campus or practice (got {mode!r})")

    return Settings(
        mode=mode,
        token=token,
        api_base_url=base_url,
        database_url=database_url,
        admin_ids=frozenset(admin_ids),
        timezone=tz,
        secret_key=get("CAREMAP_SECRET_KEY"),
        rules_path=rules_path,
        tick_seconds=tick,
    )
