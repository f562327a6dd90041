"""The agenda in one message (and its buttons), fitted to Telegram's 4,096 characters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.buttons import AgendaList, ConfirmQuietReviews
from rendering.render import MAX_MESSAGE, Renderer, visible_length

AGENDA_SECTIONS = {"a": "alerts", "r": "reviews", "p": "plan", "c": "contact"}
LIST_PAGE = 20


def agenda_message(
    renderer: Renderer, lang: str, data: dict[str, Any], *, tz: str, now: datetime, pushed: bool
) -> tuple[str, list[list[tuple[str, str]]]]:
    """The agenda in one message, and its buttons: "confirm all" for the quiet low-risk
    reviews, and "see all N" under every list that does not show everyone. Lists are
    shortened further (the longest first, most urgent kept) until the message fits."""
    data = dict(data)
    while True:
        text = renderer.render(lang, "today", a=data, pushed=pushed, tz=tz, now=now)
        if visible_length(text) <= MAX_MESSAGE:
            break
        longest = max(("plan", "contact", "reviews", "alerts", "quiet"), key=lambda k: len(data[k]))
        if not data[longest]:
            text = text[:MAX_MESSAGE]  # cannot happen with the template's fixed text
            break
        data[longest] = data[longest][: len(data[longest]) // 2]
    rows: list[list[tuple[str, str]]] = []
    if data.get("quiet_total"):
        rows.append(
            [
                (
                    renderer.render(lang, "button_confirm_all", n=data["quiet_total"]),
                    ConfirmQuietReviews().pack(),
                )
            ]
        )
    for code, name in AGENDA_SECTIONS.items():
        total = data.get(f"{name}_total", len(data[name]))
        if total > len(data[name]):
            rows.append(
                [
                    (
                        renderer.render(lang, "button_see_all", section=name, n=total),
                        AgendaList(code, 0).pack(),
                    )
                ]
            )
    return text, rows


def render_agenda(
    renderer: Renderer, lang: str, data: dict[str, Any], *, tz: str, now: datetime, pushed: bool
) -> str:
    return agenda_message(renderer, lang, data, tz=tz, now=now, pushed=pushed)[0]
