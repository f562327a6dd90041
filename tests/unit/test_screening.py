from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.screening import (
    ANSWER_LABELS,
    GAD7,
    PHQ9,
    Instrument,
    ScreeningError,
    band_for,
    score,
)


def answers_for_total(n_items: int, total: int) -> list[int]:
    """Answers of `n_items` items summing to `total` (item 9 kept 0 where possible)."""
    out = [0] * n_items
    left = total
    for i in range(n_items):
        if left == 0:
            break
        out[i] = min(3, left)
        left -= out[i]
    assert left == 0
    return out


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_edges(total, band):
    res = score(Instrument.PHQ9, answers_for_total(9, total))
    assert res.total == total
    assert res.band == band
    assert band_for("PHQ-9", total).code == band


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_edges(total, band):
    res = score(Instrument.GAD7, answers_for_total(7, total))
    assert (res.total, res.band, res.item9) == (total, band, None)
    assert band_for("gad7", total).code == band


def test_result_fields_and_item9():
    at = datetime(2025, 11, 23, tzinfo=UTC)
    res = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 2], at=at)
    assert res.instrument is Instrument.PHQ9
    assert res.answers == (0, 0, 0, 0, 0, 0, 0, 0, 2)
    assert (res.total, res.band, res.item9, res.at) == (2, "minimal", 2, at)


@pytest.mark.parametrize(
    ("instrument", "count"), [("phq9", 8), ("phq9", 10), ("phq9", 0), ("gad7", 6), ("gad7", 9)]
)
def test_wrong_answer_count(instrument, count):
    with pytest.raises(ScreeningError) as err:
        score(instrument, [1] * count)
    assert err.value.item is None
    assert f"got {count}" in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("bad", [4, -1, 1.0, True, "1", None])
@pytest.mark.parametrize("position", [0, 4, 8])
def test_wrong_answer_value_names_item(bad, position):
    answers: list = [0] * 9
    answers[position] = bad
    with pytest.raises(ScreeningError) as err:
        score("PHQ-9", answers)
    assert err.value.item == position + 1
    assert f"item {position + 1}:" in str(err.value)


def test_text_answers_are_refused_and_unknown_instrument():
    with pytest.raises(ScreeningError):
        score("phq9", "000000000")
    with pytest.raises(ValueError, match="unknown instrument"):
        score("bdi", [0] * 21)


def test_items_and_labels_in_both_languages():
    assert PHQ9.item_count == 9 and len(PHQ9.items_zh) == 9 and PHQ9.max_total == 27
    assert GAD7.item_count == 7 and len(GAD7.items_zh) == 7 and GAD7.max_total == 21
    assert PHQ9.items("en")[8].startswith("Thoughts that you would be better off dead")
    assert PHQ9.items("zh")[8] == "有不如死掉或用某种方式伤害自己的念头"
    assert GAD7.items("en")[0] == "Feeling nervous, anxious, or on edge"
    assert GAD7.items("zh")[0] == "感觉紧张、焦虑或急切"
    assert ANSWER_LABELS["en"] == (
        "Not at all",
        "Several days",
        "More than half the days",
        "Nearly every day",
    )
    assert ANSWER_LABELS["zh"] == ("完全不会", "好几天", "一半以上的天数", "几乎每天")
    for spec in (PHQ9, GAD7):
        covered = [t for b in spec.bands for t in range(b.low, b.high + 1)]
        assert covered == list(range(spec.max_total + 1))


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_phq9_total_in_range_and_band_consistent(answers):
    res = score("phq9", answers)
    assert 0 <= res.total <= 27
    assert res.total == sum(answers)
    band = band_for("phq9", res.total)
    assert band.code == res.band and band.low <= res.total <= band.high
    assert res.item9 == answers[8]


@given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_gad7_total_in_range(answers):
    res = score("gad7", answers)
    assert 0 <= res.total <= 21 and res.total == sum(answers)


def test_band_for_rejects_out_of_range():
    with pytest.raises(ScreeningError):
        band_for("gad7", 22)
    with pytest.raises(ScreeningError):
        band_for("phq9", -1)


def test_chinese_questions_use_full_width_punctuation():
    """The questions a counsellor reads aloud in Chinese: "，？：；" after a Chinese character,
    not the half-width ",?:;" (they read as typos on a phone)."""
    import re

    from domain.screening import SPECS

    half_width = re.compile(r"[\u4e00-\u9fff][,?:;!]|[,?:;!][\u4e00-\u9fff]")
    for spec in SPECS.values():
        for text in (spec.stem_zh, *spec.items_zh):
            assert not half_width.search(text), (spec.name, text)


def test_a_screening_covers_the_two_weeks_it_asks_about():
    from datetime import timedelta

    from domain.screening import RECALL_PERIOD, score

    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    result = score("phq9", [1, 1, 1, 1, 1, 1, 1, 0, 0])
    assert RECALL_PERIOD == timedelta(days=14)
    assert not result.covers(at)  # no time: not known to cover anything
    taken = score("phq9", [1, 1, 1, 1, 1, 1, 1, 0, 0], at=at)
    assert taken.covers(at) and taken.covers(at + timedelta(days=14))
    assert not taken.covers(at + timedelta(days=14, seconds=1))
