"""The demo's first-start data: 小李's class of 50 freshmen, 学生A and 学生B in full detail.

Everything goes through the use cases (services.clients, logs, records, referrals) with
back-dated `now` values, exactly as if 小李 had typed the commands over the past weeks; nothing is written with SQL.
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
from domain.resources import Catalogue
from domain.rules import RuleBase
from services import invites, logs, records, referrals
from services import reminders as reminders_service
from services.clients import ClientAdded, add_client
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
_MAJORS = [
    "计算机科学与技术",
    "软件工程",
    "市场营销",
    "会计学",
    "汉语言文学",
    "数学与应用数学",
    "英语",
]
_ROUTINE = [
    ("班会上发言积极，适应得不错", "group"),
    ("新生入学谈话：对专业有兴趣，暂无困难", "face"),
    ("宿舍走访：作息规律，和室友关系融洽", "dorm"),
    ("军训后谈心：有点想家，已经在慢慢适应", "face"),
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


def seed_class(db: Database, now: datetime, rules: RuleBase, cat: Catalogue) -> Seeded:
    """Create the admin 小李 and the class, back-dated from `now` (the demo clock)."""
    semester = now - timedelta(days=80)
    admin = invites.ensure_admin(db, ADMIN_ID, ADMIN_NAME, semester, TIMEZONE)
    rng = random.Random(7)
    numbers: dict[str, int] = {}

    def new(args: str, at: datetime) -> int:
        result = add_client(db, admin, grammar.parse_new(args), at, None, rules=rules)
        assert isinstance(result, ClientAdded)
        return result.client.number

    def log(number: int, args: str, at: datetime) -> None:
        result = logs.log_conversation(db, admin, f"{number} {args}", at, None, rules=rules)
        assert isinstance(result, logs.Logged), result

    names = class_names()
    at = semester
    for i, name in enumerate(names[:24]):
        at = semester + timedelta(minutes=3 * i)
        numbers[name] = new(_new_args(name, i, rng), at)
    at += timedelta(minutes=3)
    # 学生A: 男, 计算机专业, 入学成绩优异, 性格内向, 很少参加集体活动 (the seed's case 1)
    a = new("学生A #+入学成绩优异 #+技术兴趣浓 sid=20260125 major=计算机科学与技术 grade=2026", at)
    at += timedelta(minutes=3)
    # 学生B: 女, 市场营销, 单亲家庭, 建档立卡贫困户, 期中多门挂科, 最近经常缺课 (case 2)
    b = new("学生B #贫困生 #挂科 #单亲家庭 sid=20260126 major=市场营销 grade=2026", at)
    for i, name in enumerate(names[24:], start=24):
        at = semester + timedelta(minutes=3 * (i + 2))
        numbers[name] = new(_new_args(name, i, rng), at)

    # Everyone else: one routine contact 3 to 8 weeks ago, so nobody is overdue today under
    # the low-risk standard (every 60 days) and a few fall due each week of time travel.
    for i, name in enumerate(names):
        notes, via = _ROUTINE[i % len(_ROUTINE)]
        days_ago = 21 + (i * 17) % 36
        log(
            numbers[name],
            f"{notes} via={via} trust={rng.choice((3, 4))}",
            now - timedelta(days=days_ago, hours=rng.randint(0, 6)),
        )

    def refer(number: int, resource: str, at: datetime, status: str | None = None) -> None:
        done = referrals.refer(db, admin, f"{number} {resource}", at, None, rules=rules, cat=cat)
        assert isinstance(done, referrals.Referred), done
        if status is not None:
            referrals.set_status(
                db, admin, done.referral.id, status, at + timedelta(days=3), cat=cat
            )

    # 学生A, exactly as the seed tells it: two deep talks (he trusts 小李 and shares what
    # puzzles him), the ACM team and a senior study partner, a study plan with a review every
    # two weeks, a check on the team in a month, and a goal for the end of term.
    log(
        a,
        "第一次谈话：渴望在技术领域有所建树，但对大学的学习方式感到迷茫，不知如何规划；性格内向，"
        "很少参加集体活动 #技术成长 #学习方式迷茫 #?团队协作经验 via=face trust=4 sat=4 risk=low "
        "outcome=reached",
        now - timedelta(days=12, hours=3),
    )
    refer(a, "ACM竞赛队", now - timedelta(days=12, hours=2), "a")
    refer(a, "高年级学习伙伴", now - timedelta(days=12, hours=2), "a")
    records.add_plan(
        db,
        admin,
        f"{a} 30d 一个月了：跟进他在竞赛队的适应情况",
        now - timedelta(days=12, hours=2),
        None,
        rules,
    )
    refer(a, "学习计划", now - timedelta(days=3, hours=2), "a")
    log(
        a,
        "第二次深谈：愿意分享真实困惑；一起制定了大一学期的学习计划，约定每两周进度复盘 "
        "#+愿意分享 via=face trust=5 sat=5 outcome=reached",
        now - timedelta(days=3, hours=5),
    )
    records.add_plan(
        db,
        admin,
        f"{a} 每两周 进度复盘：学习计划 直到 2027-01-20",
        now - timedelta(days=3, hours=4),
        None,
        rules,
    )
    records.add_goal(
        db,
        admin,
        f"{a} 学期末鼓励他尝试担任小组项目组长，锻炼领导力",
        now - timedelta(days=3),
        None,
        rules,
    )

    # 学生B, exactly as the seed tells it: one talk about the failed courses went badly (she
    # was upset); the dorm visit and her roommates showed why (part-time work for money, and
    # shame that keeps her from asking for help); 小李 started the academic-warning process,
    # applied for one-to-one tutoring and the library work-study post, suggested the free
    # counselling service; trust is low, risk high; a sincere, non-judgemental talk this
    # week, then a weekly follow-up until she is back on track.
    log(
        b,
        "因挂科来找我：沟通不畅，她情绪激动，很快就走了 #学业帮扶 via=face trust=1 sat=1 risk=high "
        "outcome=reached",
        now - timedelta(days=9),
    )
    log(
        b,
        "宿舍走访，和室友沟通：家庭经济压力大，她需要大量时间做兼职，精力不足；感到自卑，不敢向老师和"
        "同学求助 #勤工助学 #?自卑不敢求助 #?被认可 via=dorm",
        now - timedelta(days=7),
    )
    refer(b, "学业辅导", now - timedelta(days=6))
    refer(b, "勤工助学", now - timedelta(days=6), "a")
    refer(b, "心理咨询中心", now - timedelta(days=6))
    records.add_plan(
        db,
        admin,
        f"{b} 3d 真诚的、非评判性的谈话：重点是倾听和共情，而非说教",
        now - timedelta(hours=2),
        None,
        rules,
    )
    records.add_plan(
        db,
        admin,
        f"{b} 每周 跟进学业和打工情况，直到她重回正轨",
        now - timedelta(hours=2),
        None,
        rules,
    )
    records.add_goal(
        db,
        admin,
        f"{b} 重回正轨：补考通过，兼职改为图书馆勤工助学",
        now - timedelta(days=6),
        None,
        rules,
    )

    _settle_history(db, admin, now, rules)
    return Seeded(admin=admin, student_a=a, student_b=b, clients=len(names) + 2)


def _settle_history(db: Database, admin: Counsellor, now: datetime, rules: RuleBase) -> None:
    """What 小李 did back then: acknowledged the alerts the seeded history raised, and
    confirmed 学生B's tier at the last talk. Only what is due from today on shows up."""
    with db.uow(write=False) as uow:
        repo = uow.clients_of(admin.id)
        clinical = uow.clinical_of(admin.id)
        alerts = [
            a for c in repo.list() for a in clinical.alerts(c.id) if a.acknowledged_at is None
        ]
        reviewed = [
            c.id
            for c, g in clinical.list_graded()
            if g is not None and g.review_due_at is not None and g.review_due_at <= now
        ]
    for alert in alerts:
        reminders_service.acknowledge_alert(
            db, admin, alert.id, alert.raised_at + timedelta(minutes=20)
        )
    for client_id in reviewed:
        reminders_service.confirm_review(db, admin, client_id, now - timedelta(days=6), rules)


def _new_args(name: str, i: int, rng: random.Random) -> str:
    major = _MAJORS[i % len(_MAJORS)]
    parts = [name]
    if i in (0, 9):
        parts.append("#班干部")
    if i == 17:
        parts.append("#留学生")
    parts += [f"sid=2026{i + 201:04d}", f"major={major}", "grade=2026"]
    return " ".join(parts)


_START_CODE = re.compile(r"/start\s+(\S+)")


def invite_code_from(text: str) -> str:
    """The code in the bot's /invite reply (`Or they can send me: /start <code>`)."""
    match = _START_CODE.search(text)
    if match is None:
        raise LookupError(f"no invite code in the /invite reply: {text!r}")
    return match.group(1)
