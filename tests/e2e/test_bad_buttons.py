"""Issue 10: forged or stale callback data is answered ("this button no longer works") and
never raises: ids past 2^63, superscript and full-width digits, wrong shapes, any kind."""

from __future__ import annotations

import logging

import pytest

from domain.buttons import KINDS
from tests.e2e.test_core_loop import admin_ready, replay_callback, table_counts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HUGE = (str(2**63), str(2**64 + 7))
ODD_DIGITS = ("²", "１２", "١٢", "-1", "")


def forged_data() -> list[str]:
    out = ["", "zz:1", "nonsense", "p:1:2:3"]
    for kind in KINDS:
        for bad in HUGE + ODD_DIGITS:
            out.append(f"{kind}:{bad}:1" if kind not in ("rd", "ak", "cl") else f"{kind}:{bad}")
            if kind in ("p", "rp", "rv"):
                out.append(f"{kind}:1:{bad}" if kind != "rv" else f"rv:c:{bad}")
    # the crisis path (issue 11): wrong shapes, triggers, reasons and safety check answers
    out += [
        "rv:l",
        "rv:r:1",
        "rv:r:1:because",
        "rv:r:1:improved:x",
        "sc:1",
        "sc:1:zz",
        "sc:1:al:x",
        "sg:1:z",
        "sk:1:q",
        "sk:1:-",
        "sk:1:nny",
        "sk:1:yyyyyyyy",
        f"rv:r:1:{HUGE[0]}",
    ]
    # every kind in its right shape, one id at a time out of range or not ASCII digits
    from tests.unit.test_buttons import SAMPLES

    for sample in SAMPLES:
        good = sample.pack().split(":")
        for i, part in enumerate(good):
            if part in ("1", "2"):
                out += [
                    ":".join([*good[:i], bad, *good[i + 1 :]])
                    for bad in (HUGE[0], "0", "²", "１２")
                ]
    return [d for d in out if len(d.encode()) <= 64]


async def test_forged_buttons_are_answered_and_never_raise(bot_env, caplog):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生B")
    own = await admin.expect_message()
    before = table_counts(bot_env.db_path)
    caplog.set_level(logging.ERROR)
    data = forged_data()
    assert len(data) > 80
    for raw in data:
        qid = await replay_callback(bot_env.server, admin, own, raw)
        answer = await admin.expect_callback_answer(qid)
        assert "no longer works" in answer.text, raw
    await bot_env.server.idle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bot_env.server.errors == []
    assert bot_env.server.unanswered_queries == []
    assert table_counts(bot_env.db_path) == before
    assert "went wrong" not in " ".join(m.text or "" for m in admin.messages)


async def test_forged_button_in_chinese(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    await admin.send("/new 学生B")
    own = await admin.expect_message()
    qid = await replay_callback(bot_env.server, admin, own, "ak:²")
    assert "按钮已经失效" in (await admin.expect_callback_answer(qid)).text
