"""What a due outbox row says: read the current state, render the template, add buttons.

A row whose reason has gone (the plan item is done, the alert acknowledged, the client
deleted) composes to None and is cancelled instead of sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.buttons import CadenceSnooze, MapAction, PlanDone, PlanSnooze, SeriesStop, TierReview
from domain.model import Counsellor
from domain.schedule import in_quiet_hours
from rendering.agenda import agenda_message
from rendering.alerts import alert_buttons, alert_view, render_copy
from rendering.render import Renderer, language_of
from services.agenda import agenda_data
from services.escalation import escalation_targets
from storage import UnitOfWork


@dataclass(frozen=True)
class Envelope:
    chat_id: int
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    urgent: bool = False  # crisis alerts go out even in quiet hours
    recipient: Counsellor | None = None


def compose(uow: UnitOfWork, item: Any, renderer: Renderer, now: datetime) -> Envelope | None:
    # the row as it is now, not as it was claimed: a handover since the claim moved it to
    # the new counsellor (storage.staff.hand_over), and it goes to them
    current = uow.outbox.get(item.id)
    counsellor_id = current.counsellor_id if current is not None else item.counsellor_id
    recipient = uow.counsellors.get(counsellor_id)
    if recipient is None or not recipient.active:
        return None  # a deactivated counsellor gets nothing, whatever was queued for them
    lang = language_of(recipient)
    tz = recipient.timezone

    def render(name: str, **kw: Any) -> str:
        return renderer.render(lang, name, tz=tz, now=now, **kw)

    payload = item.payload
    kind = item.kind
    if kind == "agenda":
        data = agenda_data(uow, recipient, now)
        text, buttons = agenda_message(renderer, lang, data, tz=tz, now=now, pushed=True)
        return Envelope(recipient.telegram_id, text, buttons, recipient=recipient)

    if kind == "digest":
        from services.supervision import digest_for

        digest = digest_for(uow, recipient, now)
        if not digest:
            return None  # everything was handled since it was planned
        return Envelope(
            recipient.telegram_id,
            render("digest", d=digest, day=payload.get("date", "")),
            recipient=recipient,
        )

    owner_id = payload.get("from", recipient.id) if kind == "escalation" else recipient.id
    if kind == "escalation" and "alert_id" in payload:
        # queued before a handover: the client is now in the new counsellor's caseload, and
        # only those who receive the new counsellor's escalations may read about them
        current_alert = uow.scan.alert(int(payload["alert_id"]))
        if current_alert is not None and current_alert.counsellor_id != owner_id:
            owner = uow.counsellors.get(current_alert.counsellor_id)
            if owner is None or all(t.id != recipient.id for t in escalation_targets(uow, owner)):
                return None
            owner_id = owner.id
    repo = uow.clients_of(owner_id)
    records = uow.records_of(owner_id)
    clinical = uow.clinical_of(owner_id)
    client = repo.get(int(payload["client_id"])) if "client_id" in payload else None
    if client is None:
        return None

    if kind == "plan":
        plan = records.plan_item(int(payload["plan_id"]))
        if plan is None or plan.done_at is not None:
            return None
        pid = plan.id
        buttons = [
            [(render("button_done"), PlanDone(pid).pack())],
            [
                (render("button_snooze_1h"), PlanSnooze(pid, "1h").pack()),
                (render("button_snooze_1d"), PlanSnooze(pid, "1d").pack()),
                (render("button_snooze_1w"), PlanSnooze(pid, "1w").pack()),
            ],
        ]
        series = (
            uow.series_of(recipient.id).get(plan.series_id) if plan.series_id is not None else None
        )
        if series is not None and series.active:
            buttons[0].append((render("button_stop_series"), SeriesStop(pid).pack()))
        return Envelope(
            recipient.telegram_id,
            render("reminder_plan", client=client, plan=plan, series=series),
            buttons,
            recipient=recipient,
        )

    if kind in ("alert", "realert", "escalation"):
        alert = clinical.alert(int(payload["alert_id"]))
        if alert is None:
            return None
        if alert.acknowledged_at is not None:
            return None
        urgent = getattr(alert.tier, "value", alert.tier) == "crisis"
        view = alert_view(uow, kind, payload, recipient, alert, client)
        text = render_copy(renderer, view, now)
        if kind == "escalation":
            urgent = True
        return Envelope(
            recipient.telegram_id,
            text,
            alert_buttons(renderer, view),
            urgent=urgent,
            recipient=recipient,
        )

    if kind == "cadence":
        grades = clinical.grades(client.id)
        if grades is None or grades.next_contact_due is None or grades.next_contact_due > now:
            return None
        keys = [
            [
                (render("button_map_log"), MapAction("l", client.id).pack()),
                (render("button_cadence_snooze"), CadenceSnooze(client.id).pack()),
            ]
        ]
        return Envelope(
            recipient.telegram_id,
            render("reminder_cadence", client=client, g=grades),
            keys,
            recipient=recipient,
        )

    if kind == "review":
        grades = clinical.grades(client.id)
        if grades is None or grades.review_due_at is None or grades.review_due_at > now:
            return None
        buttons = [[(render("button_confirm"), TierReview("c", client.id).pack())]]
        if grades.risk.value != "low":
            buttons[0].append((render("button_lower"), TierReview("l", client.id).pack()))
        return Envelope(
            recipient.telegram_id,
            render("reminder_review", client=client, g=grades),
            buttons,
            recipient=recipient,
        )
    return None


def quiet_now(recipient: Counsellor | None, now: datetime) -> bool:
    if recipient is None or not recipient.quiet_hours:
        return False
    return in_quiet_hours(now, recipient.timezone, recipient.quiet_hours)


def today_for(uow: UnitOfWork, counsellor: Counsellor, now: datetime) -> dict[str, Any]:
    return agenda_data(uow, counsellor, now)


__all__ = ["Envelope", "compose", "quiet_now", "today_for"]
