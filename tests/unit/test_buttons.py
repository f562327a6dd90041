"""domain.buttons: the one grammar of callback data; bad data raises BadButton, never more."""

from __future__ import annotations

import pytest

from domain import buttons
from domain.buttons import MAX_ID, BadButton, parse


@pytest.mark.parametrize("raw, expected", [
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
])
def test_good_data(raw, expected):
    assert buttons.parse(raw) == expected
    kind, fields = expected
    assert buttons.data(kind, *fields) == raw


BAD = [
    None, "", ":", "p", "p:", "p:1", "p:1:2:3", "zz:1", "P:1:2",
    f"ak:{2**63}", f"ak:{2**63 + 1}", f"ak:{2**64}", f"ak:{MAX_ID + 1}", "ak:0", "ak:-1", "ak:+1",
    "ak:1.0", "ak: 1", "ak:1 ", "ak:0x10",
    "ak:²", "ak:1²", "ak:１２", "ak:١٢", "p:²:1", "p:1:²", "p:１:n", "cl:²", "cl:-1", "cl:99999",
    "rd:1:extra", "rs:1:2h", "rv:x:1", "rv:c:²", "fg:1:Y", "rf:1:z", "s:1:4", "s:1:0123012301",
    "s:1:０", "rr:1:", "rr:1:资源", "rr:1:a b", "p:" + "1" * 70 + ":2",
    # the crisis path (issue 11)
    "rv:l", "rv:l:²", "rv:r", "rv:r:1", "rv:r:1:because", "rv:r:²:improved", f"rv:r:{2**63}:improved",
    "rv:r:1:improved:x", "rv:r:１:improved", "rv:x:1:improved",
    "sc", "sc:1", "sc:1:zz", "sc:1:al:x", "sc:1:AL", f"sc:{2**63}:al", "sc:²:al", "sc:０:al",
    "sg:1", "sg:1:z", "sg:1:cc", "sg:１:c", f"sg:{2**64}:n",
    "sk:1", "sk:1:q", "sk:1:-", "sk:1:nny", "sk:1:yyyyyyyy", "sk:1:xx", "sk:1:Y", "sk:²:y", f"sk:{2**63}:y",
]


@pytest.mark.parametrize("raw", BAD)
def test_bad_data_raises_bad_button_only(raw):
    with pytest.raises(BadButton):
        buttons.parse(raw)


def test_kind_must_match():
    with pytest.raises(BadButton):
        buttons.fields("p:1:2", "rp")
    assert buttons.fields("rp:1:2", "rp") == (1, 2)


def test_data_refuses_what_it_could_not_read_back():
    with pytest.raises(BadButton):
        buttons.data("rr", 1, "x" * 80)
    with pytest.raises(BadButton):
        buttons.data("ak", 2**40)


def test_every_safety_check_step_the_bot_can_write_reads_back():
    """All answer paths through the check (its skip logic), each prefix, as `sk` data."""
    from domain import safety

    seen = 0
    stack: list[dict] = [{}]
    while stack:
        answers = stack.pop()
        code = safety.encode_answers(answers)
        assert buttons.fields(buttons.data("sk", MAX_ID, code), "sk") == (MAX_ID, code)
        seen += 1
        item = safety.next_item(answers)
        if item is not None:
            stack += [{**answers, item: True}, {**answers, item: False}]
    assert seen > 20


def test_every_trigger_and_review_reason_has_a_button():
    from domain.safety import TRIGGERS
    from domain.tiering import REVIEW_REASONS

    for code in TRIGGERS:
        assert buttons.parse(buttons.data("sc", 1, code)) == ("sc", (1, code))
    for reason in REVIEW_REASONS:
        assert buttons.parse(buttons.data("rv:r", 1, reason)) == ("rv:r", (1, reason))


def test_the_agenda_lists_the_parser_takes_are_the_agendas():
    from domain.buttons import AGENDA_LISTS
    from rendering.agenda import AGENDA_SECTIONS

    assert set(AGENDA_LISTS) == set(AGENDA_SECTIONS)


@pytest.mark.parametrize("raw", [
    "mp:12", "mx:l:3", "mx:9:3", "cz:5", "ra", "al:a:0", "alp:c:12", "ud:7", "ud:x", "tm:4:y",
    "p:3:N", "p:3:s", "p:3:xx", "p:3:b",
])
def test_issue_13_and_14_buttons_read(raw):
    kind, _ = parse(raw)
    assert raw.startswith(kind)


@pytest.mark.parametrize("raw", [
    "mp:²", "mp:0", "mp:99999999999", "mx:q:3", "mx:l", "cz:-1", "ra:1", "al:z:0", "alp:a:99999",
    "ud:xx", "tm:4:maybe", "p:3:S",
])
def test_issue_13_and_14_forged_buttons_are_refused(raw):
    with pytest.raises(BadButton):
        parse(raw)
