"""The safety check (安全评估): a short structured yes/no check of suicide risk. Pure.

Our own wording (templates/<lang>/safety_*.j2), modelled on the triage of the published
suicide-risk screeners: a wish to be dead, thoughts of suicide, a method, intent, a plan, and
self-harm behaviour (ever, then within the past 3 months). The triage is data in the rule file
(`[safety_check]`): the result is the highest tier any "yes" maps to, so one more "yes" can
never lower it. Skip logic: without thoughts of suicide, method/intent/plan are not asked;
without any behaviour, "within 3 months" is not asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.model import Risk

# In the order asked. Each is answered True (yes), False (no) or None (not asked).
ITEMS: tuple[str, ...] = (
    "wish",
    "thoughts",
    "method",
    "intent",
    "plan",
    "behaviour",
    "behaviour_recent",
)
# item → the item that must be "yes" for it to be asked
ASKED_IF: dict[str, str] = {
    "method": "thoughts",
    "intent": "thoughts",
    "plan": "thoughts",
    "behaviour_recent": "behaviour",
}

# What started a check, as its button says it (`sc:<client>:<code>`) → the trigger stored
TRIGGERS: dict[str, str] = {
    "i9": "item9",
    "cr": "crisis",
    "ph": "phrase",
    "mp": "map",
    "cm": "command",
    "al": "crisis",
    "rv": "review",
}

_RANK = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRISIS: 3}


@dataclass(frozen=True, slots=True)
class SafetyCheck:
    """A finished check: the answers, its result tier and the items that decided it."""

    answers: dict[str, bool | None]
    result: Risk
    deciding: tuple[str, ...]  # the "yes" items that give the result (empty for low)
    at: datetime | None = None

    @property
    def yes(self) -> tuple[str, ...]:
        return tuple(i for i in ITEMS if self.answers.get(i))


def next_item(answers: Mapping[str, bool | None]) -> str | None:
    """The next item to ask given the answers so far (in ITEMS order), or None when done."""
    for item in ITEMS:
        if item in answers:
            continue
        gate = ASKED_IF.get(item)
        if gate is not None and answers.get(gate) is not True:
            continue
        return item
    return None


def complete(answers: Mapping[str, bool | None]) -> dict[str, bool | None]:
    """All items, the skipped ones as None (not asked). Raises ValueError if one that should
    have been asked is missing, or an unknown item is given."""
    unknown = set(answers) - set(ITEMS)
    if unknown:
        raise ValueError(f"unknown safety check item(s): {', '.join(sorted(unknown))}")
    if next_item(answers) is not None:
        raise ValueError(f"the safety check is not finished: {next_item(answers)!r} is unanswered")
    return {i: answers.get(i) for i in ITEMS}


def triage(
    answers: Mapping[str, bool | None], levels: Mapping[Risk, tuple[str, ...]]
) -> SafetyCheck:
    """The result: the highest tier any "yes" item maps to (`levels`: tier → items); low when
    no item maps anywhere. Items not asked (None) count as "no"."""
    best: Risk = Risk.LOW
    deciding: tuple[str, ...] = ()
    for tier in (Risk.CRISIS, Risk.HIGH, Risk.MEDIUM):
        hits = tuple(i for i in levels.get(tier, ()) if answers.get(i) is True)
        if hits:
            best, deciding = tier, hits
            break
    return SafetyCheck(answers=dict(answers), result=best, deciding=deciding)


def encode_answers(answers: Mapping[str, bool | None]) -> str:
    """Compact form for button data: one char per item in ITEMS order: y, n or - (not asked)."""
    return "".join(
        "y" if answers.get(i) is True else "n" if answers.get(i) is False else "-"
        for i in ITEMS[: _answered_prefix(answers)]
    )


def decode_answers(text: str) -> dict[str, bool | None]:
    """Inverse of encode_answers. Raises ValueError on anything malformed or inconsistent with
    the skip logic (so a forged button cannot store an impossible check)."""
    if len(text) > len(ITEMS) or any(ch not in "yn-" for ch in text):
        raise ValueError("bad safety check answers")
    out: dict[str, bool | None] = {}
    for item, ch in zip(ITEMS, text, strict=False):
        expected = next_item(out)
        if ch == "-":
            gate = ASKED_IF.get(item)
            if gate is None or out.get(gate) is True:
                raise ValueError(f"{item!r} must be answered")
            out[item] = None
            continue
        if expected != item:
            raise ValueError(f"{item!r} is not asked here")
        out[item] = ch == "y"
    return out


def _answered_prefix(answers: Mapping[str, bool | None]) -> int:
    n = 0
    for i, item in enumerate(ITEMS):
        if item in answers:
            n = i + 1
    return n


def rank(tier: Risk) -> int:
    return _RANK[tier]
