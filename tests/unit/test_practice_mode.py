"""Private practice (CAREMAP_MODE=practice): `/status … pay=self|insurance capacity=1-5` and
the value tier it feeds; off on campus."""

from __future__ import annotations

import pytest

from bootstrap.settings import ConfigError, load_settings
from domain import grammar as g
from domain.errors import CommandError
from services.grading import default_rules, practice_rules


def test_status_value_options():
    s = g.parse_status("王芳 pay=自费 capacity=4")
    assert (s.payer, s.capacity, s.is_query) == ("self", 4, False)
    s = g.parse_status("王芳 付费方式=医保 支付能力=2 trust=3")
    assert (s.payer, s.capacity, s.trust) == ("insurance", 2, 3)


VALUE_BAD = [
    ("王芳 pay=cash", "bad_payer", {"value": "cash"}),
    ("王芳 capacity=9", "bad_capacity", {"value": "9"}),
    ("王芳 支付能力=很多", "bad_capacity", {"value": "很多"}),
]


@pytest.mark.parametrize(("args", "code", "params"), VALUE_BAD)
def test_bad_values(args, code, params):
    with pytest.raises(CommandError) as e:
        g.parse_status(args)
    assert (e.value.code, e.value.params) == (code, params)


def test_practice_rules_switch_the_value_tier_on_and_nothing_else():
    campus = default_rules()
    practice = practice_rules(campus)
    assert not campus.value.enabled and practice.value.enabled
    assert practice.tiers == campus.tiers and practice.tag("挂科") is not None


def test_caremap_mode_setting():
    env = {"TELEGRAM_BOT_TOKEN": "123:abc"}
    assert load_settings(env, dotenv=None).mode == "campus"
    assert load_settings({**env, "CAREMAP_MODE": "Practice"}, dotenv=None).mode == "practice"
    with pytest.raises(ConfigError, match="CAREMAP_MODE"):
        load_settings({**env, "CAREMAP_MODE": "hospital"}, dotenv=None)


def test_practice_only_template_exists():
    from tests.unit.test_grammar import _ENV

    for lang in ("en", "zh"):
        assert (
            "CAREMAP_MODE=practice" in _ENV.get_template(f"{lang}/errors/practice_only.j2").render()
        )
