"""JSON (de)serialization of the tiering results (`domain.tiering`) for storage.

`Grades`, `Reason` and `TierChange` become plain JSON; decoding restores the exact same
objects: tuples (not lists), `Reason` named tuples, `Risk` members and aware UTC
datetimes. Reason params must be plain (str, int, float, bool or None); anything else is
refused on the way in (TypeError) rather than silently stringified.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from domain.model import Risk
from domain.tiering import Grades, Reason, TierChange

__all__ = [
    "decode_grades",
    "decode_reasons",
    "decode_tier_change",
    "encode_grades",
    "encode_reasons",
    "encode_tier_change",
    "grades_from_dict",
    "grades_to_dict",
    "reasons_from_list",
    "reasons_to_list",
]

_FORMAT = 1  # bump (and keep reading the old one) if the layout ever changes


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _dt(value: datetime | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("naive datetime refused: tiering datetimes must be timezone-aware")
    return value.astimezone(UTC).isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else _instant(value)


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # never written by us, but be lenient: stored instants are UTC
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _param(code: str, name: str, value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"reason {code!r}: param {name!r} is not a finite number")
        return value
    raise TypeError(
        f"reason {code!r}: param {name!r} must be str, int, float or bool, "
        f"got {type(value).__name__}"
    )


def reasons_to_list(reasons: Iterable[Reason]) -> list[dict[str, Any]]:
    out = []
    for r in reasons:
        code, params = r
        if not isinstance(code, str):
            raise TypeError("a reason code must be a string")
        clean = {}
        for k, v in params.items():
            if not isinstance(k, str):
                raise TypeError(f"reason {code!r}: param names must be strings")
            clean[k] = _param(code, k, v)
        out.append({"code": code, "params": clean})
    return out


def reasons_from_list(items: Iterable[dict[str, Any]]) -> tuple[Reason, ...]:
    return tuple(Reason(item["code"], dict(item["params"])) for item in items)


def encode_reasons(reasons: Iterable[Reason]) -> str:
    return _dumps(reasons_to_list(reasons))


def decode_reasons(text: str) -> tuple[Reason, ...]:
    return reasons_from_list(json.loads(text))


def grades_to_dict(g: Grades) -> dict[str, Any]:
    return {
        "v": _FORMAT,
        "client_id": g.client_id,
        "graded_at": _dt(g.graded_at),
        "risk": Risk(g.risk).value,
        "risk_floor": Risk(g.risk_floor).value,
        "risk_reasons": reasons_to_list(g.risk_reasons),
        "frequency": g.frequency,
        "frequency_required": g.frequency_required,
        "frequency_reasons": reasons_to_list(g.frequency_reasons),
        "frequency_met": bool(g.frequency_met),
        "need_urgency": g.need_urgency,
        "need_categories": list(g.need_categories),
        "need_reasons": reasons_to_list(g.need_reasons),
        "value": g.value,
        "value_reasons": reasons_to_list(g.value_reasons),
        "last_contact_at": _dt(g.last_contact_at),
        "next_contact_due": _dt(g.next_contact_due),
        "overdue_days": int(g.overdue_days),
        "review_due_at": _dt(g.review_due_at),
        "contact_latest_at": _dt(g.contact_latest_at),
        "tier_since": _dt(g.tier_since),
        "held": None if g.held is None else Risk(g.held).value,
        "held_since": _dt(g.held_since),
        "review_requested": bool(g.review_requested),
    }


def grades_from_dict(d: dict[str, Any]) -> Grades:
    if d.get("v") != _FORMAT:
        raise ValueError(f"unknown stored grades format {d.get('v')!r}")
    return Grades(
        client_id=d["client_id"],
        graded_at=_instant(d["graded_at"]),
        risk=Risk(d["risk"]),
        risk_floor=Risk(d["risk_floor"]),
        risk_reasons=reasons_from_list(d["risk_reasons"]),
        frequency=d["frequency"],
        frequency_required=d["frequency_required"],
        frequency_reasons=reasons_from_list(d["frequency_reasons"]),
        frequency_met=d["frequency_met"],
        need_urgency=d["need_urgency"],
        need_categories=tuple(d["need_categories"]),
        need_reasons=reasons_from_list(d["need_reasons"]),
        value=d["value"],
        value_reasons=reasons_from_list(d["value_reasons"]),
        last_contact_at=_parse_dt(d["last_contact_at"]),
        next_contact_due=_parse_dt(d["next_contact_due"]),
        overdue_days=d["overdue_days"],
        review_due_at=_parse_dt(d["review_due_at"]),
        # added by issue 11; grades stored before lack them
        contact_latest_at=_parse_dt(d.get("contact_latest_at")),
        tier_since=_parse_dt(d.get("tier_since")),
        held=Risk(d["held"]) if d.get("held") else None,
        held_since=_parse_dt(d.get("held_since")),
        review_requested=bool(d.get("review_requested", False)),
    )


def encode_grades(g: Grades) -> str:
    return _dumps(grades_to_dict(g))


def decode_grades(text: str) -> Grades:
    return grades_from_dict(json.loads(text))


def encode_tier_change(c: TierChange) -> str:
    return _dumps(
        {
            "client_id": c.client_id,
            "dimension": c.dimension,
            "old": c.old,
            "new": c.new,
            "at": _dt(c.at),
            "reasons": reasons_to_list(c.reasons),
        }
    )


def decode_tier_change(text: str) -> TierChange:
    d = json.loads(text)
    return TierChange(
        client_id=d["client_id"],
        dimension=d["dimension"],
        old=d["old"],
        new=d["new"],
        at=_instant(d["at"]),
        reasons=reasons_from_list(d["reasons"]),
    )
