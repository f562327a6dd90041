"""`/map wf` at 1,000 clients: name lookup (within the counsellor's own caseload, in
memory) plus the six-dimension map, through the same service call the handler makes, on a
real SQLite file. Reports wall-clock p50/p95/max and this thread's CPU time (which a
busy shared machine does not inflate) in milliseconds. Not a test: run it by hand.

    .venv/bin/python benchmarks/bench_lookup.py [--clients 1000] [--runs 200] [--refs wf,王芳,wangfang,2025001]

The caseload also holds two other counsellors' 1,000 clients each (tenant isolation: they
must not slow the lookup down or show up in it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = (
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕鹏辉林建国宇浩然欣怡子涵梓轩雨"
)
TAGS = ("贫困生", "班干部", "留学生", "竞赛达人", "挂科", "失联", "自伤史", "家庭变故")
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def seed(db, n: int, telegram_id: int, rnd: random.Random):  # noqa: ANN001, ANN201
    from domain.screening import score

    with db.uow() as uow:
        counsellor = uow.counsellors.add(telegram_id, f"C{telegram_id}", False, NOW)
        repo = uow.clients_of(counsellor.id)
        records = uow.records_of(counsellor.id)
        clinical = uow.clinical_of(counsellor.id)
        for i in range(n):
            name = (
                "王芳"
                if i == n // 2
                else rnd.choice(SURNAMES)
                + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))
            )
            if name == "王芳" and i != n // 2:
                name = "王芳芳"
            c = repo.add(
                name,
                rnd.sample(TAGS, rnd.choice((0, 1, 2))),
                f"2025{i:04d}",
                "市场营销",
                "2025",
                NOW,
            )
            if i == n // 2:
                for k in range(12):
                    records.add_interaction(
                        c.id,
                        NOW - timedelta(days=k * 7),
                        "face",
                        f"第{k}次谈话, 挂科 3 门, 周末打工",
                        NOW,
                    )
                records.add_need(c.id, "学业辅导", True, "face", NOW)
                records.add_plan(c.id, "short", "看看辅导计划的进展", NOW + timedelta(days=7), NOW)
                clinical.add_screening(c.id, score("phq9", [2, 2, 1, 1, 0, 0, 1, 0, 0]), NOW)
                repo.set_status(c.id, by_counsellor_id=counsellor.id, now=NOW, trust=2, risk="high")
    return counsellor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--refs", default="wf,王芳,wangfang")
    args = parser.parse_args()

    from bootstrap.database import open_database
    from bootstrap.settings import Settings
    from services import clients
    from services.clients import MapView
    from storage import Cipher

    rnd = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'caremap.db'}"
        db = open_database(
            Settings(token="1:x", database_url=url, secret_key=Cipher.generate_key())
        )
        try:
            t0 = time.perf_counter()
            actor = seed(db, args.clients, 1001, rnd)
            for other in (2002, 3003):
                seed(db, args.clients, other, rnd)
            print(f"seeded 3 × {args.clients} clients in {time.perf_counter() - t0:.1f} s")
            for ref in args.refs.split(","):
                timings, cpu = [], []
                for _ in range(args.runs):
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    view = clients.relationship_map(db, actor, ref, NOW)
                    cpu.append((time.thread_time() - start_cpu) * 1000)
                    timings.append((time.perf_counter() - start) * 1000)
                    assert isinstance(view, MapView) and view.map.client.name == "王芳", view
                timings.sort()
                cpu.sort()
                p95 = timings[int(len(timings) * 0.95) - 1]
                print(
                    f"/map {ref:<10} at {args.clients} clients: wall p50 {statistics.median(timings):6.1f} ms  "
                    f"p95 {p95:6.1f} ms  max {timings[-1]:6.1f} ms | CPU p50 {statistics.median(cpu):5.1f} ms  "
                    f"p95 {cpu[int(len(cpu) * 0.95) - 1]:5.1f} ms  ({args.runs} runs)"
                )
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
