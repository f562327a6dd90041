"""The demo's first-start data: 小李's class of 50 freshmen, 学生A and 学生B in full detail.

Everything goes through the use cases in services/core.py with back-dated `now` values,
exactly as if 小李 had typed the commands over the past weeks; nothing is written with SQL.
The second counsellor joins through the real chat flow (/invite, then /start <code>), which
needs the running bot: see `invite_second_counsellor`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import grammar
from domain.model import Counsellor
from domain.rules import RuleBase
from services import core
from services import reminders as reminders_service
from storage.db import Database

ADMIN_ID = 1001
SECOND_ID = 2002
STRANGER_ID = 3003
ADMIN_NAME = "小李"
SECOND_NAME = "王老师"
STRANGER_NAME = "Alex"
TIMEZONE = "Asia/Shanghai"
CLASS_SIZE = 50

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈"
_GIVEN = (
    "子涵 欣怡 梓萱 思远 浩然 雨桐 宇轩 佳怡 一诺 俊杰 诗涵 子墨 晨曦 嘉怡 文博 若溪 明轩 "
    "心怡 天佑 雅琪 泽宇 紫萱 博文 可馨 皓轩 语嫣 俊熙 婉清 昊天 思琪 志强 丽娜 建华 晓彤 "
    "家豪 梦洁 鹏飞 静怡 凯文 雪婷 嘉伟 晓雯 子豪 慧敏 宏宇 倩倩 少杰 梓涵"
).split()
_MAJORS = ["计算机科学与技术", "软件工程", "市场营销", "会计学", "汉语言文学", "数学与应用数学", "英语"]
_ROUTINE = [
    ("班会上发言积极, 适应得不错", "group"),
    ("新生入学谈话: 对专业有兴趣, 暂无困难", "face"),
    ("宿舍走访: 作息规律, 和室友关系融洽", "dorm"),
    ("军训后谈心: 有点想家, 已经在慢慢适应", "face"),
]


@dataclass(frozen=True)
class Seeded:
    admin: Counsellor
    student_a: int  # client numbers
    student_b: int
    clients: int


def class_names(n: int = CLASS_SIZE - 2, seed: int = 2026) -> list[str]:
    """Plausible, distinct Chinese names (deterministic)."""
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < n:
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        if name not in names:
            names.append(name)
    return names


def seed_class(db: Database, now: datetime, rules: RuleBase | None = None) -> Seeded:
    """Create the admin 小李 and the class, back-dated from `now` (the demo clock)."""
    semester = now - timedelta(days=80)
    admin = core.ensure_admin(db, ADMIN_ID, ADMIN_NAME, semester, TIMEZONE)
    rng = random.Random(7)
    numbers: dict[str, int] = {}

    def new(args: str, at: datetime) -> int:
        result = core.add_client(db, admin, grammar.parse_new(args), at, None, rules=rules)
        assert isinstance(result, core.ClientAdded)
        return result.client.number

    def log(number: int, args: str, at: datetime) -> None:
        result = core.log_conversation(db, admin, f"{number} {args}", at, None, rules=rules)
        assert isinstance(result, core.Logged), result

    names = class_names()
    at = semester
    for i, name in enumerate(names[:24]):
        at = semester + timedelta(minutes=3 * i)
        numbers[name] = new(_new_args(name, i, rng), at)
    at += timedelta(minutes=3)
    a = new("学生A #竞赛达人 sid=20260125 major=计算机科学与技术 grade=2026", at)
    at += timedelta(minutes=3)
    b = new("学生B #贫困生 #挂科 sid=20260126 major=市场营销 grade=2026", at)
    for i, name in enumerate(names[24:], start=24):
        at = semester + timedelta(minutes=3 * (i + 2))
        numbers[name] = new(_new_args(name, i, rng), at)

    # Everyone else: one routine contact 3 to 8 weeks ago, so nobody is overdue today under
    # the low-risk standard (every 60 days) and a few fall due each week of time travel.
    for i, name in enumerate(names):
        notes, via = _ROUTINE[i % len(_ROUTINE)]
        days_ago = 21 + (i * 17) % 36
        log(numbers[name], f"{notes} via={via} trust={rng.choice((3, 4))}",
            now - timedelta(days=days_ago, hours=rng.randint(0, 6)))

    # 学生A: introverted CS freshman, two deep talks, the ACM team.
    log(a, "第一次深谈: 性格内向, 很少和室友交流, 但说起算法眼睛都亮了; 想参加 ACM 但不敢报名 "
        "#竞赛指导 #?被认可 #?社交支持 via=face trust=4 sat=4 risk=low", now - timedelta(days=40, hours=3))
    log(a, "第二次深谈: 已通过选拔进入学院 ACM 集训队, 和队友一起刷题, 比以前开朗多了; "
        "问了保研需要做哪些准备 #保研规划 via=face trust=5 sat=5", now - timedelta(days=12, hours=5))
    core.add_goal(db, admin, f"{a} 保研: 计算机方向, 大二开始进实验室做项目", now - timedelta(days=12), None)
    core.add_plan(db, admin, f"{a} 30d 了解 ACM 集训队的进展, 问问和队友的相处", now - timedelta(days=2), None)

    # 学生B: marketing, single-parent low-income family, failing courses, part-time work.
    log(b, "课堂观察: 连续三周缺课, 任课老师反映作业没交 via=class risk=medium", now - timedelta(days=35))
    log(b, "第一次面谈: 单亲家庭, 妈妈打零工; 她晚上和周末在奶茶店打工, 期中 3 门挂科; 话很少, "
        "说不想让家里操心 #学业辅导 #勤工助学 #?被认可 via=face trust=2 sat=2 risk=high",
        now - timedelta(days=28))
    log(b, "电话跟进: 补交了两次作业, 还在打工, 说晚上太累 via=phone", now - timedelta(days=20))
    log(b, "宿舍走访: 室友说她常常很晚回来, 最近情绪低落 #?情绪支持 via=dorm", now - timedelta(days=13))
    log(b, "面谈: 介绍了图书馆勤工助学岗位, 愿意试试; 约好每周一次学业辅导 "
        "via=face trust=2 sat=3 risk=high next=1w", now - timedelta(days=6, hours=2))
    core.add_goal(db, admin, f"{b} 本学期补考全部通过, 打工时间减到每周 10 小时以内", now - timedelta(days=6), None)

    _settle_history(db, admin, now, rules)
    return Seeded(admin=admin, student_a=a, student_b=b, clients=len(names) + 2)


def _settle_history(db: Database, admin: Counsellor, now: datetime, rules: RuleBase | None) -> None:
    """What 小李 did back then: acknowledged the alerts the seeded history raised, and
    confirmed 学生B's tier at the last talk. Only what is due from today on shows up."""
    with db.uow(write=False) as uow:
        repo = uow.clients_of(admin.id)
        alerts = [a for c in repo.list() for a in repo.alerts(c.id) if a.acknowledged_at is None]
        reviewed = [c.id for c, g in repo.list_graded() if g is not None and g.review_due_at is not None
                    and g.review_due_at <= now]
    for alert in alerts:
        reminders_service.acknowledge_alert(db, admin, alert.id, alert.raised_at + timedelta(minutes=20))
    for client_id in reviewed:
        reminders_service.confirm_review(db, admin, client_id, now - timedelta(days=6), rules)


def _new_args(name: str, i: int, rng: random.Random) -> str:
    major = _MAJORS[i % len(_MAJORS)]
    parts = [name]
    if i in (0, 9):
        parts.append("#班干部")
    if i == 17:
        parts.append("#留学生")
    parts += [f"sid=2026{i + 101:04d}", f"major={major}", "grade=2026"]
    return " ".join(parts)


_START_CODE = re.compile(r"/start\s+(\S+)")


def invite_code_from(text: str) -> str:
    """The code in the bot's /invite reply (`Or they can send me: /start <code>`)."""
    match = _START_CODE.search(text)
    if match is None:
        raise LookupError(f"no invite code in the /invite reply: {text!r}")
    return match.group(1)
