"""End to end (issue 11, the crisis path): a risk phrase in a note → the prompt → the safety
check in one edited message → crisis, its alert row in the same transaction; "not a risk" with
a reason kept on record; a review lowers a held crisis only with a reason."""

from __future__ import annotations

import json

import pytest

from reminders.tick import run_once
from tests.e2e.harness import db_rows as rows
from tests.e2e.test_core_loop import admin_ready, replay_callback

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TRANSCRIPT: list[str] = []  # the conversation as the bot showed it (for the notes)


def _show(who, msg):
    TRANSCRIPT.append(
        f"{who}: {msg.text}"
        + (f"\n   [{' | '.join(msg.button_texts)}]" if msg.button_texts else "")
    )


async def _quiet(env, lang):
    admin = await admin_ready(env, lang=lang)
    await admin.send("/settings agenda=off")
    await admin.expect_message()
    return admin


async def test_risk_phrase_prompt_safety_check_crisis_alert_zh(bot_env):
    admin = await _quiet(bot_env, "zh-hans")
    await admin.send("/new 学生X")
    await admin.expect_message()
    note = "/log 学生X 不想活了,觉得活着没意思 #自杀念头"
    await admin.send(note)
    TRANSCRIPT.append(f"辅导员: {note}")
    logged = await admin.expect_message()
    _show("bot", logged)
    prompt = await admin.expect_message()
    _show("bot", prompt)
    assert "“不想活”" in prompt.text and "“活着没意思”" in prompt.text
    assert "不会给学生贴任何标签" in prompt.text
    assert prompt.button_texts == ["🛟 现在做安全评估", "📋 现在做 PHQ-9", "不是风险…"]
    # the phrase alone labels nobody: no crisis, no alert yet; the signal is on record
    assert rows(bot_env, "select risk from client_grades") == [("low",)]
    assert rows(bot_env, "select count(*) from alerts") == [(0,)]
    assert rows(bot_env, "select source, outcome from risk_signals") == [("note", "open")]
    # the phrases are encrypted at rest
    assert "不想活" not in rows(bot_env, "select phrases_enc from risk_signals")[0][0]

    await admin.tap(prompt, "🛟 现在做安全评估")
    TRANSCRIPT.append("辅导员: [🛟 现在做安全评估]")
    q = await admin.expect_edit(prompt)
    _show("bot (edited)", q)
    assert "第 1 题" in q.text and "一睡不醒" in q.text
    # wish yes, thoughts yes, method no, intent yes, plan no, behaviour no
    last_data = None
    for answer in ("是", "是", "否", "是", "否", "否"):
        last_data = dict(q.buttons[0])[answer]
        await admin.tap(prompt, answer)
        TRANSCRIPT.append(f"辅导员: [{answer}]")
        q = await admin.expect_edit(prompt)
        _show("bot (edited)", q)
    assert "安全评估结果" in q.text and "危机" in q.text and "有行动的意图" in q.text
    assert "已发出预警" in q.text
    assert not q.button_texts
    # the alert is sent at once, right after the result (not at the next tick)
    alert = await admin.expect_message(contains="预警")
    _show("bot (alert)", alert)
    assert "学生X" in alert.text
    # one message all along: no new bot message for the questions
    assert rows(bot_env, "select outcome from risk_signals") == [("safety_check",)]
    assert rows(bot_env, "select result, trigger from safety_checks") == [("crisis", "phrase")]
    assert "intent" not in rows(bot_env, "select answers_enc from safety_checks")[0][0]
    assert rows(bot_env, "select risk from client_grades") == [("crisis",)]
    assert rows(bot_env, "select tier, previous, status from alerts") == [
        ("crisis", "low", "pending")
    ]
    # the map shows the check, its date and answers, and the reasons name it
    await admin.send("/map 学生X")
    m = await admin.expect_message(contains="🗺", skip_others=True)
    assert "安全评估：" in m.text and "有行动的意图" in m.text
    assert (
        "的安全评估：希望自己死去、有自杀的想法" not in m.text
    )  # the deciding items only in the reason
    assert "的安全评估：有行动的意图，至少为危机" in m.text
    assert m.button_texts == [
        "📝 记录",
        "⏰ 计划",
        "📋 筛查",
        "🛟 现在做安全评估",
    ]  # issue 13's row, then 🛟
    # a double tap on the last answer stores nothing more
    assert last_data.startswith("sk:") and last_data.endswith(":yynynn")
    qid = await replay_callback(bot_env.server, admin, prompt, last_data)
    assert "已经用过了" in (await admin.expect_callback_answer(qid)).text
    assert rows(bot_env, "select count(*) from safety_checks") == [(1,)]
    # the tick does not send it again
    assert (await run_once(bot_env.app)).get("sent", 0) == 0
    await bot_env.server.idle(timeout=60, quiet=0.3)
    headline = alert.text.splitlines()[0]
    assert [m.message_id for m in admin.all_sent if m.text.startswith(headline)] == [
        alert.message_id
    ]


async def test_not_a_risk_with_a_reason_is_kept_and_changes_nothing(bot_env):
    admin = await _quiet(bot_env, "en")
    await admin.send("/new Wang")
    await admin.expect_message()
    await admin.send(
        "/log Wang said the exam was so bad he wanted to kill myself lol, quoting a meme"
    )
    await admin.expect_message()
    prompt = await admin.expect_message()
    assert "“kill myself”" in prompt.text and prompt.button_texts == [
        "🛟 Safety check now",
        "📋 PHQ-9 now",
        "Not a risk…",
    ]
    await admin.tap(prompt, "Not a risk…")
    why = await admin.expect_edit(prompt)
    assert "why?" in why.text
    assert why.button_texts == [
        "A joke",
        "Quoting someone",
        "Already handled",
        "🛟 Safety check now",
    ]
    await admin.tap(prompt, "A joke")
    done = await admin.expect_edit(prompt)
    assert "Noted" in done.text and "a joke" in done.text and "unchanged" in done.text
    assert rows(bot_env, "select outcome, reason from risk_signals") == [("dismissed", "joke")]
    assert rows(bot_env, "select risk from client_grades") == [("low",)]
    assert rows(bot_env, "select count(*) from alerts") == [(0,)]


async def test_no_phrase_no_prompt_and_known_non_matches(bot_env):
    admin = await _quiet(bot_env, "zh-hans")
    await admin.send("/new 小王")
    await admin.expect_message()
    await admin.send("/log 小王 聊到考试,笑死我了,说要死磕到底 #学业辅导")
    await admin.expect_message()
    await admin.send("/goal 小王 想去跳伞")
    msg = await admin.expect_message()
    assert "跳伞" in msg.text  # the next message is the goal's reply, not a prompt
    assert rows(bot_env, "select count(*) from risk_signals") == [(0,)]


async def test_a_goal_and_a_plain_note_are_checked_too(bot_env):
    admin = await _quiet(bot_env, "en")
    await admin.send("/new Li")
    await admin.expect_message()
    await admin.send("/goal Li find a reason to live; said everyone is better off without me")
    await admin.expect_message()
    prompt = await admin.expect_message()
    assert "better off without me" in prompt.text
    await admin.send("Li mentioned saving up sleeping pills")
    which = await admin.expect_message()
    await admin.tap(which, which.button_texts[0])
    await admin.expect_edit(which)
    prompt2 = await admin.expect_message()
    assert "“sleeping pills”" in prompt2.text
    await admin.tap(prompt2, "📋 PHQ-9 now")
    q = await admin.expect_edit(prompt2)
    assert "question 1 of 9" in q.text
    assert sorted(rows(bot_env, "select source, outcome from risk_signals")) == [
        ("goal", "open"),
        ("note", "phq9"),
    ]


async def test_item9_offers_a_check_and_a_held_crisis_is_lowered_only_by_review_with_reason(
    bot_env,
):
    admin = await _quiet(bot_env, "en")
    await admin.send("/new Chen")
    await admin.expect_message()
    await admin.send("/phq9 Chen 0 0 0 0 0 0 0 0 1")
    offer = await admin.expect_message()
    assert "Item 9" in offer.text and offer.button_texts == ["🛟 Safety check now"]
    alert = await admin.expect_message(contains="CRISIS")  # item 9 > 0: the alert follows the reply
    assert "Chen" in alert.text
    await admin.tap(offer, "🛟 Safety check now")
    q = await admin.expect_message()
    assert "question 1" in q.text
    for answer in ("No", "No", "No"):  # wish, thoughts, behaviour
        await admin.tap(q, answer)
        q = await admin.expect_edit(q)
    assert "Safety check result" in q.text and "low risk" in q.text and "(not asked)" in q.text
    # a week later item 9 = 0: still crisis, held until a review; the review is asked for
    bot_env.clock.advance(days=7)
    await admin.send("/phq9 Chen 0 0 0 0 0 0 0 0 0")
    saved = await admin.expect_message()
    assert "Still crisis" in saved.text and "review" in saved.text
    assert rows(bot_env, "select risk from client_grades") == [("crisis",)]
    bot_env.clock.advance(days=100)
    await run_once(bot_env.app)
    review = await admin.expect_message(contains="Tier review", skip_others=True)
    assert "no longer support it" in review.text and "Confirm tier" in review.button_texts
    # each reason on a line of its own, the question's line included
    assert "or keep it.\n· " in review.text, review.text
    assert rows(bot_env, "select risk from client_grades") == [("crisis",)]
    await admin.tap(review, "Lower it")
    why = await admin.expect_edit(review)
    assert "why?" in why.text and "Improved and stable" in why.button_texts
    await admin.tap(review, "Safety check shows no current risk")
    done = await admin.expect_edit(review)
    assert "is now high risk" in done.text
    history = rows(
        bot_env, "select old, new, reasons_enc from tier_changes where dimension='risk' order by id"
    )
    assert [(o, n) for o, n, _ in history][-1] == ("crisis", "high")
    await admin.send("/map Chen")
    m = await admin.expect_message(contains="🗺", skip_others=True)
    assert "Risk: 🟠 high" in m.text


async def test_risk_crisis_offers_a_check_on_the_reply_and_the_map_has_the_button(bot_env):
    admin = await _quiet(bot_env, "en")
    await admin.send("/new Zhao")
    await admin.expect_message()
    await admin.send("/status Zhao risk=crisis")
    reply = await admin.expect_message()
    assert "crisis" in reply.text and reply.button_texts == ["🛟 Safety check now"]
    alert = await admin.expect_message(contains="CRISIS")  # the alert follows the reply at once
    assert "Zhao" in alert.text
    await admin.send("/log Zhao talked about exams risk=high")
    plain = await admin.expect_message()
    assert plain.button_texts == []  # only crisis (or item 9) offers it on the reply
    await admin.tap(reply, "🛟 Safety check now")
    q = await admin.expect_message()
    assert "Safety check" in q.text and q.button_texts[:2] == ["Yes", "No"]
    await admin.tap(q, "Cancel")
    assert "nothing was saved" in (await admin.expect_edit(q)).text
    assert rows(bot_env, "select count(*) from safety_checks") == [(0,)]
    await admin.send("/map Zhao")
    m = await admin.expect_message(contains="🗺", skip_others=True)
    assert m.button_texts == [
        "📝 Log",
        "⏰ Plan",
        "📋 Screen",
        "🛟 Safety check now",
    ]  # issue 13's row, then 🛟


@pytest.fixture(autouse=True, scope="module")
def _write_transcript():
    """CAREMAP_TRANSCRIPT=<path> keeps the zh crisis conversation as the bot showed it."""
    yield
    import os
    import pathlib

    target = os.environ.get("CAREMAP_TRANSCRIPT")
    if target and TRANSCRIPT:
        pathlib.Path(target).write_text(
            json.dumps(TRANSCRIPT, ensure_ascii=False, indent=1), encoding="utf-8"
        )


async def test_the_prompt_names_a_recent_phq9_instead_of_offering_another(bot_env):
    """PHQ-9 asks about the last two weeks: minutes after one, the risk-phrase prompt shows
    its result and offers the safety check only; after two weeks it offers PHQ-9 again."""
    admin = await _quiet(bot_env, "zh-hans")
    await admin.send("/new 小陈")
    await admin.expect_message()
    await admin.send("/phq9 小陈 1 1 1 1 1 1 1 0 0")
    assert "已保存 PHQ-9" in (await admin.expect_message()).text
    bot_env.clock.advance(minutes=10)
    await admin.send("/log 小陈 说最近觉得活着没意思")
    await admin.expect_message()
    prompt = await admin.expect_message()
    assert "最近的 PHQ-9：" in prompt.text and "7/27（轻度）" in prompt.text, prompt.text
    assert prompt.button_texts == ["🛟 现在做安全评估", "不是风险…"], prompt.button_texts
    bot_env.clock.advance(days=15)
    await admin.send("/log 小陈 又说活着没意思")
    await admin.expect_message()
    prompt = await admin.expect_message()
    assert "最近的 PHQ-9" not in prompt.text
    assert prompt.button_texts == ["🛟 现在做安全评估", "📋 现在做 PHQ-9", "不是风险…"]
    assert bot_env.server.errors == []


async def test_the_prompt_goes_out_even_if_the_latest_phq9_cannot_be_read(bot_env, monkeypatch):
    from services import crisis

    def broken(*_a, **_k):
        raise RuntimeError("database gone")

    monkeypatch.setattr(crisis, "recent_phq9", broken)
    admin = await _quiet(bot_env, "zh-hans")
    await admin.send("/new 小陈")
    await admin.expect_message()
    await admin.send("/log 小陈 说最近觉得活着没意思")
    await admin.expect_message()
    prompt = await admin.expect_message()
    assert "活着没意思" in prompt.text
    assert prompt.button_texts == ["🛟 现在做安全评估", "📋 现在做 PHQ-9", "不是风险…"]


async def test_a_note_in_the_third_person_is_checked_too(bot_env):
    """Notes are about someone: "she wants to die" was not found ("want to die" matched whole
    words only, in the first person), so no prompt came."""
    admin = await _quiet(bot_env, "en")
    await admin.send("/new Mei")
    await admin.expect_message()
    await admin.send("/log Mei said she wants to die, so tired")
    await admin.expect_message()
    prompt = await admin.expect_message()
    assert "“wants to die”" in prompt.text and "🛟 Safety check now" in prompt.button_texts
