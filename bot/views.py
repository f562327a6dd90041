"""Messages with buttons that several handler modules send: which client a parked command
means, and one questionnaire step."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.turn import Turn, clip
from domain.buttons import ParkedChoice, QuestionnaireStep, ReferralClientChoice
from domain.screening import ANSWER_LABELS, SPECS, Instrument
from services import clients as clients_service
from services import screenings


async def choose_client(
    turn: Turn,
    choice: clients_service.Choice,
    kind: type[ParkedChoice | ReferralClientChoice] = ParkedChoice,
) -> None:
    """Buttons to pick one of several matching clients for a parked command
    (`<kind>:<pending_id>:<client_id>`, `x` cancels; checked against who taps)."""
    rows = [
        [
            InlineKeyboardButton(
                f"#{c.number} {c.name}"[:60], callback_data=kind(choice.pending_id, c.id).pack()
            )
        ]
        for c in choice.candidates[:8]
    ]
    rows.append(
        [
            InlineKeyboardButton(
                turn.render("button_cancel"), callback_data=kind(choice.pending_id, "x").pack()
            )
        ]
    )
    await turn.reply(
        "choose_client",
        markup=InlineKeyboardMarkup(rows),
        ref=clip(choice.ref),
        candidates=choice.candidates,
    )


def question_message(
    turn: Turn, q: screenings.Questionnaire, answers: tuple[int, ...]
) -> tuple[str, InlineKeyboardMarkup]:
    spec = SPECS[Instrument(q.instrument)]
    index = len(answers)
    text = turn.render(
        "screening_item",
        client=q.client,
        name=spec.name,
        stem=spec.stem(turn.lang),
        item=spec.items(turn.lang)[index],
        index=index + 1,
        count=spec.item_count,
    )
    rows = [
        [
            InlineKeyboardButton(
                f"{value} · {label}",
                callback_data=QuestionnaireStep(q.pending_id, (*answers, value)).pack(),
            )
        ]
        for value, label in enumerate(ANSWER_LABELS[turn.lang])
    ]
    nav = []
    if answers:
        nav.append(
            InlineKeyboardButton(
                turn.render("button_back"),
                callback_data=QuestionnaireStep(q.pending_id, answers[:-1]).pack(),
            )
        )
    nav.append(
        InlineKeyboardButton(
            turn.render("button_cancel"), callback_data=QuestionnaireStep(q.pending_id, "x").pack()
        )
    )
    rows.append(nav)
    return text, InlineKeyboardMarkup(rows)
