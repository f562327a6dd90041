"""The tiering rule base (分级规则库): a TOML file validated with pydantic. Pure data, no clock.

`load_rules(None)` gives the shipped campus defaults (`domain/default_rules.toml`); the bot
passes CAREMAP_RULES. A bad file raises RulesError whose message names the file, the key path
and the problem, one line per problem, e.g.
`rules.toml: tiers.crisis.respond_within_hours: must be > 0`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic_core import ErrorDetails

from domain.model import Risk
from domain.phrases import Phrase, PhraseMatcher
from domain.when import DayTimes

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")
DEFAULT_PHRASES_PATH = Path(__file__).with_name("default_phrases.toml")

RISKS_DESC: tuple[Risk, ...] = (Risk.CRISIS, Risk.HIGH, Risk.MEDIUM, Risk.LOW)
URGENCIES = ("A", "B", "C")  # A = crisis intervention, B = problem-focused, C = growth


class RulesError(Exception):
    """A rule file that cannot be used. `problems` holds (key path, problem) pairs."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _first_duplicate(items: list[str]) -> str | None:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


PosInt = Annotated[int, Field(strict=True, gt=0)]
NonNegInt = Annotated[int, Field(strict=True, ge=0)]
PosFloat = Annotated[float, Field(strict=True, gt=0)]
Score27 = Annotated[int, Field(strict=True, ge=0, le=27)]
Score21 = Annotated[int, Field(strict=True, ge=0, le=21)]
Text = Annotated[str, Field(strict=True, min_length=1)]
Code = Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9_]*$")]
Urgency = Literal["A", "B", "C"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Model):
    phq9_item9_crisis: Annotated[int, Field(strict=True, ge=1, le=3)] = 1
    phq9_high: Score27 = 15  # 15–19 "moderately severe" is already high (as GAD-7 >= 15)
    gad7_high: Score21 = 15
    phq9_medium: Score27 = 10
    gad7_medium: Score21 = 10
    screening_valid_days: PosInt = 90
    worsening_points: PosInt = 5
    worsening_min_tier: Risk = Risk.MEDIUM
    # No logged contact for longer than factor × the tier's cadence: the counsellor's contact
    # is long overdue (the names are kept for existing rule files; this is not "失联", which
    # is a state the counsellor sets with the lost_contact tag).
    lost_contact_factor: PosFloat = 2.0
    lost_contact_min_tier: Risk = Risk.MEDIUM
    # this many attempts in a row logged `outcome=unreached` (and no contact since): 失联
    # (unreachable), graded like the #失联 tag (its min_tier; high by default)
    unreached_attempts: PosInt = 3

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        for name in ("phq9", "gad7"):
            med, high = getattr(self, f"{name}_medium"), getattr(self, f"{name}_high")
            if med > high:
                raise ValueError(f"{name}_medium ({med}) must be <= {name}_high ({high})")
        return self


class TierStandard(_Model):
    respond_within_hours: PosFloat
    contact_every_days: PosFloat  # the ideal next contact: this long after the last one
    review_after_days: PosFloat
    realert_minutes: PosInt | None = None  # None: no re-alert
    escalate_minutes: PosInt | None = None  # None: no escalation
    contact_latest_days: PosFloat | None = None  # the latest next contact; None: 1.5 × every

    @model_validator(mode="after")
    def _latest_after_ideal(self) -> TierStandard:
        if (
            self.contact_latest_days is not None
            and self.contact_latest_days < self.contact_every_days
        ):
            raise ValueError(
                f"contact_latest_days ({_num(self.contact_latest_days)}) must be >= "
                f"contact_every_days ({_num(self.contact_every_days)})"
            )
        return self

    @property
    def latest_days(self) -> float:
        return (
            self.contact_latest_days
            if self.contact_latest_days is not None
            else self.contact_every_days * 1.5
        )


class Tiers(_Model):
    crisis: TierStandard
    high: TierStandard
    medium: TierStandard
    low: TierStandard


class FrequencyLevel(_Model):
    code: Text
    min_contacts: PosInt
    window_days: PosFloat


class Frequency(_Model):
    levels: Annotated[list[FrequencyLevel], Field(min_length=1)] = [
        FrequencyLevel(code="S", min_contacts=2, window_days=7),
        FrequencyLevel(code="A", min_contacts=1, window_days=30),
        FrequencyLevel(code="B", min_contacts=1, window_days=91),
    ]
    below: Text = "C"

    @model_validator(mode="after")
    def _unique(self) -> Frequency:
        codes = [lv.code for lv in self.levels] + [self.below]
        dup = _first_duplicate(codes)
        if dup is not None:
            raise ValueError(f"frequency tier code {dup!r} is used twice")
        return self


class RiskTag(_Model):
    code: Code
    en: Text
    zh: Text
    aliases: list[Text] = []
    min_tier: Risk = Risk.LOW


class IdentityTag(_Model):
    """A tag that describes a person (班干部, 贫困生, 留学生…): recorded and shown as who they
    are, never as a risk, and it raises no tier."""

    code: Code
    en: Text
    zh: Text
    aliases: list[Text] = []


class RiskPhrase(_Model):
    text: Text
    kind: Literal["ideation", "means", "farewell", "self_harm"] = "ideation"
    unless: list[Text] = []


class PhraseFile(_Model):
    """An extra phrase file (`phrases_file` in the rule file): only [[risk_phrases]]."""

    risk_phrases: list[RiskPhrase] = []


SafetyItem = Literal[
    "wish", "thoughts", "method", "intent", "plan", "behaviour", "behaviour_recent"
]


class SafetyCheckRules(_Model):
    """Triage of the safety check (domain/safety.py): the result is the highest tier any "yes"
    maps to. An item may appear in one list only; items in no list raise nothing."""

    crisis: list[SafetyItem] = ["intent", "plan", "behaviour_recent"]
    high: list[SafetyItem] = ["method", "behaviour"]
    medium: list[SafetyItem] = ["wish", "thoughts"]
    valid_days: PosInt = 30  # a check raises the tier this long; a tier it raised is held anyway

    @model_validator(mode="after")
    def _once(self) -> SafetyCheckRules:
        dup = _first_duplicate([*self.crisis, *self.high, *self.medium])
        if dup is not None:
            raise ValueError(f"safety check item {dup!r} is listed under more than one tier")
        return self

    def levels(self) -> dict[Risk, tuple[str, ...]]:
        return {
            Risk.CRISIS: tuple(self.crisis),
            Risk.HIGH: tuple(self.high),
            Risk.MEDIUM: tuple(self.medium),
        }


class NeedCategory(_Model):
    code: Code
    en: Text
    zh: Text
    urgency: Urgency
    keywords: list[Text] = []


class Needs(_Model):
    unclassified_urgency: Urgency = "C"
    categories: list[NeedCategory] = []

    @model_validator(mode="after")
    def _unique(self) -> Needs:
        dup = _first_duplicate([c.code for c in self.categories])
        if dup is not None:
            raise ValueError(f"need category code {dup!r} is used twice")
        return self


class Value(_Model):
    enabled: Annotated[bool, Field(strict=True)] = False
    v1_min_capacity: Annotated[int, Field(strict=True, ge=1, le=5)] = 4
    v1_payers: list[Text] = ["self"]
    v2_min_capacity: Annotated[int, Field(strict=True, ge=1, le=5)] = 2
    v2_payers: list[Text] = ["self", "insurance"]


_WORD = re.compile(r"[a-z0-9]+")


class NeedClassifier:
    """Keywords → categories, precomputed for speed (plain Python, no pydantic on the hot path).

    Non-ASCII keywords (Chinese) match as substrings; ASCII keywords match whole words only
    (`ill` matches "ill", not "billboard"). A text that is exactly a category's code or label
    names that category.
    """

    __slots__ = ("categories", "_names", "_by_first", "_words", "_phrases", "_order", "_memo")

    MEMO_SIZE = 8192  # need texts repeat a lot ("挂科", "助学金"): remember recent answers

    def __init__(self, categories: list[NeedCategory]) -> None:
        order = {u: i for i, u in enumerate(URGENCIES)}
        self.categories = tuple(sorted(categories, key=lambda c: order[c.urgency]))  # stable
        self._order = {c.code: i for i, c in enumerate(self.categories)}
        self._names: dict[str, NeedCategory] = {}
        by_first: dict[str, list[tuple[str, NeedCategory]]] = {}
        words: dict[str, list[NeedCategory]] = {}
        phrases: dict[str, list[tuple[re.Pattern[str], NeedCategory]]] = {}
        for c in self.categories:
            for name in (c.code, c.en, c.zh):
                self._names.setdefault(_norm(name), c)
            for kw in (k.lower().strip() for k in c.keywords):
                if not kw.isascii():
                    by_first.setdefault(kw[0], []).append((kw, c))
                elif _WORD.fullmatch(kw):
                    words.setdefault(kw, []).append(c)
                else:  # "study abroad", "self-harm": whole-word phrase
                    first = _WORD.search(kw)
                    pattern = re.compile(rf"(?<![a-z0-9]){re.escape(kw)}(?![a-z0-9])")
                    phrases.setdefault(first.group() if first else "", []).append((pattern, c))
        self._by_first = {k: tuple(v) for k, v in by_first.items()}
        self._words = {k: tuple(v) for k, v in words.items()}
        self._phrases = {k: tuple(v) for k, v in phrases.items()}
        self._memo: dict[str, tuple[NeedCategory, ...]] = {}

    def classify(self, text: str) -> tuple[NeedCategory, ...]:
        """Categories whose keywords occur in `text` (or that `text` names), most urgent first."""
        memo = self._memo
        found = memo.get(text)
        if found is None:
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            found = memo[text] = self._classify(text)
        return found

    def _classify(self, text: str) -> tuple[NeedCategory, ...]:
        low = " ".join(text.lower().split())
        named = self._names.get(low)
        if named is not None:
            return (named,)
        found: dict[str, NeedCategory] = {}
        by_first = self._by_first
        for ch in set(low):
            for kw, cat in by_first.get(ch, ()):
                if kw in low:
                    found[cat.code] = cat
        if self._words or self._phrases:
            tokens = set(_WORD.findall(low))
            if tokens:
                words, phrases = self._words, self._phrases
                for tok in tokens:
                    for cat in words.get(tok, ()):
                        found[cat.code] = cat
                    for pattern, cat in phrases.get(tok, ()):
                        if pattern.search(low):
                            found[cat.code] = cat
        if not found:
            return ()
        if len(found) == 1:
            return tuple(found.values())
        order = self._order
        return tuple(sorted(found.values(), key=lambda c: order[c.code]))


@dataclass(frozen=True, slots=True)
class Compiled:
    """Look-up tables derived from a RuleBase once (plain Python objects: fast to read)."""

    tag_index: dict[str, RiskTag]
    needs: NeedClassifier
    phrases: PhraseMatcher
    required_frequency: dict[Risk, str]
    frequency_rank: dict[str, int]


_CLOCK = Annotated[str, Field(strict=True, pattern=r"^([01]?\d|2[0-3]):[0-5]\d$")]


class Times(_Model):
    """Where day-sized words land (`明天`, `3天后`, `下午`…), local clock "HH:MM"."""

    default: _CLOCK = "09:00"
    morning: _CLOCK = "09:00"
    noon: _CLOCK = "12:00"
    afternoon: _CLOCK = "15:00"
    evening: _CLOCK = "19:00"

    def day_times(self) -> DayTimes:
        def t(v: str) -> time:
            h, m = v.split(":")
            return time(int(h), int(m))

        return DayTimes(
            default=t(self.default),
            morning=t(self.morning),
            noon=t(self.noon),
            afternoon=t(self.afternoon),
            evening=t(self.evening),
        )


class RuleBase(_Model):
    version: Literal[1] = 1
    thresholds: Thresholds = Field(default_factory=Thresholds)
    tiers: Tiers
    frequency: Frequency = Field(default_factory=Frequency)
    risk_tags: list[RiskTag] = []
    identity_tags: list[IdentityTag] = []
    safety_check: SafetyCheckRules = Field(default_factory=SafetyCheckRules)
    # risk phrases added to the shipped list (domain/default_phrases.toml), here or in an extra
    # file (a path relative to this rule file)
    risk_phrases: list[RiskPhrase] = []
    phrases_file: Text | None = None
    needs: Needs = Field(default_factory=Needs)
    value: Value = Field(default_factory=Value)
    times: Times = Field(default_factory=Times)
    _source: str = PrivateAttr(default="rules.toml")
    _compiled: Compiled | None = PrivateAttr(default=None)
    _extra_phrases: tuple[RiskPhrase, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _cross_checks(self) -> RuleBase:
        dup = _first_duplicate([t.code for t in self.risk_tags])
        if dup is not None:
            raise ValueError(f"risk_tags: code {dup!r} is used twice")
        dup = _first_duplicate([t.code for t in self.identity_tags])
        if dup is not None:
            raise ValueError(f"identity_tags: code {dup!r} is used twice")
        owner: dict[str, str] = {}
        for kind, tags in (("risk_tags", self.risk_tags), ("identity_tags", self.identity_tags)):
            for tag in tags:
                me = f"{kind}.{tag.code}"
                for name in {tag.code, tag.en, tag.zh, *tag.aliases}:
                    key = _norm(name)
                    if owner.get(key, me) != me:
                        if owner[key].split(".")[0] != kind:
                            raise ValueError(
                                f"{name!r} is both a risk tag and an identity tag "
                                f"({owner[key]} and {me}): identity tags never raise risk"
                            )
                        raise ValueError(
                            f"{kind}: {name!r} names both {owner[key].split('.', 1)[1]!r} and {tag.code!r}"
                        )
                    owner[key] = me
        return self

    def model_post_init(self, context: Any) -> None:
        tag_index: dict[str, RiskTag] = {}
        for tag in self.risk_tags:
            for name in (tag.code, tag.en, tag.zh, *tag.aliases):
                tag_index[name] = tag  # as written: the common case, no normalising
                tag_index[_norm(name)] = tag
        levels = self.frequency.levels
        rank = {lv.code: i for i, lv in enumerate(levels)}
        rank[self.frequency.below] = len(levels)
        required = {}
        for risk in RISKS_DESC:
            cadence = self.standard(risk).contact_every_days
            required[risk] = next(
                (lv.code for lv in levels if lv.window_days / cadence >= lv.min_contacts),
                self.frequency.below,
            )
        self._compiled = Compiled(
            tag_index=tag_index,
            needs=NeedClassifier(self.needs.categories),
            phrases=self._matcher(),
            required_frequency=required,
            frequency_rank=rank,
        )

    def _matcher(self) -> PhraseMatcher:
        entries = (*default_phrases(), *self.risk_phrases, *self._extra_phrases)
        return PhraseMatcher(Phrase(p.text, p.kind, tuple(p.unless)) for p in entries)

    def find_phrases(self, text: str) -> tuple[Any, ...]:
        """The risk phrases in `text` (domain.phrases.Match), each once, in order."""
        return self.compiled.phrases.find(text)

    @property
    def day_times(self) -> DayTimes:
        """The clock times `<when>` words land on (`明天` → default, `下午` → afternoon…)."""
        return self.times.day_times()

    @property
    def source(self) -> str:
        """Where the rules came from (a path or a name), for messages."""
        return self._source

    @property
    def compiled(self) -> Compiled:
        assert self._compiled is not None
        return self._compiled

    # --- look-ups ---

    def standard(self, risk: Risk | str) -> TierStandard:
        standard: TierStandard = getattr(self.tiers, str(risk))
        return standard

    def tag(self, text: str) -> RiskTag | None:
        """A risk tag by its code, zh/en label or an alias (any case); None if unknown."""
        index = self.compiled.tag_index
        found = index.get(text)
        return found if found is not None else index.get(_norm(text))

    def identity_tag(self, text: str) -> IdentityTag | None:
        """An identity tag by its code, zh/en label or an alias (any case); None if unknown."""
        key = _norm(text)
        for tag in self.identity_tags:
            if key in {_norm(n) for n in (tag.code, tag.en, tag.zh, *tag.aliases)}:
                return tag
        return None

    def need_category(self, code: str) -> NeedCategory | None:
        return next((c for c in self.needs.categories if c.code == code), None)

    def classify_need(self, text: str) -> tuple[NeedCategory, ...]:
        """Categories whose keywords occur in `text` (or that `text` names), most urgent first."""
        return self.compiled.needs.classify(text)

    def required_frequency(self, risk: Risk) -> str:
        """The frequency tier the risk tier's contact cadence amounts to (crisis every 2 days → S)."""
        return self.compiled.required_frequency[risk]

    def frequency_rank(self, code: str) -> int:
        """0 for the most frequent level; larger is less frequent."""
        return self.compiled.frequency_rank[code]


def parse_rules(text: str, source: str = "rules.toml") -> RuleBase:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = _TOML_POS.search(msg)
        if where:
            msg = msg[: where.start()].rstrip()
            pos = f"line {where['line']}, column {where['col']}"
        else:
            pos = "end of file" if "end of document" in msg else "?"
            msg = re.sub(r"\s*\(at end of document\)", "", msg)
        raise RulesError(f"{source}: {pos}: TOML syntax error: {msg}", [(pos, msg)]) from None
    try:
        rules = RuleBase.model_validate(data)
    except ValidationError as exc:
        problems = [(_path(e["loc"]), _problem(e)) for e in exc.errors()]
        message = "\n".join(f"{source}: {p}: {m}" if p else f"{source}: {m}" for p, m in problems)
        raise RulesError(message, problems) from None
    rules._source = source
    return rules


_TOML_POS = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)")


def load_rules(path: str | Path | None = None) -> RuleBase:
    """The rule base in `path`; None → the shipped default (cached: it never changes).
    A `phrases_file` it names (relative to it) is read and its phrases added."""
    if path is None:
        return _default_rules()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{p}: cannot read the rule file: {exc}") from None
    rules = parse_rules(text, source=str(p))
    if rules.phrases_file:
        extra = Path(rules.phrases_file)
        if not extra.is_absolute():
            extra = p.parent / extra
        rules._extra_phrases = _read_phrase_file(extra)
        rules.model_post_init(None)  # compile again with the extra phrases
    return rules


def _read_phrase_file(path: Path) -> tuple[RiskPhrase, ...]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot read the phrase file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: TOML syntax error: {exc}") from None
    try:
        return tuple(PhraseFile.model_validate(data).risk_phrases)
    except ValidationError as exc:
        problems = [(_path(e["loc"]), _problem(e)) for e in exc.errors()]
        raise RulesError("\n".join(f"{path}: {k}: {m}" for k, m in problems), problems) from None


@lru_cache(maxsize=1)
def default_phrases() -> tuple[RiskPhrase, ...]:
    """The shipped risk phrases (domain/default_phrases.toml)."""
    return _read_phrase_file(DEFAULT_PHRASES_PATH)


@lru_cache(maxsize=1)
def _default_rules() -> RuleBase:
    return parse_rules(
        DEFAULT_RULES_PATH.read_text(encoding="utf-8"), source=DEFAULT_RULES_PATH.name
    )


# --- error formatting ---


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_TYPE_NAMES = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be an array",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
}


def _problem(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown key"
    for key, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if kind == _BOUND_KINDS[key]:
            return f"must be {op} {_num(ctx[key])}, got {given!r}"
    if kind in _TYPE_NAMES:
        return f"{_TYPE_NAMES[kind]}, got {_toml_type(given)} {given!r}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}, got {given!r}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} entries"
    if kind == "string_pattern_mismatch":
        return f"must be lower-case letters, digits and _ (a code), got {given!r}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


_BOUND_KINDS = {
    "gt": "greater_than",
    "ge": "greater_than_equal",
    "lt": "less_than",
    "le": "less_than_equal",
}


def _num(x: object) -> object:
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _toml_type(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)
