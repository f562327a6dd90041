"""Vocabulary: interaction channels (how a conversation happened / where a need was learned).

A need's *source* is the channel of the interaction it was learned in (via=dorm → "dorm").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    """One word of a vocabulary: its code, its labels and the words that mean it."""

    code: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


#: an interaction channel (面谈, 电话 …)
Channel = Term
#: the outcome of a contact (联系上, 未联系上 …)
Outcome = Term


_CHANNEL_LIST: tuple[Channel, ...] = (
    Channel(
        "face",
        "面谈",
        "face to face",
        (
            "面谈",
            "当面",
            "面对面",
            "谈心",
            "谈话",
            "一对一",
            "线下",
            "f2f",
            "in-person",
            "inperson",
            "in person",
            "1on1",
            "1-on-1",
            "meeting",
            "meet",
            "talk",
            "offline",
        ),
    ),
    Channel(
        "phone",
        "电话",
        "phone",
        ("电话", "打电话", "通话", "call", "tel", "telephone", "phonecall", "phone-call"),
    ),
    Channel(
        "chat",
        "线上聊天",
        "online chat",
        (
            "线上",
            "微信",
            "qq",
            "wechat",
            "wx",
            "online",
            "message",
            "msg",
            "消息",
            "聊天",
            "短信",
            "sms",
            "text",
            "im",
            "线上聊天",
        ),
    ),
    Channel(
        "dorm",
        "宿舍走访",
        "dorm visit",
        ("宿舍", "宿舍走访", "走访", "dorm-visit", "dormvisit", "dorm visit", "dormitory"),
    ),
    Channel("email", "邮件", "email", ("邮件", "电子邮件", "邮箱", "mail", "e-mail")),
    Channel(
        "class",
        "课堂观察",
        "class observation",
        ("课堂", "观察", "课堂观察", "observation", "observe", "classroom", "lecture"),
    ),
    Channel("parent", "家长", "parent", ("家长", "家人", "家庭", "parents", "family")),
    Channel(
        "teacher",
        "任课老师",
        "teacher",
        ("老师", "任课老师", "教师", "导师", "teachers", "professor", "prof", "tutor"),
    ),
    Channel(
        "group",
        "团体活动",
        "group session",
        ("团体", "班会", "团辅", "团体辅导", "团体活动", "集体", "group-session", "groups"),
    ),
    Channel("survey", "问卷", "survey", ("问卷", "问卷调查", "调查", "questionnaire", "form")),
    Channel("other", "其他", "other", ("其他", "其它", "misc")),
)

CHANNELS: dict[str, Channel] = {c.code: c for c in _CHANNEL_LIST}
CHANNEL_CODES: tuple[str, ...] = tuple(CHANNELS)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().replace("_", "-").split())


def _alias_index(terms: tuple[Term, ...], *, dashed: bool = False) -> dict[str, str]:
    """Every spelling of every term (normalised; without spaces; with dashes) → its code."""
    index: dict[str, str] = {}
    for term in terms:
        for alias in (term.code, term.zh, term.en, *term.aliases):
            key = _norm(alias)
            index.setdefault(key, term.code)
            index.setdefault(key.replace(" ", ""), term.code)
            if dashed:
                index.setdefault(key.replace(" ", "-"), term.code)
    return index


def _lookup(index: dict[str, str], text: str) -> str | None:
    key = _norm(text)
    return index.get(key) or index.get(key.replace(" ", ""))


_ALIASES = _alias_index(_CHANNEL_LIST, dashed=True)


def parse_channel(text: str) -> str | None:
    """`face`, `面谈`, `WeChat`, `dorm-visit` … → the channel code; None if unknown."""
    return _lookup(_ALIASES, text)


def channel_label(code: str | None, lang: str) -> str:
    """The human label of a channel code in `lang` ("zh…" → Chinese, else English).

    Unknown codes come back unchanged; None gives "".
    """
    if code is None:
        return ""
    ch = CHANNELS.get(code)
    return ch.label(lang) if ch else code


def need_source(channel: str | None) -> str | None:
    """Where a need was learned: the channel code of the interaction that revealed it."""
    return channel if channel in CHANNELS else None


def source_label(source: str | None, lang: str) -> str:
    return channel_label(source, lang)


# --- the outcome of a contact (沟通反馈和结果): `/log … outcome=…` -------------------------


_OUTCOME_LIST: tuple[Outcome, ...] = (
    Outcome(
        "reached",
        "联系上",
        "reached",
        (
            "联系上",
            "已联系上",
            "联系上了",
            "已联系",
            "见到",
            "见到了",
            "谈了",
            "已沟通",
            "沟通了",
            "成功",
            "接通",
            "回复了",
            "ok",
            "yes",
            "done",
            "talked",
            "met",
            "success",
        ),
    ),
    Outcome(
        "unreached",
        "未联系上",
        "not reached",
        (
            "未联系上",
            "没联系上",
            "联系不上",
            "没联系到",
            "未联系到",
            "未接",
            "没接",
            "未接通",
            "没接通",
            "无人接听",
            "不回",
            "没回",
            "未回复",
            "不在",
            "爽约",
            "失约",
            "没来",
            "not reached",
            "not-reached",
            "notreached",
            "unreachable",
            "no answer",
            "no-answer",
            "noanswer",
            "no reply",
            "no-show",
            "noshow",
            "missed",
            "failed",
            "fail",
        ),
    ),
    Outcome(
        "refused",
        "拒绝沟通",
        "refused",
        (
            "拒绝",
            "拒绝沟通",
            "不愿沟通",
            "不愿意谈",
            "拒谈",
            "拒接",
            "refuse",
            "refused",
            "declined",
            "decline",
        ),
    ),
    Outcome(
        "referred",
        "已转介",
        "referred",
        ("已转介", "转介", "转介了", "转诊", "已转诊", "refer", "referral", "referred"),
    ),
    Outcome(
        "rescheduled",
        "改约",
        "rescheduled",
        ("改约", "改期", "另约", "再约", "reschedule", "rescheduled", "postponed"),
    ),
)

OUTCOMES: dict[str, Outcome] = {o.code: o for o in _OUTCOME_LIST}
_OUTCOME_ALIASES = _alias_index(_OUTCOME_LIST)


def parse_outcome(text: str) -> str | None:
    """`reached`, `未联系上`, `not reached`, `已转介` … → the outcome code; None if unknown."""
    return _lookup(_OUTCOME_ALIASES, text)


def outcome_label(code: str | None, lang: str) -> str:
    if code is None:
        return ""
    o = OUTCOMES.get(code)
    return o.label(lang) if o else code


def unreached_streak(outcomes_latest_first: list[str | None]) -> int:
    """How many of the latest contacts in a row were logged as not reached (a refusal or a
    conversation ends the streak): the data behind "失联 after N failed attempts"."""
    n = 0
    for o in outcomes_latest_first:
        if o != "unreached":
            break
        n += 1
    return n


def is_strength(tag: str) -> bool:
    """A `#+编程强` tag: a strength or opportunity (潜力), shown on the map, never graded."""
    return tag.startswith(("+", "＋"))
