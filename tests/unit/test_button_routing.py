"""bot routes each tap by the codec: one CallbackQueryHandler per button kind, whose pattern
is that kind's `matches`; anything else, forged or stale, reaches the catch-all only."""

from __future__ import annotations

import pytest
from telegram import CallbackQuery, Update, User
from telegram.ext import ApplicationBuilder, CallbackQueryHandler

from bot import routes as bot_routes
from domain.buttons import KINDS
from tests.e2e.test_bad_buttons import forged_data
from tests.unit.test_buttons import SAMPLES


@pytest.fixture(scope="module")
def routes() -> list[CallbackQueryHandler]:
    application = ApplicationBuilder().token("1:test").build()
    bot_routes.register(application)
    return [
        h
        for group in sorted(application.handlers)
        for h in application.handlers[group]
        if isinstance(h, CallbackQueryHandler)
    ]


def _tap(raw: str) -> Update:
    user = User(1, "A", False)
    return Update(1, callback_query=CallbackQuery("q", user, "chat", data=raw))


def _taken_by(routes, raw: str) -> list:
    return [h for h in routes if h.check_update(_tap(raw))]


def test_one_handler_per_kind_and_the_catch_all_last(routes):
    kinds = [getattr(h.callback, "button", None) for h in routes]
    assert kinds[-1] is None and routes[-1].pattern is None  # the catch-all
    assert sorted(k.KIND for k in kinds[:-1]) == sorted(KINDS)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_each_button_reaches_its_own_handler_first(routes, sample):
    taken = _taken_by(routes, sample.pack())
    assert getattr(taken[0].callback, "button", None) is type(sample)
    assert taken[1:] == [routes[-1]]  # and, besides, only the catch-all would take it


def test_forged_data_reaches_only_the_catch_all(routes):
    for raw in forged_data():
        if raw:  # empty data: PTB hands it to the first handler, whose parse refuses it
            assert _taken_by(routes, raw) == [routes[-1]], raw
