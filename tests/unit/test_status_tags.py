"""/status can add (#tag) and clear (-#tag) tags: a risk tag that no longer holds is removed."""

from __future__ import annotations

import pytest

from domain.errors import CommandError
from domain.grammar import parse_status
from domain.model import Risk


@pytest.mark.parametrize(
    ("args", "add", "remove", "risk"),
    [
        ("王芳 -#挂科", (), ("挂科",), None),
        ("王芳 #失联 -#挂科 risk=medium", ("失联",), ("挂科",), Risk.MEDIUM),
        ("王芳 -＃挂科，", (), ("挂科",), None),
        ("王芳 #班干部 #班干部", ("班干部",), (), None),
    ],
)
def test_tags_in_status(args, add, remove, risk):
    spec = parse_status(args)
    assert spec.add_tags == add and spec.remove_tags == remove and spec.risk == risk
    assert not spec.is_query


def test_status_without_options_is_a_query():
    assert parse_status("王芳").is_query


@pytest.mark.parametrize(
    ("args", "code"), [("王芳 -#", "empty_tag"), ("王芳 -#" + "长" * 40, "tag_too_long")]
)
def test_bad_tags(args, code):
    with pytest.raises(CommandError) as info:
        parse_status(args)
    assert info.value.code == code
