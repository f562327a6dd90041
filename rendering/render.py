"""Rendering of every message the bot sends, from `templates/<lang>/<name>.j2`.

HTML parse mode: jinja2 autoescape turns `<`, `>`, `&`, `"` into the four entities
Telegram's HTML parser knows, so a note like `挂科 <3 门 & a<b` arrives as typed.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

import templates as _templates_pkg

LANGS = ("zh", "en")
MAX_MESSAGE = 4096
TEMPLATE_DIR = Path(_templates_pkg.__file__).parent

_TAG_RE = re.compile(r"<[^>]+>")


def pick_language(stored: str | None, telegram_code: str | None) -> str:
    """`/lang` wins; otherwise Telegram's language_code: zh* → zh, anything else → en."""
    if stored in LANGS:
        return stored
    if telegram_code and telegram_code.lower().startswith("zh"):
        return "zh"
    return "en"


def visible_length(html_text: str) -> int:
    """Length of the text Telegram will count: tags removed, entities decoded, UTF-16 units."""
    plain = html.unescape(_TAG_RE.sub("", html_text))
    return len(plain.encode("utf-16-le")) // 2


_TOKEN_RE = re.compile(
    r"<(/?)([a-zA-Z0-9-]+)[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|.", re.DOTALL
)
ELLIPSIS = "…"


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit_message(html_text: str, limit: int = MAX_MESSAGE) -> str:
    """The message as Telegram will take it: at most `limit` visible characters (UTF-16
    units, as Telegram counts). A longer text is cut at a character boundary (never inside a
    tag or an entity), ends in "…", and every tag left open is closed again, so the HTML
    stays valid. The safety net under every reply; templates shorten their lists first."""
    if visible_length(html_text) <= limit:
        return html_text
    budget = limit - _units(ELLIPSIS)
    out: list[str] = []
    open_tags: list[str] = []
    used = 0
    for match in _TOKEN_RE.finditer(html_text):
        token = match.group(0)
        if match.group(2) is not None:  # a tag: costs nothing visible
            name = match.group(2).lower()
            if match.group(1):
                if name in open_tags:
                    del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name)]
            else:
                open_tags.append(name)
            out.append(token)
            continue
        visible = html.unescape(token) if token.startswith("&") else token
        cost = _units(visible)
        if used + cost > budget:
            break
        used += cost
        out.append(token)
    text = "".join(out).rstrip()
    # drop tags opened right at the cut (an empty <b></b> is refused by Telegram)
    while (
        open_tags
        and text.endswith(">")
        and re.search(r"<" + re.escape(open_tags[-1]) + r"\b[^>]*>$", text)
    ):
        text = re.sub(r"<" + re.escape(open_tags[-1]) + r"\b[^>]*>$", "", text).rstrip()
        open_tags.pop()
    return text + ELLIPSIS + "".join(f"</{name}>" for name in reversed(open_tags))


def _clip(value: object, limit: int = 300) -> str:
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 1)].rstrip() + "…"


def _oneline(value: object, limit: int = 120) -> str:
    text = " ".join(("" if value is None else str(value)).split())
    return _clip(text, limit)


class Renderer:
    def __init__(self, directory: Path = TEMPLATE_DIR) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["clip"] = _clip
        self.env.filters["oneline"] = _oneline
        self.env.filters["local"] = _local
        self.env.filters["localdate"] = _localdate
        self.env.filters["days_late"] = _days_late
        from domain.resources import resource_label
        from domain.vocab import channel_label, outcome_label, unreached_streak

        self.env.globals["channel_label"] = channel_label
        self.env.globals["resource_label"] = resource_label
        self.env.globals["outcome_label"] = outcome_label
        self.env.globals["unreached_streak"] = unreached_streak

    def exists(self, lang: str, name: str) -> bool:
        return (TEMPLATE_DIR / lang / f"{name}.j2").is_file()

    def render(self, lang: str, template_name: str, /, **ctx: object) -> str:
        if lang not in LANGS:
            lang = "en"
        template = self.env.get_template(f"{lang}/{template_name}.j2")
        return template.render(ctx, lang=lang).strip()

    def render_fitting(
        self, lang: str, template_name: str, list_key: str, items: list, /, **ctx: object
    ) -> str:
        """Render with as many of `items` (latest first) as fit in one message."""
        count = len(items)
        while True:
            text = self.render(
                lang, template_name, **{list_key: items[:count]}, omitted=len(items) - count, **ctx
            )
            if visible_length(text) <= MAX_MESSAGE and len(text) <= 3 * MAX_MESSAGE or count == 0:
                return text
            count = count // 2 if count > 8 else count - 1


def _local(value: datetime | None, tz: str | ZoneInfo = "Asia/Shanghai") -> str:
    if value is None:
        return ""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _localdate(value: datetime | None, tz: str | ZoneInfo = "Asia/Shanghai") -> str:
    if value is None:
        return ""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return value.astimezone(zone).strftime("%Y-%m-%d")


def _days_late(due: datetime | None, now: datetime, tz: str | ZoneInfo = "Asia/Shanghai") -> int:
    from domain.tiering import days_late

    return days_late(due, now, tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))


@lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    return Renderer()


def language_of(counsellor: Any) -> str:
    """The language a counsellor reads: their /lang, else their Telegram app's language."""
    return pick_language(counsellor.language, getattr(counsellor, "telegram_language", None))
