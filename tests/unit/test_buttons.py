"""domain.buttons: the one grammar of callback data; bad data raises BadButton, never more."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import buttons
from domain.buttons import KINDS, MAX_ID, BadButton, parse_any


def parse(raw):
    """`(kind, fields)` of any button, as the tables below are written."""
    button = parse_any(raw)
    return button.KIND, tuple(getattr(button, f.name) for f in dataclasses.fields(button))


def fields(raw, kind):
    return parse(KINDS[kind].parse(raw).pack())[1]


def data(kind, *values):
    return KINDS[kind](*values).pack()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("p:12:34", ("p", (12, 34))),
        ("p:12:x", ("p", (12, "x"))),
        ("p:12:n", ("p", (12, "n"))),
        ("rp:3:x", ("rp", (3, "x"))),
        ("cl:0", ("cl", (0,))),
        ("s:7:", ("s", (7, ()))),
        ("s:7:0123", ("s", (7, (0, 1, 2, 3)))),
        ("s:7:x", ("s", (7, "x"))),
        ("rd:5", ("rd", (5,))),
        ("rs:5:1w", ("rs", (5, "1w"))),
        ("ak:1", ("ak", (1,))),
        ("rv:l:9", ("rv", ("l", 9))),
        ("fg:2:y", ("fg", (2, "y"))),
        ("rf:2:c", ("rf", (2, "c"))),
        ("rr:2:counselling_centre", ("rr", (2, "counselling_centre"))),
        ("rr:2:-", ("rr", (2, "-"))),
        (f"ak:{MAX_ID}", ("ak", (MAX_ID,))),
        # the crisis path (issue 11)
        ("rv:c:9", ("rv", ("c", 9))),
        ("rv:r:9:no_risk", ("rv:r", (9, "no_risk"))),
        ("rv:r:9:mistake", ("rv:r", (9, "mistake"))),
        ("sc:4:al", ("sc", (4, "al"))),
        ("sc:4:mp", ("sc", (4, "mp"))),
        ("sc:4:i9", ("sc", (4, "i9"))),
        ("sg:3:c", ("sg", (3, "c"))),
        ("sg:3:n", ("sg", (3, "n"))),
        ("sg:3:h", ("sg", (3, "h"))),
        ("sk:8:", ("sk", (8, ""))),
        ("sk:8:y", ("sk", (8, "y"))),
        ("sk:8:yynynn", ("sk", (8, "yynynn"))),
        ("sk:8:nn---n", ("sk", (8, "nn---n"))),
        ("sk:8:x", ("sk", (8, "x"))),
        (f"sk:{MAX_ID}:yyyyyyy", ("sk", (MAX_ID, "yyyyyyy"))),
    ],
)
def test_good_data(raw, expected):
    assert parse(raw) == expected
    kind, fields = expected
    assert data(kind, *fields) == raw


BAD = [
    None,
    "",
    ":",
    "p",
    "p:",
    "p:1",
    "p:1:2:3",
    "zz:1",
    "P:1:2",
    f"ak:{2**63}",
    f"ak:{2**63 + 1}",
    f"ak:{2**64}",
    f"ak:{MAX_ID + 1}",
    "ak:0",
    "ak:-1",
    "ak:+1",
    "ak:1.0",
    "ak: 1",
    "ak:1 ",
    "ak:0x10",
    "ak:²",
    "ak:1²",
    "ak:１２",
    "ak:١٢",
    "p:²:1",
    "p:1:²",
    "p:１:n",
    "cl:²",
    "cl:-1",
    "cl:99999",
    "rd:1:extra",
    "rs:1:2h",
    "rv:x:1",
    "rv:c:²",
    "fg:1:Y",
    "rf:1:z",
    "s:1:4",
    "s:1:0123012301",
    "s:1:０",
    "rr:1:",
    "rr:1:资源",
    "rr:1:a b",
    "p:" + "1" * 70 + ":2",
    # the crisis path (issue 11)
    "rv:l",
    "rv:l:²",
    "rv:r",
    "rv:r:1",
    "rv:r:1:because",
    "rv:r:²:improved",
    f"rv:r:{2**63}:improved",
    "rv:r:1:improved:x",
    "rv:r:１:improved",
    "rv:x:1:improved",
    "sc",
    "sc:1",
    "sc:1:zz",
    "sc:1:al:x",
    "sc:1:AL",
    f"sc:{2**63}:al",
    "sc:²:al",
    "sc:０:al",
    "sg:1",
    "sg:1:z",
    "sg:1:cc",
    "sg:１:c",
    f"sg:{2**64}:n",
    "sk:1",
    "sk:1:q",
    "sk:1:-",
    "sk:1:nny",
    "sk:1:yyyyyyyy",
    "sk:1:xx",
    "sk:1:Y",
    "sk:²:y",
    f"sk:{2**63}:y",
]


@pytest.mark.parametrize("raw", BAD)
def test_bad_data_raises_bad_button_only(raw):
    with pytest.raises(BadButton):
        parse(raw)


def test_kind_must_match():
    with pytest.raises(BadButton):
        fields("p:1:2", "rp")
    assert fields("rp:1:2", "rp") == (1, 2)


def test_data_refuses_what_it_could_not_read_back():
    with pytest.raises(BadButton):
        data("rr", 1, "x" * 80)
    with pytest.raises(BadButton):
        data("ak", 2**40)
    with pytest.raises(BadButton):
        buttons.QuestionnaireStep(1, [0, 1]).pack()  # a list is not the tuple it reads back as
    with pytest.raises(BadButton):
        buttons.ParkedChoice(1, "q").pack()
    with pytest.raises(BadButton):
        buttons.ReferralPick(MAX_ID, "a" * 40 + ":x").pack()


def test_every_safety_check_step_the_bot_can_write_reads_back():
    """All answer paths through the check (its skip logic), each prefix, as `sk` data."""
    from domain import safety

    seen = 0
    stack: list[dict] = [{}]
    while stack:
        answers = stack.pop()
        code = safety.encode_answers(answers)
        assert fields(data("sk", MAX_ID, code), "sk") == (MAX_ID, code)
        seen += 1
        item = safety.next_item(answers)
        if item is not None:
            stack += [{**answers, item: True}, {**answers, item: False}]
    assert seen > 20


def test_every_trigger_and_review_reason_has_a_button():
    from domain.safety import TRIGGERS
    from domain.tiering import REVIEW_REASONS

    for code in TRIGGERS:
        assert parse(data("sc", 1, code)) == ("sc", (1, code))
    for reason in REVIEW_REASONS:
        assert parse(data("rv:r", 1, reason)) == ("rv:r", (1, reason))


def test_the_agenda_lists_the_parser_takes_are_the_agendas():
    from domain.buttons import AGENDA_LISTS
    from rendering.agenda import AGENDA_SECTIONS

    assert set(AGENDA_LISTS) == set(AGENDA_SECTIONS)


@pytest.mark.parametrize(
    "raw",
    [
        "mp:12",
        "mx:l:3",
        "mx:9:3",
        "cz:5",
        "ra",
        "al:a:0",
        "alp:c:12",
        "ud:7",
        "ud:x",
        "tm:4:y",
        "p:3:N",
        "p:3:s",
        "p:3:xx",
        "p:3:b",
    ],
)
def test_issue_13_and_14_buttons_read(raw):
    kind, _ = parse(raw)
    assert raw.startswith(kind)


@pytest.mark.parametrize(
    "raw",
    [
        "mp:²",
        "mp:0",
        "mp:99999999999",
        "mx:q:3",
        "mx:l",
        "cz:-1",
        "ra:1",
        "al:z:0",
        "alp:a:99999",
        "ud:xx",
        "tm:4:maybe",
        "p:3:S",
    ],
)
def test_issue_13_and_14_forged_buttons_are_refused(raw):
    with pytest.raises(BadButton):
        parse(raw)


# --- the classes: one per kind, each round-trips and range-checks its ids -------------------

ids = st.integers(min_value=1, max_value=MAX_ID)
pages = st.integers(min_value=0, max_value=9999)
codes = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.",
    min_size=1,
    max_size=40,
)


def _safety_codes() -> list[str]:
    from domain import safety

    out, stack = [], [{}]
    while stack:
        answers = stack.pop()
        out.append(safety.encode_answers(answers))
        item = safety.next_item(answers)
        if item is not None:
            stack += [{**answers, item: True}, {**answers, item: False}]
    return out


def _of(*words):
    return st.sampled_from(words)


STRATEGIES = {
    buttons.ParkedChoice: st.builds(
        buttons.ParkedChoice, ids, ids | _of("x", "xx", "b", "n", "N", "s")
    ),
    buttons.ReferralClientChoice: st.builds(buttons.ReferralClientChoice, ids, ids | _of("x")),
    buttons.ClientsPage: st.builds(buttons.ClientsPage, pages),
    buttons.QuestionnaireStep: st.builds(
        buttons.QuestionnaireStep,
        ids,
        st.lists(st.integers(0, 3), max_size=9).map(tuple) | _of("x"),
    ),
    buttons.PlanDone: st.builds(buttons.PlanDone, ids),
    buttons.PlanSnooze: st.builds(buttons.PlanSnooze, ids, _of("1h", "1d", "1w")),
    buttons.SeriesStop: st.builds(buttons.SeriesStop, ids),
    buttons.AckAlert: st.builds(buttons.AckAlert, ids),
    buttons.TierReview: st.builds(buttons.TierReview, _of("c", "l"), ids),
    buttons.TierLowerReason: st.builds(
        buttons.TierLowerReason, ids, _of(*__import__("domain.tiering").tiering.REVIEW_REASONS)
    ),
    buttons.ForgetConfirm: st.builds(buttons.ForgetConfirm, ids, _of("y", "n")),
    buttons.ImportConfirm: st.builds(buttons.ImportConfirm, ids, _of("y", "n")),
    buttons.TeamConfirm: st.builds(buttons.TeamConfirm, ids, _of("y", "n")),
    buttons.ReferralStatus: st.builds(buttons.ReferralStatus, ids, _of("a", "c", "d")),
    buttons.ReferralPick: st.builds(buttons.ReferralPick, ids, codes | _of("-")),
    buttons.FollowUpDate: st.builds(buttons.FollowUpDate, ids, _of(*buttons.FOLLOW_UP)),
    buttons.RunSuggested: st.builds(buttons.RunSuggested, ids, _of("y", "x")),
    buttons.SignalAction: st.builds(buttons.SignalAction, ids, _of(*buttons.SIGNAL_ACTIONS)),
    buttons.SafetyCheckStart: st.builds(
        buttons.SafetyCheckStart, ids, _of(*__import__("domain.safety").safety.TRIGGERS)
    ),
    buttons.SafetyCheckStep: st.builds(buttons.SafetyCheckStep, ids, _of("x", *_safety_codes())),
    buttons.OpenMap: st.builds(buttons.OpenMap, ids),
    buttons.MapAction: st.builds(buttons.MapAction, _of(*buttons.MAP_ACTIONS), ids),
    buttons.CadenceSnooze: st.builds(buttons.CadenceSnooze, ids),
    buttons.ConfirmQuietReviews: st.just(buttons.ConfirmQuietReviews()),
    buttons.AgendaList: st.builds(buttons.AgendaList, _of(*buttons.AGENDA_LISTS), pages),
    buttons.AgendaListPage: st.builds(buttons.AgendaListPage, _of(*buttons.AGENDA_LISTS), pages),
    buttons.UndoChoice: st.builds(buttons.UndoChoice, ids | _of("x")),
}


def test_one_class_per_kind_and_every_kind_has_a_strategy():
    assert len(KINDS) == 27
    assert set(STRATEGIES) == set(KINDS.values())
    assert all(cls.KIND == kind for kind, cls in KINDS.items())


@pytest.mark.parametrize("cls", sorted(STRATEGIES, key=lambda c: c.KIND), ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_button_round_trips_within_64_bytes(cls, data):
    button = data.draw(STRATEGIES[cls])
    raw = button.pack()
    assert len(raw.encode("utf-8")) <= buttons.MAX_BYTES
    assert raw.split(":")[0] == cls.KIND.split(":")[0]
    assert cls.parse(raw) == button
    assert parse_any(raw) == button
    assert cls.matches(raw)
    assert [k for k in KINDS.values() if k.matches(raw)] == [cls]  # routed to one handler only


# one valid button of each kind (its ids 1 and 2)
SAMPLES = [
    buttons.ParkedChoice(1, 2),
    buttons.ReferralClientChoice(1, 2),
    buttons.ClientsPage(0),
    buttons.QuestionnaireStep(1, (0, 3)),
    buttons.PlanDone(1),
    buttons.PlanSnooze(1, "1d"),
    buttons.SeriesStop(1),
    buttons.AckAlert(1),
    buttons.TierReview("l", 1),
    buttons.TierLowerReason(1, "improved"),
    buttons.ForgetConfirm(1, "y"),
    buttons.ImportConfirm(1, "n"),
    buttons.TeamConfirm(1, "y"),
    buttons.ReferralStatus(1, "a"),
    buttons.ReferralPick(1, "counselling_centre"),
    buttons.FollowUpDate(1, "2w"),
    buttons.RunSuggested(1, "y"),
    buttons.SignalAction(1, "q"),
    buttons.SafetyCheckStart(1, "al"),
    buttons.SafetyCheckStep(1, "y"),
    buttons.OpenMap(1),
    buttons.MapAction("9", 1),
    buttons.CadenceSnooze(1),
    buttons.ConfirmQuietReviews(),
    buttons.AgendaList("a", 3),
    buttons.AgendaListPage("c", 5),
    buttons.UndoChoice(1),
]


def _id_positions(sample) -> list[int]:
    """Which fields of the sample are ids: 1 and 2 there are ids, and so is MAX_ID."""
    values = [getattr(sample, f.name) for f in dataclasses.fields(sample)]
    out = []
    for i, value in enumerate(values):
        if value in (1, 2) and not isinstance(value, bool):
            type(sample)(
                *values[:i], MAX_ID, *values[i + 1 :]
            ).pack()  # accepted at the top of the range
            out.append(i)
    return out


def test_one_sample_per_kind():
    assert sorted(type(s).KIND for s in SAMPLES) == sorted(KINDS)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("bad", [0, -1, MAX_ID + 1, 2**63, 2**64])
def test_ids_out_of_range_are_refused_both_ways(sample, bad):
    cls = type(sample)
    values = [getattr(sample, f.name) for f in dataclasses.fields(cls)]
    for i in _id_positions(sample):
        forged = cls(*values[:i], bad, *values[i + 1 :])
        with pytest.raises(BadButton):
            forged.pack()
        raw = ":".join(
            [
                cls.KIND,
                *(
                    "".join(map(str, v)) if isinstance(v, tuple) else str(v)
                    for v in forged.__dict__.values()
                ),
            ]
        )
        with pytest.raises(BadButton):
            cls.parse(raw)
        assert not cls.matches(raw)


def test_id_fields_are_where_the_grammar_has_them():
    counts = {s.KIND: len(_id_positions(s)) for s in SAMPLES}
    assert counts["ra"] == 0 and counts["cl"] == 0 and counts["al"] == 0
    assert counts["rd"] == counts["ak"] == counts["mp"] == counts["ud"] == 1
    assert counts["p"] == 2 and counts["rp"] == 2  # a pending input and a client
    assert counts["rv"] == counts["rv:r"] == counts["sk"] == 1


@given(st.text(max_size=70))
def test_any_text_is_a_button_or_bad_button(raw):
    for cls in KINDS.values():
        try:
            button = cls.parse(raw)
        except BadButton:
            continue
        assert button.pack() == raw  # what is read is exactly what would be written


@pytest.mark.parametrize(
    "raw",
    [
        "ra:",
        "ra::",
        "rd:1:",
        ":rd:1",
        "rd::1",
        "rv:r:1:improved:",
        "s:1::",
        "rd:01",
        "rd:00",
        "p:01:2",
        "p:1:007",
        "cl:00",
        "cl:01",
        "al:a:01",
    ],
)
def test_one_spelling_per_button(raw):
    """No stray separator, no leading zero: the bot never wrote one; each value reads from one string."""
    with pytest.raises(BadButton):
        parse_any(raw)


def test_a_kind_parses_only_its_own_data():
    with pytest.raises(BadButton):
        buttons.TierReview.parse("rv:r:1:improved")
    with pytest.raises(BadButton):
        buttons.AgendaList.parse("alp:a:0")
    with pytest.raises(BadButton):
        buttons.ParkedChoice.parse("rp:1:2")
    assert not buttons.PlanDone.matches(None)
    assert not buttons.PlanDone.matches(b"rd:1")
    assert buttons.ForgetConfirm.parse("fg:3:y").confirmed
    assert not buttons.TeamConfirm.parse("tm:3:n").confirmed


def test_the_enumerations_the_parser_takes_are_the_services():
    """Handlers no longer re-check a tapped value: what the codec lets through, the service takes."""
    from services.logs import FOLLOW_UP_CHOICES
    from services.referrals import ACTIONS

    assert {data("rf", 1, a) for a in ACTIONS} == {f"rf:1:{a}" for a in "acd"}
    assert set(buttons.FOLLOW_UP) == {*FOLLOW_UP_CHOICES, "x"}
