"""PHQ-9 and GAD-7: items (zh/en), answer labels, scoring and severity bands. Pure, no I/O.

Item wording is the standard published English (Pfizer/PRIME-MD, free to use) and the Chinese
version commonly used in mainland China. Each answer is 0–3 ("over the last 2 weeks, how
often…"). Bands: PHQ-9 0–4 minimal, 5–9 mild, 10–14 moderate, 15–19 moderately severe,
20–27 severe; GAD-7 0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 severe.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Instrument(StrEnum):
    PHQ9 = "phq9"
    GAD7 = "gad7"

    @classmethod
    def parse(cls, text: str) -> Instrument | None:
        """`phq9`, `PHQ-9`, `phq`, `gad7`, `GAD-7`, `gad` → the instrument; None if unknown."""
        key = re.sub(r"[\s_\-]", "", text).lower()
        return _INSTRUMENT_ALIASES.get(key)


_INSTRUMENT_ALIASES = {
    "phq9": Instrument.PHQ9,
    "phq": Instrument.PHQ9,
    "gad7": Instrument.GAD7,
    "gad": Instrument.GAD7,
}


class ScreeningError(ValueError):
    """Bad answers. `item` is the 1-based item number at fault (None for a wrong count)."""

    def __init__(self, message: str, *, instrument: Instrument, item: int | None = None) -> None:
        super().__init__(message)
        self.instrument = instrument
        self.item = item


@dataclass(frozen=True, slots=True)
class Band:
    code: str  # minimal | mild | moderate | moderately_severe | severe
    low: int
    high: int
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    instrument: Instrument
    name: str  # "PHQ-9"
    stem_en: str
    stem_zh: str
    items_en: tuple[str, ...]
    items_zh: tuple[str, ...]
    bands: tuple[Band, ...]

    @property
    def item_count(self) -> int:
        return len(self.items_en)

    @property
    def max_total(self) -> int:
        return 3 * len(self.items_en)

    def items(self, lang: str) -> tuple[str, ...]:
        return self.items_zh if lang == "zh" else self.items_en

    def stem(self, lang: str) -> str:
        return self.stem_zh if lang == "zh" else self.stem_en


ANSWER_LABELS: dict[str, tuple[str, str, str, str]] = {
    "en": ("Not at all", "Several days", "More than half the days", "Nearly every day"),
    "zh": ("完全不会", "好几天", "一半以上的天数", "几乎每天"),
}

_MINIMAL = Band("minimal", 0, 4, "minimal", "无或极轻微")
_MILD = Band("mild", 5, 9, "mild", "轻度")
_MODERATE = Band("moderate", 10, 14, "moderate", "中度")

PHQ9 = InstrumentSpec(
    instrument=Instrument.PHQ9,
    name="PHQ-9",
    stem_en="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    stem_zh="在过去的两周里，你生活中以下症状出现的频率有多少？",
    items_en=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    items_zh=(
        "做事时提不起劲或没有兴趣",
        "感到心情低落、沮丧或绝望",
        "入睡困难、睡不安稳或睡眠过多",
        "感觉疲倦或没有活力",
        "食欲不振或吃太多",
        "觉得自己很糟，或觉得自己很失败，或让自己或家人失望",
        "对事物专注有困难，例如阅读报纸或看电视时",
        "动作或说话速度缓慢到别人已经觉察？或正好相反——烦躁或坐立不安、动来动去的情况更胜于平常",
        "有不如死掉或用某种方式伤害自己的念头",
    ),
    bands=(
        _MINIMAL,
        _MILD,
        _MODERATE,
        Band("moderately_severe", 15, 19, "moderately severe", "中重度"),
        Band("severe", 20, 27, "severe", "重度"),
    ),
)

GAD7 = InstrumentSpec(
    instrument=Instrument.GAD7,
    name="GAD-7",
    stem_en="Over the last 2 weeks, how often have you been bothered by the following problems?",
    stem_zh="在过去的两周里，你生活中以下症状出现的频率有多少？",
    items_en=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    items_zh=(
        "感觉紧张、焦虑或急切",
        "不能够停止或控制担忧",
        "对各种各样的事情担忧过多",
        "很难放松下来",
        "由于不安而无法静坐",
        "变得容易烦恼或急躁",
        "感到似乎将有可怕的事情发生而害怕",
    ),
    bands=(
        _MINIMAL,
        _MILD,
        _MODERATE,
        Band("severe", 15, 21, "severe", "重度"),
    ),
)

SPECS: dict[Instrument, InstrumentSpec] = {Instrument.PHQ9: PHQ9, Instrument.GAD7: GAD7}

# total → band, precomputed (scoring 100,000 clients stays cheap)
_BAND_BY_TOTAL: dict[Instrument, tuple[Band, ...]] = {
    spec.instrument: tuple(
        next(b for b in spec.bands if b.low <= t <= b.high) for t in range(spec.max_total + 1)
    )
    for spec in SPECS.values()
}


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    instrument: Instrument
    answers: tuple[int, ...]
    total: int
    band: str  # Band.code
    item9: int | None  # PHQ-9 item 9 (thoughts of death / self-harm); None for GAD-7
    at: datetime | None = None  # when it was taken (aware UTC); the caller sets it

    @property
    def spec(self) -> InstrumentSpec:
        return SPECS[self.instrument]

    def covers(self, now: datetime) -> bool:
        """Whether `now` is still within the period this screening asks about (PHQ-9 and GAD-7:
        "over the last 2 weeks"): another one now would ask about much the same days."""
        return self.at is not None and now - self.at <= RECALL_PERIOD


# PHQ-9 and GAD-7 ask about the last two weeks.
RECALL_PERIOD = timedelta(days=14)


def spec(instrument: Instrument | str) -> InstrumentSpec:
    return SPECS[_instrument(instrument)]


def band_for(instrument: Instrument | str, total: int) -> Band:
    inst = _instrument(instrument)
    table = _BAND_BY_TOTAL[inst]
    if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total < len(table):
        raise ScreeningError(
            f"{SPECS[inst].name} total must be 0–{len(table) - 1}, got {total!r}", instrument=inst
        )
    return table[total]


def score(
    instrument: Instrument | str, answers: Sequence[int], at: datetime | None = None
) -> ScreeningResult:
    """Validate the answers (one 0–3 integer per item) and score them.

    Raises ScreeningError (a ValueError) naming the 1-based item at fault.
    """
    inst = _instrument(instrument)
    sp = SPECS[inst]
    if isinstance(answers, (str, bytes)):
        raise ScreeningError(
            f"{sp.name}: answers must be a sequence of numbers (domain.grammar.parse_scores reads text)",
            instrument=inst,
        )
    answers = tuple(answers)
    n = sp.item_count
    if len(answers) != n:
        raise ScreeningError(
            f"{sp.name} needs {n} answers, got {len(answers)}", instrument=inst, item=None
        )
    for i, a in enumerate(answers, start=1):
        if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a <= 3:
            raise ScreeningError(
                f"{sp.name} item {i}: answer must be 0, 1, 2 or 3, got {a!r}",
                instrument=inst,
                item=i,
            )
    total = sum(answers)
    return ScreeningResult(
        instrument=inst,
        answers=answers,
        total=total,
        band=_BAND_BY_TOTAL[inst][total].code,
        item9=answers[8] if inst is Instrument.PHQ9 else None,
        at=at,
    )


def _instrument(instrument: Instrument | str) -> Instrument:
    if isinstance(instrument, Instrument):
        return instrument
    found = Instrument.parse(str(instrument))
    if found is None:
        raise ValueError(f"unknown instrument {instrument!r} (expected PHQ-9 or GAD-7)")
    return found
