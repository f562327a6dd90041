"""How an alert reads, on every copy (issue 11): the first push, its repeats, the
escalations, and all of them once acknowledged.

An alert tells the counsellor what to do: the response standard (respond within …, by
<local time>), the crisis resources of the catalogue (with "not set yet" for a contact the
operator has not filled in), who receives it if it stays unacknowledged — or that nobody
will, and how to set a supervisor — and the Acknowledge (and safety check) buttons.

Acknowledging keeps every copy's text, adds "acknowledged at …" in each reader's own time
zone and removes the buttons: `acknowledged_edits` renders those edits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.buttons import AckAlert, SafetyCheckStart
from domain.model import Client, Counsellor
from domain.resources import Resource, load_resources
from rendering.render import Renderer, pick_language
from services.escalation import escalation_targets
from storage import UnitOfWork

Buttons = list[list[tuple[str, str]]]


def safety_check_data(alert: Any) -> str | None:
    """The safety check's button for this alert's client (bot/handlers_crisis `sc:` with the
    "al" trigger: started from an alert). On every unacknowledged crisis/high alert and
    repeat; acknowledging strips it with the other buttons."""
    return SafetyCheckStart(alert.client_id, "al").pack()


def crisis_resources() -> list[Resource]:
    return load_resources().crisis_resources()


def _lang(counsellor: Counsellor) -> str:
    return pick_language(counsellor.language, getattr(counsellor, "telegram_language", None))


def _tier(alert: Any) -> str:
    return getattr(alert.tier, "value", alert.tier)


@dataclass(frozen=True)
class AlertCopyView:
    """Everything one copy's text depends on."""

    kind: str  # "alert" | "realert" | "escalation"
    client: Client
    alert: Any
    owner: Counsellor  # whose client it is
    recipient: Counsellor
    n: int = 0  # repeat number
    reason: str = "unacknowledged"  # escalation: unacknowledged | blocked | nobody
    escalate_to: tuple[Counsellor, ...] | None = None  # None: no escalation step pending
    message_id: int | None = None
    unreachable: Counsellor | None = None  # escalation: sent instead of them (they blocked the bot)


def alert_view(
    uow: UnitOfWork,
    kind: str,
    payload: dict[str, Any],
    recipient: Counsellor,
    alert: Any,
    client: Client,
    message_id: int | None = None,
) -> AlertCopyView:
    owner_id = int(payload.get("from", alert.counsellor_id))
    owner = recipient if owner_id == recipient.id else uow.counsellors.get(owner_id) or recipient
    escalate_to: tuple[Counsellor, ...] | None = None
    if (
        kind in ("alert", "realert")
        and alert.escalate_at is not None
        and alert.escalated_at is None
    ):
        escalate_to = tuple(escalation_targets(uow, owner))
    unreachable = None
    if kind == "escalation" and payload.get("unreachable") is not None:
        unreachable = uow.counsellors.get(int(payload["unreachable"]))
    return AlertCopyView(
        kind=kind,
        client=client,
        alert=alert,
        owner=owner,
        recipient=recipient,
        n=int(payload.get("n", 0) or 0),
        reason=str(payload.get("reason", "unacknowledged")),
        escalate_to=escalate_to,
        message_id=message_id,
        unreachable=unreachable,
    )


def render_copy(
    renderer: Renderer, view: AlertCopyView, now: datetime, acknowledged_at: datetime | None = None
) -> str:
    lang = _lang(view.recipient)
    alert = view.alert
    within = alert.respond_by - alert.raised_at
    common = dict(
        client=view.client,
        alert=alert,
        tz=view.recipient.timezone,
        now=now,
        acknowledged_at=acknowledged_at,
        resources=crisis_resources(),
        within_minutes=int(within.total_seconds() // 60),
    )
    if view.kind == "escalation":
        return renderer.render(
            lang,
            "escalation",
            counsellor=view.owner,
            reason=view.reason,
            self_notice=view.owner.id == view.recipient.id,
            unreachable=view.unreachable,
            **common,
        )
    return renderer.render(
        lang,
        "alert",
        again=view.kind == "realert",
        n=view.n,
        escalate_to=view.escalate_to,
        owner=view.owner,
        **common,
    )


def alert_buttons(renderer: Renderer, view: AlertCopyView) -> Buttons:
    """Acknowledge (and the safety check, once it exists) on the counsellor's own copies."""
    if view.kind == "escalation" and view.owner.id != view.recipient.id:
        return []
    lang = _lang(view.recipient)
    rows: Buttons = [[(renderer.render(lang, "button_ack"), AckAlert(view.alert.id).pack())]]
    safety = safety_check_data(view.alert)
    if safety is not None and _tier(view.alert) in ("crisis", "high"):
        rows[0].append((renderer.render(lang, "button_safety_check"), safety))
    return rows


@dataclass(frozen=True)
class Edit:
    """One sent copy to edit once the alert is acknowledged: same text plus the
    acknowledgement, no buttons."""

    chat_id: int
    message_id: int
    text: str


def acknowledged_edits(
    renderer: Renderer, views: list[AlertCopyView], acknowledged_at: datetime, now: datetime
) -> list[Edit]:
    return [
        Edit(v.recipient.telegram_id, v.message_id, render_copy(renderer, v, now, acknowledged_at))
        for v in views
        if v.message_id is not None
    ]


def _unreachable(outcome: Any, copy: Any) -> Counsellor | None:
    other = copy.payload.get("unreachable") if copy.kind == "escalation" else None
    return outcome.recipients.get(int(other)) if other is not None else None


def acknowledged_views(outcome: Any, tapped_message_id: int | None = None) -> list[AlertCopyView]:
    """The copies of an acknowledged alert (from `services.reminders.AlertOutcome`), and the
    tapped message itself when no sent row records it (a copy still being marked)."""
    views = []
    for copy in outcome.copies:
        recipient = outcome.recipients.get(copy.recipient_id)
        if recipient is None:
            continue
        views.append(
            AlertCopyView(
                kind=copy.kind,
                client=outcome.client,
                alert=outcome.alert,
                owner=outcome.owner,
                recipient=recipient,
                n=int(copy.payload.get("n", 0) or 0),
                reason=str(copy.payload.get("reason", "unacknowledged")),
                message_id=copy.message_id,
                unreachable=_unreachable(outcome, copy),
            )
        )
    mine = {v.message_id for v in views if v.recipient.id == outcome.owner.id}
    if tapped_message_id is not None and tapped_message_id not in mine:
        views.append(
            AlertCopyView(
                kind="alert",
                client=outcome.client,
                alert=outcome.alert,
                owner=outcome.owner,
                recipient=outcome.owner,
                message_id=tapped_message_id,
            )
        )
    return views


__all__ = [
    "acknowledged_views",
    "AlertCopyView",
    "Edit",
    "acknowledged_edits",
    "alert_buttons",
    "alert_view",
    "crisis_resources",
    "render_copy",
    "safety_check_data",
]
