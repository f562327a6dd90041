"""Tiering (客户分级): grade a client from facts and the rule base, and say why. Pure.

No clock reads and no I/O: `now` and the rules are arguments; the results are decisions
(tiers with reasons, an alert to raise, due times) that the caller stores and renders.

- risk tier crisis/high/medium/low: max of the counsellor's setting (never lowered), the
  screenings (PHQ-9 item 9 → crisis; PHQ-9/GAD-7 totals), their trend, the risk tags (identity
  tags such as 班干部 or 贫困生 never count) and the contact recency (no logged contact for
  longer than factor × the tier's cadence: the counsellor's contact is long overdue — not
  "失联", which is a tag the counsellor sets);
- no silent downgrade: crisis (and high from a safety check) is *held*: it leaves only
  through the counsellor's review with a reason, never by a newer score or the passage of time
  alone; when the facts no longer support a held tier, the review is asked for at once;
- contact dates: the ideal and the latest next contact from the tier's cadence, counted from
  the last contact (a conversation, a screening, a safety check) or from the moment the tier
  was set, whichever is later;
- frequency tier (S/A/B/C) measured from the interactions, and the one the risk tier's
  standard requires;
- need-urgency tier A/B/C from the needs' categories;
- value tier V1–V3, only when the rule file enables it.

Every reason is `Reason(code, params)` with plain params (str, int, float, bool; dates as
`YYYY-MM-DD`); `templates/<lang>/reasons.j2` renders each code. REASON_PARAMS lists them all.
"""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from operator import itemgetter
from typing import Any, NamedTuple

from domain.model import Risk
from domain.rules import RuleBase, Value
from domain.safety import SafetyCheck
from domain.screening import SPECS, Instrument, ScreeningResult

# Every reason code this module emits → the names of its params (templates rely on them).
REASON_PARAMS: dict[str, tuple[str, ...]] = {
    # risk
    "counsellor_set": ("tier",),
    "phq9_item9": ("answer", "date", "tier"),
    "screening_total": ("instrument", "total", "band", "date", "tier", "threshold"),
    "screening_stale": ("instrument", "total", "date", "days", "valid_days"),
    "screening_worsening": ("instrument", "previous", "total", "points", "tier"),
    "screening_improving": ("instrument", "previous", "total", "points"),
    "risk_tag": ("tag", "en", "zh", "tier"),
    "unreached_attempts": ("count", "tier"),
    "contact_gap": ("days", "cadence_days", "limit_days", "last_contact", "tier"),
    "never_contacted": ("days", "cadence_days", "limit_days", "since", "tier"),
    "no_risk_factors": (),
    "held_until_review": ("tier", "since"),
    "safety_check": ("date", "tier", "items"),
    "safety_check_stale": ("date", "tier", "days", "valid_days"),
    # frequency
    "contacts_counted": ("count", "window_days", "tier"),
    "frequency_required": ("risk", "cadence_days", "tier"),
    "frequency_below_standard": ("actual", "required"),
    "contact_overdue": ("days", "due", "cadence_days"),
    "first_contact_due": ("due", "hours"),
    "next_contact": ("ideal", "latest"),
    # needs
    "need_category": ("category", "en", "zh", "urgency", "text", "explicit"),
    "need_unclassified": ("text", "urgency", "explicit"),
    "no_needs": (),
    # value
    "value_payment": ("capacity", "payer", "tier"),
    "value_unknown": (),
}


# Reasons recorded by the services with an event, not emitted by `grade` (templates render
# them too): the counsellor's review that lowered a held tier, with its reason code.
EVENT_REASON_PARAMS: dict[str, tuple[str, ...]] = {
    "counsellor_review": ("reason", "old", "new"),
}
REVIEW_REASONS = ("no_risk", "improved", "in_care", "mistake")


class Reason(NamedTuple):
    """Why a tier is what it is: a code (REASON_PARAMS) and plain params for the template."""

    code: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NeedFact:
    text: str
    explicit: bool = True  # False: observed/implicit, not said by the client


@dataclass(frozen=True, slots=True)
class ValueInfo:
    payment_capacity: int | None = None  # 1 (none) … 5 (ample)
    payer: str | None = None  # "self" | "insurance" | "sponsored" | … (the rule file lists them)


@dataclass(frozen=True, slots=True)
class ClientFacts:
    client_id: int
    counsellor_risk: Risk = Risk.LOW
    risk_tags: tuple[str, ...] = ()  # codes, labels or aliases; unknown tags are ignored
    needs: tuple[NeedFact | str, ...] = ()  # a str is a need text or a category code
    interactions: tuple[datetime, ...] = ()  # contact times, any order; future ones ignored
    # other contacts (screenings, safety checks): one within CONTACT_MERGE of an interaction
    # is the same meeting and is not counted twice
    other_contacts: tuple[datetime, ...] = ()
    last_contact_at: datetime | None = None  # if the caller passes only recent interactions
    phq9: ScreeningResult | None = None  # latest; `at` should be set (None → taken now)
    gad7: ScreeningResult | None = None
    previous_phq9_total: int | None = None  # the one before the latest, for the trend
    previous_gad7_total: int | None = None
    created_at: datetime | None = None
    tier_set_at: datetime | None = None  # when the risk tier last changed (review clock)
    value: ValueInfo | None = None
    standing_risk: Risk | None = None  # the tier graded before (None: never graded)
    tier_since: datetime | None = None  # since when the standing tier's contact standard runs
    held: Risk | None = None  # a tier only the counsellor's review may lower (from the last grades)
    held_since: datetime | None = None
    safety_check: SafetyCheck | None = None  # the latest; `at` should be set (None → taken now)
    # the latest contacts in a row logged `outcome=unreached` (issue 15): the data for
    # "失联 after N failed attempts"; unreached attempts are not in `interactions`
    unreached_streak: int = 0


class Grades(NamedTuple):
    """All tiers of one client with their reasons. Immutable (a NamedTuple: cheap to build
    100,000 times); use `grades._replace(...)` for a changed copy."""

    client_id: int
    graded_at: datetime
    risk: Risk
    risk_floor: Risk  # what the facts alone give: the lowest the counsellor may lower it to
    risk_reasons: tuple[Reason, ...]
    frequency: str  # actual, e.g. "A"
    frequency_required: str  # what the risk tier's standard requires
    frequency_reasons: tuple[Reason, ...]
    frequency_met: bool  # actual at least as frequent as required
    need_urgency: str | None  # "A" | "B" | "C"; None without needs
    need_categories: tuple[str, ...]
    need_reasons: tuple[Reason, ...]
    value: str | None  # "V1" | "V2" | "V3"; None unless enabled and known
    value_reasons: tuple[Reason, ...]
    last_contact_at: datetime | None
    next_contact_due: datetime | None
    overdue_days: int  # whole days past next_contact_due, 0 if not past
    review_due_at: datetime | None
    # (added later: defaults keep older stored grades readable)
    contact_latest_at: datetime | None = None  # the latest next contact under the standard
    tier_since: datetime | None = None  # when the current tier's contact standard began
    held: Risk | None = None  # crisis (or high from a safety check): only a review lowers it
    held_since: datetime | None = None
    review_requested: bool = False  # the facts no longer support the held tier: review it now

    @property
    def overdue(self) -> bool:
        return self.next_contact_due is not None and self.graded_at > self.next_contact_due

    def past_latest(self, now: datetime) -> bool:
        """Past the latest next-contact date at `now` (the counsellor's contact is late)."""
        return self.contact_latest_at is not None and now > self.contact_latest_at

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.risk_reasons + self.frequency_reasons + self.need_reasons + self.value_reasons

    def tiers(self) -> dict[str, str | None]:
        return {
            "risk": str(self.risk),
            "frequency": self.frequency,
            "need": self.need_urgency,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class TierChange:
    """One tier-history row: dimension old → new, with the reasons of the new grade."""

    client_id: int
    dimension: str  # "risk" | "frequency" | "need" | "value"
    old: str | None
    new: str | None
    at: datetime
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """Raise an alert: the risk tier rose to high or crisis. The caller stores and sends it."""

    client_id: int
    tier: Risk
    previous: Risk | None
    raised_at: datetime
    respond_by: datetime
    realert_minutes: int | None
    escalate_minutes: int | None
    realert_at: datetime | None
    escalate_at: datetime | None
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class RegradeDecision:
    grades: Grades
    changed: bool  # any tier changed (or first grading)
    changes: tuple[TierChange, ...]
    alert: AlertEvent | None
    previous_risk: Risk | None

    @property
    def risk_changed(self) -> bool:
        return any(c.dimension == "risk" for c in self.changes)


# --- the precomputed context (per rules, now, tz) ---

_RANK = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRISIS: 3}
_BY_RANK = (Risk.LOW, Risk.MEDIUM, Risk.HIGH, Risk.CRISIS)
_NAMES = ("low", "medium", "high", "crisis")
_URGENCY_RANK = {"A": 0, "B": 1, "C": 2}


class _Ctx:
    __slots__ = (
        "rules",
        "now",
        "tz",
        "levels",
        "below",
        "std",
        "screen_cutoff",
        "t",
        "required",
        "freq_rank",
        "tags",
        "classify",
        "unclassified",
        "value",
        "lost_rank",
        "check_cutoff",
    )

    def __init__(self, rules: RuleBase, now: datetime, tz: tzinfo | None) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.rules = rules
        self.now = now
        self.tz = tz
        self.t = rules.thresholds
        self.levels = tuple(
            (lv.code, lv.min_contacts, _n(lv.window_days), now - timedelta(days=lv.window_days))
            for lv in rules.frequency.levels
        )
        self.below = rules.frequency.below
        factor = rules.thresholds.lost_contact_factor
        # per risk rank: (cadence days, cadence, lost-contact limit, review, respond, latest)
        self.std = tuple(
            (
                _n(s.contact_every_days),
                timedelta(days=s.contact_every_days),
                timedelta(days=s.contact_every_days * factor),
                timedelta(days=s.review_after_days),
                timedelta(hours=s.respond_within_hours),
                timedelta(days=s.latest_days),
            )
            for s in (rules.standard(r) for r in _BY_RANK)
        )
        self.screen_cutoff = now - timedelta(days=rules.thresholds.screening_valid_days)
        self.check_cutoff = now - timedelta(days=rules.safety_check.valid_days)
        self.required = tuple(rules.required_frequency(r) for r in _BY_RANK)
        compiled = rules.compiled
        self.freq_rank = compiled.frequency_rank
        self.tags = compiled.tag_index
        self.classify = compiled.needs.classify
        self.unclassified = rules.needs.unclassified_urgency
        self.value = rules.value if rules.value.enabled else None
        self.lost_rank = _RANK[rules.thresholds.lost_contact_min_tier]

    def date(self, dt: datetime) -> str:
        """YYYY-MM-DD in the caller's zone (UTC by default)."""
        tz = self.tz
        if tz is None and dt.tzinfo is UTC:
            return dt.date().isoformat()
        return dt.astimezone(tz or UTC).date().isoformat()


_last_ctx: _Ctx | None = None


def _ctx(rules: RuleBase, now: datetime, tz: tzinfo | None) -> _Ctx:
    global _last_ctx  # a memo of a pure function: same inputs → same context
    c = _last_ctx
    if c is not None and c.rules is rules and c.now == now and c.tz is tz:
        return c
    c = _Ctx(rules, now, tz)
    _last_ctx = c
    return c


# --- grading ---


def grade(facts: ClientFacts, rules: RuleBase, now: datetime, tz: tzinfo | None = None) -> Grades:
    """All tiers of one client, each with its reasons. `tz` only formats the dates in reasons."""
    return _grade(facts, _ctx(rules, now, tz))


def grade_many(
    facts: Iterable[ClientFacts], rules: RuleBase, now: datetime, tz: tzinfo | None = None
) -> list[Grades]:
    """`grade` for a whole caseload (or all of them): the same results, faster.

    The cyclic garbage collector is paused while the list is built (grading allocates many
    small acyclic objects that it would only scan in vain) and restored afterwards.
    """
    c = _ctx(rules, now, tz)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [_grade(f, c) for f in facts]
    finally:
        if was_enabled:
            gc.enable()


def _grade(f: ClientFacts, c: _Ctx) -> Grades:
    now = c.now
    t = c.t
    # (rank, reason) pairs; sorted by rank, highest first, at the end
    rr: list[tuple[int, Reason]] = []
    floor = 0

    # screenings
    for res, prev, high, medium in (
        (
            (f.phq9, f.previous_phq9_total, t.phq9_high, t.phq9_medium),
            (f.gad7, f.previous_gad7_total, t.gad7_high, t.gad7_medium),
        )
        if f.phq9 is not None or f.gad7 is not None
        else ()
    ):
        if res is None:
            continue
        name = SPECS[res.instrument].name
        at = res.at or now
        if at < c.screen_cutoff:
            rr.append(
                (
                    -1,
                    Reason(
                        "screening_stale",
                        {
                            "instrument": name,
                            "total": res.total,
                            "date": c.date(at),
                            "days": (now - at).days,
                            "valid_days": t.screening_valid_days,
                        },
                    ),
                )
            )
            continue
        date = c.date(at)
        if (
            res.instrument is Instrument.PHQ9
            and res.item9 is not None
            and res.item9 >= t.phq9_item9_crisis
        ):
            floor = 3
            rr.append(
                (3, Reason("phq9_item9", {"answer": res.item9, "date": date, "tier": "crisis"}))
            )
        total = res.total
        if total >= high:
            rank, threshold = 2, high
        elif total >= medium:
            rank, threshold = 1, medium
        else:
            rank, threshold = 0, medium
        if rank > floor:
            floor = rank
        rr.append(
            (
                rank,
                Reason(
                    "screening_total",
                    {
                        "instrument": name,
                        "total": total,
                        "band": res.band,
                        "date": date,
                        "tier": _NAMES[rank],
                        "threshold": threshold,
                    },
                ),
            )
        )
        if prev is not None:
            diff = total - prev
            if diff >= t.worsening_points:
                rank = _RANK[t.worsening_min_tier]
                if rank > floor:
                    floor = rank
                rr.append(
                    (
                        rank,
                        Reason(
                            "screening_worsening",
                            {
                                "instrument": name,
                                "previous": prev,
                                "total": total,
                                "points": diff,
                                "tier": _NAMES[rank],
                            },
                        ),
                    )
                )
            elif -diff >= t.worsening_points:
                rr.append(
                    (
                        -1,
                        Reason(
                            "screening_improving",
                            {
                                "instrument": name,
                                "previous": prev,
                                "total": total,
                                "points": -diff,
                            },
                        ),
                    )
                )

    # risk tags
    if f.risk_tags:
        seen = set()
        index = c.tags
        for text in f.risk_tags:
            tag = index.get(text)
            if tag is None:
                tag = index.get(" ".join(text.lower().split()))
            if tag is None or tag.code in seen:
                continue
            seen.add(tag.code)
            rank = _RANK[tag.min_tier]
            if rank > floor:
                floor = rank
            rr.append(
                (
                    rank,
                    Reason(
                        "risk_tag",
                        {
                            "tag": tag.code,
                            "en": tag.en,
                            "zh": tag.zh,
                            "tier": _NAMES[rank],
                        },
                    ),
                )
            )

    # 失联 after N attempts in a row that did not reach the client (as the #失联 tag)
    if f.unreached_streak and f.unreached_streak >= t.unreached_attempts:
        lost = c.tags.get("lost_contact")
        rank = _RANK[lost.min_tier] if lost is not None else 2
        if rank > floor:
            floor = rank
        rr.append(
            (
                rank,
                Reason("unreached_attempts", {"count": f.unreached_streak, "tier": _NAMES[rank]}),
            )
        )

    # the latest safety check
    held_by_check = False
    sc = f.safety_check
    if sc is not None:
        at = sc.at or now
        rank = _RANK[sc.result]
        if at < c.check_cutoff:
            rr.append(
                (
                    -1,
                    Reason(
                        "safety_check_stale",
                        {
                            "date": c.date(at),
                            "tier": sc.result.value,
                            "days": (now - at).days,
                            "valid_days": c.rules.safety_check.valid_days,
                        },
                    ),
                )
            )
        else:
            if rank > floor:
                floor = rank
            held_by_check = rank >= 2
            rr.append(
                (
                    rank,
                    Reason(
                        "safety_check",
                        {
                            "date": c.date(at),
                            "tier": sc.result.value,
                            "items": ",".join(sc.deciding),
                        },
                    ),
                )
            )

    # the counsellor's setting is never lowered
    set_rank = 0 if f.counsellor_risk is Risk.LOW else _RANK[f.counsellor_risk]
    if set_rank:
        rr.append((set_rank, Reason("counsellor_set", {"tier": _NAMES[set_rank]})))
    current = set_rank if set_rank > floor else floor

    # no silent downgrade: a held tier stays until the counsellor's review
    held = f.held
    held_since = f.held_since
    review_requested = False
    if held is not None:
        held_rank = _RANK[held]
        if held_rank > current:
            current = held_rank
            review_requested = True
            rr.append(
                (
                    held_rank,
                    Reason(
                        "held_until_review",
                        {
                            "tier": held.value,
                            "since": c.date(held_since) if held_since is not None else "",
                        },
                    ),
                )
            )
    if current >= 3 and (held is None or _RANK[held] < 3):
        held, held_since = Risk.CRISIS, now
    elif current >= 2 and held_by_check and (held is None or _RANK[held] < 2):
        held, held_since = Risk.HIGH, now

    # contact recency, against the cadence of the tier so far
    last = f.last_contact_at
    times = (
        sorted(f.interactions)
        if not f.other_contacts
        else _merge_contacts(f.interactions, f.other_contacts)
    )
    hi = bisect_right(times, now)  # later ones are planned, not contacts
    if hi and (last is None or times[hi - 1] > last):
        last = times[hi - 1]
    counts = [hi - bisect_left(times, lv[3], 0, hi) for lv in c.levels]
    cadence_days, cadence, limit, _, _, _ = c.std[current]
    lost_rank = c.lost_rank
    # The standard of a tier counts from the moment the tier was set: a tier raised now is
    # not "overdue" for contacts its (stricter) standard never asked for before.
    standing = f.standing_risk
    if standing is None:
        start = None
    elif current > _RANK[standing]:
        start = now
    elif current == _RANK[standing]:
        start = f.tier_since
    else:
        start = None  # a looser standard than before: the last contact alone counts
    seen_at = last if last is not None else f.created_at
    since = seen_at
    if start is not None and (since is None or start > since):
        since = start
    gap_raised = False
    if since is not None and now - since > limit:
        params = {
            "days": (now - (seen_at or since)).days,
            "cadence_days": cadence_days,
            "limit_days": _n(limit.total_seconds() / 86400),
            "tier": _NAMES[lost_rank],
        }
        if last is not None:
            params["last_contact"] = c.date(last)
            rr.append((lost_rank, Reason("contact_gap", params)))
        else:
            params["since"] = c.date(seen_at or since)
            rr.append((lost_rank, Reason("never_contacted", params)))
        if lost_rank > floor:
            floor = lost_rank
        if lost_rank > current:
            current = lost_rank
            gap_raised = True
    tier_since: datetime | None
    if standing is None or _RANK[standing] != current:
        tier_since = now
    else:
        tier_since = f.tier_since

    if not rr:
        rr.append((0, Reason("no_risk_factors", {})))
    rr.sort(key=_first, reverse=True)  # stable: equal ranks keep their order
    risk = _BY_RANK[current]

    # frequency
    cadence_days, cadence, _, review, respond, latest_after = c.std[current]
    actual = c.below
    fr: list[Reason] = []
    for i, (code, min_contacts, window_days, _) in enumerate(c.levels):
        if counts[i] >= min_contacts:
            actual = code
            fr.append(
                Reason(
                    "contacts_counted",
                    {"count": counts[i], "window_days": window_days, "tier": code},
                )
            )
            break
    else:
        fr.append(
            Reason(
                "contacts_counted",
                {
                    "count": counts[-1] if counts else 0,
                    "window_days": c.levels[-1][2],
                    "tier": actual,
                },
            )
        )
    required = c.required[current]
    fr.append(
        Reason(
            "frequency_required",
            {"risk": _NAMES[current], "cadence_days": cadence_days, "tier": required},
        )
    )
    frequency_met = c.freq_rank[actual] <= c.freq_rank[required]
    if not frequency_met:
        fr.append(Reason("frequency_below_standard", {"actual": actual, "required": required}))
    overdue_days = 0
    # a tier raised by the contact gap itself does not restart the clock it measures
    start = tier_since if not gap_raised and standing is not None else None
    if last is not None:
        base = last if start is None or last >= start else start
        due = base + cadence
        latest = base + latest_after
        if now > due:
            overdue_days = (now - due).days
            fr.append(
                Reason(
                    "contact_overdue",
                    {"days": overdue_days, "due": c.date(due), "cadence_days": cadence_days},
                )
            )
    else:
        base = f.created_at or now
        if start is not None and start > base:
            base = start
        due = base + respond
        latest = base + latest_after
        fr.append(
            Reason(
                "first_contact_due",
                {"due": c.date(due), "hours": _n(respond.total_seconds() / 3600)},
            )
        )
        if now > due:
            overdue_days = (now - due).days
    fr.append(Reason("next_contact", {"ideal": c.date(due), "latest": c.date(latest)}))

    # needs
    need_urgency, need_categories, nr = _needs(f.needs, c) if f.needs else (None, (), _NO_NEEDS)

    # value
    if c.value is not None:
        value, vr = _value(f.value, c.value)
    else:
        value, vr = None, ()

    set_at = f.tier_set_at or f.created_at
    return Grades(  # positional, in field order: the hot path
        f.client_id,
        now,
        risk,
        _BY_RANK[floor],
        tuple([pair[1] for pair in rr]),
        actual,
        required,
        tuple(fr),
        frequency_met,
        need_urgency,
        need_categories,
        nr,
        value,
        vr,
        last,
        due,
        overdue_days,
        set_at + review if set_at is not None else None,
        latest,
        tier_since,
        held,
        held_since if held is not None else None,
        review_requested,
    )


CONTACT_MERGE = timedelta(hours=6)


def _merge_contacts(interactions: Iterable[datetime], others: Iterable[datetime]) -> list[datetime]:
    """Interactions plus the other contacts (screenings, safety checks) that are not part of
    the same meeting as an interaction (within CONTACT_MERGE), sorted."""
    times = sorted(interactions)
    out = list(times)
    for t in sorted(others):
        i = bisect_left(times, t - CONTACT_MERGE)
        if i < len(times) and times[i] <= t + CONTACT_MERGE:
            continue
        out.append(t)
    out.sort()
    return out


_NO_NEEDS = (Reason("no_needs", {}),)


_first = itemgetter(0)


def _needs(
    needs: Sequence[NeedFact | str], c: _Ctx
) -> tuple[str, tuple[str, ...], tuple[Reason, ...]]:
    best = "C"
    best_rank = 3
    cats: list[str] = []
    reasons: list[Reason] = []
    unclassified = c.unclassified
    classify = c.classify
    for need in needs:
        if isinstance(need, str):
            text, explicit = need, True
        else:
            text, explicit = need.text, need.explicit
        found = classify(text)
        snippet = _clip(text)
        if not found:
            reasons.append(
                Reason(
                    "need_unclassified",
                    {"text": snippet, "urgency": unclassified, "explicit": explicit},
                )
            )
            rank = _URGENCY_RANK[unclassified]
            if rank < best_rank:
                best, best_rank = unclassified, rank
            continue
        for cat in found:
            if cat.code in cats:
                continue
            cats.append(cat.code)
            reasons.append(
                Reason(
                    "need_category",
                    {
                        "category": cat.code,
                        "en": cat.en,
                        "zh": cat.zh,
                        "urgency": cat.urgency,
                        "text": snippet,
                        "explicit": explicit,
                    },
                )
            )
            rank = _URGENCY_RANK[cat.urgency]
            if rank < best_rank:
                best, best_rank = cat.urgency, rank
    if len(reasons) > 1:
        reasons.sort(key=_urgency_of)
    return best, tuple(cats), tuple(reasons)


def _urgency_of(r: Reason) -> int:
    return _URGENCY_RANK[r.params["urgency"]]


def _value(info: ValueInfo | None, v: Value) -> tuple[str | None, tuple[Reason, ...]]:
    if info is None or info.payment_capacity is None or info.payer is None:
        return None, (Reason("value_unknown", {}),)
    cap, payer = info.payment_capacity, info.payer
    if payer in v.v1_payers and cap >= v.v1_min_capacity:
        tier = "V1"
    elif payer in v.v2_payers and cap >= v.v2_min_capacity:
        tier = "V2"
    else:
        tier = "V3"
    return tier, (Reason("value_payment", {"capacity": cap, "payer": payer, "tier": tier}),)


def _clip(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _n(x: float) -> int | float:
    """2.0 → 2 (for the reasons' params); keeps 1.5."""
    return int(x) if float(x).is_integer() else round(x, 2)


# --- re-grading, alerts, review ---


def regrade(
    previous: Grades | None,
    facts: ClientFacts,
    rules: RuleBase,
    now: datetime,
    tz: tzinfo | None = None,
) -> RegradeDecision:
    """Grade again and compare. An alert when the risk tier rises TO high or crisis (a first
    grading counts as rising from low); none when it stays or falls. When the risk tier
    changes, its review clock restarts at `now`."""
    grades = grade(facts, rules, now, tz)
    old_risk = previous.risk if previous is not None else None
    changes: list[TierChange] = []
    if previous is None:
        changes.append(
            TierChange(facts.client_id, "risk", None, grades.risk.value, now, grades.risk_reasons)
        )
    else:
        for dim, old, new, reasons in (
            ("risk", previous.risk.value, grades.risk.value, grades.risk_reasons),
            ("frequency", previous.frequency, grades.frequency, grades.frequency_reasons),
            ("need", previous.need_urgency, grades.need_urgency, grades.need_reasons),
            ("value", previous.value, grades.value, grades.value_reasons),
        ):
            if old != new:
                changes.append(TierChange(facts.client_id, dim, old, new, now, reasons))
    risk_changed = old_risk is None or old_risk is not grades.risk
    if risk_changed and (old_risk is not None or facts.tier_set_at is None):
        grades = grades._replace(review_due_at=review_due_at(now, grades.risk, rules))
    if grades.review_requested:
        # the facts no longer support the held tier: the review is due now (and stays at the
        # moment it was first asked for, so the reminder is not sent again on every re-grade)
        due = grades.review_due_at
        if (
            previous is not None
            and previous.review_requested
            and previous.review_due_at is not None
        ):
            # asked before (or confirmed at a review since): keep that date
            asked = previous.review_due_at
            due = asked if due is None or asked < due else due
        elif due is None or due > now:
            due = now
        grades = grades._replace(review_due_at=due)
    alert = None
    base = _RANK[old_risk] if old_risk is not None else 0
    new_rank = _RANK[grades.risk]
    if new_rank >= 2 and new_rank > base:
        alert = alert_for(facts.client_id, grades.risk, old_risk, grades.risk_reasons, rules, now)
    return RegradeDecision(
        grades=grades,
        changed=bool(changes),
        changes=tuple(changes),
        alert=alert,
        previous_risk=old_risk,
    )


def alert_for(
    client_id: int,
    tier: Risk,
    previous: Risk | None,
    reasons: tuple[Reason, ...],
    rules: RuleBase,
    now: datetime,
) -> AlertEvent:
    s = rules.standard(tier)
    return AlertEvent(
        client_id=client_id,
        tier=tier,
        previous=previous,
        raised_at=now,
        respond_by=now + timedelta(hours=s.respond_within_hours),
        realert_minutes=s.realert_minutes,
        escalate_minutes=s.escalate_minutes,
        realert_at=now + timedelta(minutes=s.realert_minutes) if s.realert_minutes else None,
        escalate_at=now + timedelta(minutes=s.escalate_minutes) if s.escalate_minutes else None,
        reasons=reasons,
    )


def review_due_at(tier_set_at: datetime, tier: Risk, rules: RuleBase) -> datetime:
    """When the counsellor is asked to confirm or lower `tier`, set at `tier_set_at`."""
    return tier_set_at + timedelta(days=rules.standard(tier).review_after_days)


def review_due(tier_set_at: datetime, tier: Risk, rules: RuleBase, now: datetime) -> bool:
    return now >= review_due_at(tier_set_at, tier, rules)


def urgency_key(grades: Grades, last_contact_at: datetime | None = None) -> tuple[int, float]:
    """Sort a caseload with this (ascending): highest risk first, then longest without contact
    (never contacted first). `last_contact_at` defaults to the one the grades saw."""
    last = last_contact_at if last_contact_at is not None else grades.last_contact_at
    return (-_RANK[grades.risk], last.timestamp() if last is not None else float("-inf"))


def days_late(due: datetime | None, now: datetime, tz: tzinfo) -> int:
    """Whole calendar days (in the counsellor's time zone) that `now` is past `due`; 0 when
    it is not past, or past only on the same day. What a list read today shows ("overdue 2
    days"), whenever the grades were last computed."""
    if due is None or now <= due:
        return 0
    return (now.astimezone(tz).date() - due.astimezone(tz).date()).days
