"""Configuration: read once, validated, in `main`.

Every setting comes from an environment variable (or a `.env` file in the working
directory), declared once in `Environment` (pydantic-settings). A missing or malformed one
stops the bot with one line naming it (`ConfigError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DB_FILE = "caremap.db"
MAINTENANCE_TOKEN = "0:maintenance"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseModel):
    """The validated configuration the composition root is built from."""

    model_config = ConfigDict(frozen=True)

    token: str
    api_base_url: str = DEFAULT_API_BASE_URL
    database_url: str = ""
    admin_ids: frozenset[int] = frozenset()
    timezone: str = "Asia/Shanghai"
    secret_key: str | None = None
    rules_path: str | None = None
    tick_seconds: float = 30.0
    # webhook mode: Telegram POSTs updates to this public URL (else: polling)
    webhook_url: str | None = None
    webhook_listen: tuple[str, int] = ("0.0.0.0", 8080)
    webhook_secret: str | None = None
    mode: str = "campus"  # CAREMAP_MODE: campus | practice (value tiers on)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _clean(value: Any) -> Any:
    """Surrounding spaces are not part of a value, and an empty value is an unset one."""
    if isinstance(value, str):
        return value.strip() or None
    return value


class Environment(BaseSettings):
    """The environment variables, one field each (a `.env` file fills in what is not set).
    Each validator's message starts with the variable's name: it is the line the operator
    reads."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        extra="ignore",
        env_ignore_empty=True,
        env_file_encoding="utf-8",
        validate_default=True,
    )

    TELEGRAM_BOT_TOKEN: str | None = None
    TELEGRAM_API_BASE_URL: str = DEFAULT_API_BASE_URL
    DATABASE_URL: str | None = None
    CAREMAP_ADMIN_IDS: Annotated[frozenset[int], NoDecode] = frozenset()  # "1, 2;3", not JSON
    CAREMAP_TIMEZONE: str = "Asia/Shanghai"
    CAREMAP_SECRET_KEY: str | None = None
    CAREMAP_RULES: str | None = None
    CAREMAP_TICK_SECONDS: float = 30.0
    CAREMAP_WEBHOOK_URL: str | None = None
    CAREMAP_WEBHOOK_LISTEN: Annotated[tuple[str, int], NoDecode] = ("0.0.0.0", 8080)  # host:port
    CAREMAP_WEBHOOK_SECRET: str | None = None
    CAREMAP_MODE: str = "campus"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the process environment wins over .env; values given explicitly (tests, or a
        # mapping passed to load_settings) stand in for the environment
        return init_settings, env_settings, dotenv_settings

    @field_validator(
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_URL",
        "CAREMAP_SECRET_KEY",
        "CAREMAP_RULES",
        "CAREMAP_WEBHOOK_URL",
        "CAREMAP_WEBHOOK_SECRET",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _clean(value)

    @field_validator("TELEGRAM_BOT_TOKEN")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and (any(c.isspace() for c in value) or ":" not in value):
            raise ValueError(
                "TELEGRAM_BOT_TOKEN looks malformed: expected '<digits>:<secret>' from @BotFather"
            )
        return value

    @field_validator("TELEGRAM_API_BASE_URL", mode="before")
    @classmethod
    def _base_url(cls, value: Any) -> str:
        value = _clean(value)
        value = value or DEFAULT_API_BASE_URL
        if not str(value).startswith(("http://", "https://")):
            raise ValueError(
                f"TELEGRAM_API_BASE_URL must start with http:// or https:// (got {value!r})"
            )
        return str(value)

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str | None) -> str:
        from storage.db import normalize_database_url, validate_database_url

        value = value or f"sqlite:///{Path.cwd() / DEFAULT_DB_FILE}"
        try:
            validate_database_url(value)
            return normalize_database_url(value)
        except ValueError as exc:
            raise ValueError(f"DATABASE_URL is not usable: {exc}") from None

    @field_validator("CAREMAP_ADMIN_IDS", mode="before")
    @classmethod
    def _admin_ids(cls, value: Any) -> frozenset[int]:
        value = _clean(value)
        if value is None or isinstance(value, frozenset | set | list | tuple):
            return frozenset(value or ())
        ids: set[int] = set()
        for part in str(value).replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            try:
                ids.add(int(part))
            except ValueError:
                raise ValueError(
                    f"CAREMAP_ADMIN_IDS must be comma-separated Telegram user ids (numbers); {part!r} is not"
                ) from None
        return frozenset(ids)

    @field_validator("CAREMAP_TIMEZONE", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str:
        value = _clean(value)
        value = value or "Asia/Shanghai"
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"CAREMAP_TIMEZONE {value!r} is not a known time zone (examples: Asia/Shanghai, Europe/London)"
            ) from None
        return str(value)

    @field_validator("CAREMAP_RULES")
    @classmethod
    def _rules(cls, value: str | None) -> str | None:
        if value and not Path(value).is_file():
            raise ValueError(f"CAREMAP_RULES points to {value!r}, which is not a readable file")
        return value

    @field_validator("CAREMAP_TICK_SECONDS", mode="before")
    @classmethod
    def _tick(cls, value: Any) -> float:
        value = _clean(value)
        raw = "30" if value is None else value
        try:
            tick = float(raw)
        except (TypeError, ValueError):
            raise ValueError(
                f"CAREMAP_TICK_SECONDS must be a number of seconds (got {raw!r})"
            ) from None
        if not 1 <= tick <= 3600:
            raise ValueError(f"CAREMAP_TICK_SECONDS must be between 1 and 3600 (got {raw!r})")
        return tick

    @field_validator("CAREMAP_WEBHOOK_URL")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(
                f"CAREMAP_WEBHOOK_URL must be an https:// URL Telegram can reach (got {value!r})"
            )
        return value

    @field_validator("CAREMAP_WEBHOOK_LISTEN", mode="before")
    @classmethod
    def _listen(cls, value: Any) -> tuple[str, int]:
        value = _clean(value)
        if isinstance(value, tuple):
            return value
        raw = value or "0.0.0.0:8080"
        host, _, port = str(raw).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"CAREMAP_WEBHOOK_LISTEN must be host:port, e.g. 0.0.0.0:8080 (got {raw!r})"
            )
        return host, int(port)

    @field_validator("CAREMAP_WEBHOOK_SECRET")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError(
                "CAREMAP_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (1-256 characters)"
            )
        return value

    @field_validator("CAREMAP_MODE", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> str:
        value = _clean(value)
        mode = str(value or "campus").strip().lower()
        if mode not in ("campus", "practice"):
            raise ValueError(f"CAREMAP_MODE must be campus or practice (got {value!r})")
        return mode


def _first_line(exc: ValidationError) -> str:
    """One line naming the variable (the first problem; the operator fixes one at a time)."""
    error = exc.errors()[0]
    message = str(error.get("msg", ""))
    message = message.removeprefix("Value error, ")
    variable = str(error["loc"][0]) if error.get("loc") else ""
    if variable and not message.startswith(variable):
        message = f"{variable}: {message}"
    return message


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    dotenv: Path | None = Path(".env"),
    require_token: bool = True,
) -> Settings:
    """Build Settings from the environment (or `environ`, which then stands in for it) and
    the `.env` file; raise ConfigError naming the bad variable. `require_token=False` for
    maintenance commands (backup, rotate-key) that never talk to Telegram."""
    fields = Environment.model_fields
    given = {k: v for k, v in environ.items() if k in fields} if environ is not None else {}
    try:
        if environ is None:
            env = Environment(_env_file=dotenv)  # type: ignore[call-arg]
        else:  # only the mapping and the .env file, never this process's own environment
            values: dict[str, Any] = {}
            if dotenv is not None and dotenv.is_file():
                from dotenv import dotenv_values

                values.update(
                    {
                        k: v
                        for k, v in dotenv_values(dotenv).items()
                        if k in fields and v is not None
                    }
                )
            values.update(given)
            env = Environment.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_first_line(exc)) from None

    token = env.TELEGRAM_BOT_TOKEN
    if not token and not require_token:
        token = MAINTENANCE_TOKEN
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and set it")
    return Settings(
        mode=env.CAREMAP_MODE,
        token=token,
        api_base_url=env.TELEGRAM_API_BASE_URL,
        database_url=env.DATABASE_URL or "",
        admin_ids=env.CAREMAP_ADMIN_IDS,
        timezone=env.CAREMAP_TIMEZONE,
        secret_key=env.CAREMAP_SECRET_KEY,
        rules_path=env.CAREMAP_RULES,
        tick_seconds=env.CAREMAP_TICK_SECONDS,
        webhook_url=env.CAREMAP_WEBHOOK_URL,
        webhook_listen=env.CAREMAP_WEBHOOK_LISTEN,
        webhook_secret=env.CAREMAP_WEBHOOK_SECRET,
    )
