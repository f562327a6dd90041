"""Grade 100,000 synthetic clients in memory and report clients/second.

Side by side in the same run: a naive baseline that re-reads and re-validates the rule file
for every client (what a caller gets by calling load_rules(path) inside its loop), measured on
a sample and reported per client. Not a test: run it by hand.

    /work/venv/bin/python benchmarks/bench_tiering.py [--clients 100000] [--naive 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from domain.model import Risk
from domain.rules import DEFAULT_RULES_PATH, load_rules, parse_rules
from domain.screening import score
from domain.tiering import ClientFacts, NeedFact, grade, grade_many

NOW = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
TAGS = ("失联", "挂科", "经济困难", "家庭变故", "自伤史", "班干部", "留学生", "孤立")
NEEDS = (
    "挂科两门",
    "想申请助学金",
    "最近失眠",
    "暑假找实习",
    "和室友有矛盾",
    "想出国交换",
    "心里空空的",
)


def synthetic(n: int, seed: int = 42) -> list[ClientFacts]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        k = rnd.choice((0, 1, 2, 3, 5, 8, 12))
        interactions = tuple(NOW - timedelta(days=rnd.uniform(0, 200)) for _ in range(k))
        phq = gad = None
        prev = None
        if rnd.random() < 0.5:
            answers = [min(3, max(0, int(rnd.gauss(0.8, 0.9)))) for _ in range(9)]
            phq = score("phq9", answers, at=NOW - timedelta(days=rnd.uniform(0, 120)))
            prev = rnd.randint(0, 27) if rnd.random() < 0.3 else None
        if rnd.random() < 0.4:
            answers = [min(3, max(0, int(rnd.gauss(0.8, 0.9)))) for _ in range(7)]
            gad = score("gad7", answers, at=NOW - timedelta(days=rnd.uniform(0, 120)))
        out.append(
            ClientFacts(
                client_id=i,
                counsellor_risk=rnd.choices(list(Risk), weights=(70, 20, 8, 2))[0],
                risk_tags=tuple(rnd.sample(TAGS, rnd.choice((0, 0, 1, 2)))),
                needs=tuple(
                    NeedFact(t, rnd.random() < 0.7)
                    for t in rnd.sample(NEEDS, rnd.choice((0, 1, 2)))
                ),
                interactions=interactions,
                phq9=phq,
                gad7=gad,
                previous_phq9_total=prev,
                created_at=NOW - timedelta(days=rnd.uniform(0, 400)),
                tier_set_at=NOW - timedelta(days=rnd.uniform(0, 100)),
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--naive", type=int, default=2_000, help="clients graded by the naive baseline")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    clients = synthetic(args.clients)
    print(
        f"built {len(clients):,} synthetic clients in {time.perf_counter() - t0:.2f} s (not timed below)"
    )
    rules = load_rules(None)

    runs = []
    graded: list = []
    for _ in range(args.repeat):
        graded = []  # drop the previous run's results first
        t = time.perf_counter()
        graded = grade_many(clients, rules, NOW)
        runs.append(time.perf_counter() - t)
    best = min(runs)
    print(
        f"grade_many: {len(clients):,} clients in {best:.3f} s (best of {args.repeat}; median "
        f"{statistics.median(runs):.3f} s; runs {', '.join(f'{r:.3f}' for r in runs)}) "
        f"→ {len(clients) / best:,.0f} clients/s"
    )

    kept = graded
    graded = []
    t = time.perf_counter()
    graded = [grade(f, rules, NOW) for f in clients]
    loop = time.perf_counter() - t
    assert kept == graded
    print(
        f"[grade(f) for f in clients] (same results, garbage collector on): {loop:.3f} s → "
        f"{len(clients) / loop:,.0f} clients/s"
    )

    sample = clients[: args.naive]
    text_path = DEFAULT_RULES_PATH
    t = time.perf_counter()
    for f in sample:
        grade(f, parse_rules(text_path.read_text(encoding="utf-8")), NOW)
    naive = time.perf_counter() - t
    naive_rate = len(sample) / naive
    print(
        f"naive (read + parse + validate the rule file per client): {len(sample):,} clients in "
        f"{naive:.3f} s → {naive_rate:,.0f} clients/s"
    )
    print(f"speed-up grade_many vs naive: {len(clients) / best / naive_rate:,.0f}×")

    dist = Counter(g.risk.value for g in graded)
    freq = Counter(g.frequency for g in graded)
    print("risk tiers:", dict(sorted(dist.items())), "frequency tiers:", dict(sorted(freq.items())))


if __name__ == "__main__":
    main()
