"""Scale benchmark (issue 12): re-grade and tick cost at 300, 5,000 and 100,000 clients.

Seeds through the project's storage layer (`ClientRepo.add` for the clients, one
executemany per table for their records: `storage.seeding`), then measures, per scale and
backend, wall time and SQL statements (a `before_cursor_execute` counter) of:

- a full re-grade (`services.grading.regrade_everyone`) right after seeding (every client
  graded for the first time) and again a day later (the nightly case);
- while the re-grade runs, a tiny write transaction every 50 ms (what a /log needs): the
  longest it waited for the write lock;
- the first tick's planning after seeding (`reminders.planner.plan_due_work`) and a tick
  with nothing (new) due;
- resident memory after the scale (current and peak);
- per request, for the first counsellor (server side: the use case and the rendering of
  its reply, no Telegram): `/log`, `/map`, `/new`, `/clients` (the first page), `/today`,
  `/find` (a word in every client's latest notes: 5,000 clients × 10 = 50,000 notes at
  1×5,000), `/export` (the Excel workbook, streamed onto a file): p50/p95 ms and SQL
  statements per request (the export's peak memory: `bench_export.py`).

Not a test: run it by hand.

    .venv/bin/python benchmarks/bench_scale.py                 # 1×300 and 1×5,000, SQLite
    .venv/bin/python benchmarks/bench_scale.py --full          # + 200×500 = 100,000
    CAREMAP_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/bench_scale.py --backend sqlite,postgresql
    .venv/bin/python benchmarks/bench_scale.py --scales 5000 --requests-only   # requests only
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from reminders.planner import plan_due_work  # noqa: E402
from services.grading import default_rules, regrade_everyone  # noqa: E402
from storage import Cipher, Database, normalize_database_url  # noqa: E402
from storage.seeding import SeedClient, seed_clients  # noqa: E402

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai: the agenda is due
RULES = default_rules()
TAGS = ("失联", "挂科", "经济困难", "家庭变故", "班干部", "留学生", "孤立", "+编程强")
NEEDS = ("挂科两门", "想申请助学金", "最近失眠", "暑假找实习", "和室友有矛盾")
CHANNELS = ("面谈", "电话", "微信")
NOTES = (
    "谈了近况，约了下次",
    "期末复习压力大，睡得少",
    "和室友有矛盾，想换宿舍",
    "在考虑转专业",
    "家里经济紧张，在打工",
)
SCALES = {"300": (1, 300), "5000": (1, 5000), "100000": (200, 500)}
PG_ENV = "CAREMAP_TEST_POSTGRES_URL"
REQUESTS = True  # also the per-request figures (`requests`)
REQUESTS_ONLY = False
SKIP: set[str] = set()  # requests left out (--skip export)


class Counter:
    def __init__(self, db: Database) -> None:
        self.n = 0
        event.listen(db.engine, "before_cursor_execute", self._hit)

    def _hit(self, *_args) -> None:
        if threading.current_thread() is threading.main_thread():  # not the WriteProbe's
            self.n += 1


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def synthetic(n: int, rnd: random.Random, interactions: int, first: int = 0) -> list[SeedClient]:
    out = []
    for i in range(first, first + n):
        contacts = []
        for _ in range(interactions):
            at = NOW - timedelta(days=rnd.uniform(1, 200), minutes=rnd.randint(0, 600))
            outcome = "unreached" if rnd.random() < 0.1 else None
            contacts.append((at, rnd.choice(CHANNELS), rnd.choice(NOTES), outcome))
        screenings = []
        if rnd.random() < 0.2:
            screenings.append(
                (
                    "phq9",
                    [min(3, max(0, int(rnd.gauss(0.8, 0.9)))) for _ in range(9)],
                    NOW - timedelta(days=rnd.uniform(1, 120)),
                )
            )
        if rnd.random() < 0.1:
            screenings.append(
                (
                    "gad7",
                    [min(3, max(0, int(rnd.gauss(0.8, 0.9)))) for _ in range(7)],
                    NOW - timedelta(days=rnd.uniform(1, 120)),
                )
            )
        out.append(
            SeedClient(
                name=f"学生{i}",
                tags=rnd.sample(TAGS, rnd.choice((0, 0, 1, 2))),
                interactions=contacts,
                needs=[(rnd.choice(NEEDS), rnd.random() < 0.7)] if rnd.random() < 0.2 else [],
                screenings=screenings,
                plans=[("回访", NOW - timedelta(hours=rnd.uniform(1, 72)))]
                if rnd.random() < 0.05
                else [],
            )
        )
    return out


@contextmanager
def database(backend: str):
    cipher = Cipher(Cipher.generate_key())
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="caremap-bench-") as tmp:
            db = Database(f"sqlite:///{tmp}/bench.db", cipher)
            try:
                yield db
            finally:
                db.dispose()
        return
    base = normalize_database_url(os.environ[PG_ENV])
    schema = f"caremap_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    db = Database(url.render_as_string(hide_password=False), cipher)
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def seed(db: Database, counsellors: int, per: int, interactions: int) -> None:
    rnd = random.Random(12)
    with db.uow(write=True) as uow:
        ids = [
            uow.counsellors.add(1000 + k, f"C{k}", k == 0, NOW - timedelta(days=400)).id
            for k in range(counsellors)
        ]
    for cid in ids:
        for start in range(0, per, 500):
            batch = synthetic(min(500, per - start), rnd, interactions, first=start)  # unique names
            with db.uow(write=True) as uow:
                seed_clients(uow, cid, batch, NOW - timedelta(days=300))


class WriteProbe:
    """A tiny write transaction every 50 ms (what a /log needs first): the longest wait."""

    def __init__(self, db: Database) -> None:
        self.db, self.worst, self.n, self.failed = db, 0.0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        update_id = 10_000_000
        while not self._stop.is_set():
            update_id += 1
            t = time.perf_counter()
            try:
                with self.db.uow(write=True) as uow:
                    uow.updates.claim(update_id, NOW)
            except Exception:  # noqa: BLE001 - "database is locked" after busy_timeout (30 s)
                self.failed += 1
            self.worst = max(self.worst, time.perf_counter() - t)
            self.n += 1
            self._stop.wait(0.05)

    def __enter__(self) -> WriteProbe:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(counter: Counter, fn, *args):
    before = counter.n
    t = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t, counter.n - before, result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def requests(db: Database, counter: Counter, now: datetime) -> dict[str, str]:
    """Server-side cost of the counsellor-facing requests for the first counsellor (what the
    handler runs in its worker threads, plus the rendering of the reply; no Telegram):
    p50/p95 in ms and SQL statements per request."""
    from bot.export_xlsx import write_workbook
    from domain import grammar
    from rendering.agenda import agenda_message
    from rendering.render import default_renderer
    from services import caseload as caseload_svc
    from services import clients as client_svc
    from services import reminders as rem
    from services.export_data import caseload_batches
    from services.grading import default_rules
    from services.invites import find_counsellor
    from services.logs import log_conversation

    renderer, rules, lang, tz = default_renderer(), default_rules(), "zh", "Asia/Shanghai"
    actor = find_counsellor(db, 1000)
    uid = iter(range(20_000_000, 30_000_000))
    n_clients = len(client_svc.caseload(db, actor, now))

    def log() -> None:
        n = next(uid)
        log_conversation(
            db, actor, f"学生{n % n_clients} 聊了期末安排 via=微信 trust=4", now, n, rules=rules
        )

    def map_() -> None:
        client_svc.relationship_map(db, actor, f"#{next(uid) % n_clients + 1}", now)

    def new() -> None:
        n = next(uid)
        client_svc.add_client(db, actor, grammar.parse_new(f"新生{n} #挂科"), now, n, rules=rules)

    def clients() -> None:  # what bot.handlers.clients runs: the first page, cut in SQL
        shown = client_svc.caseload_page(db, actor, now, 0, 10)
        renderer.render(
            lang,
            "clients",
            clients=shown.rows,
            total=shown.total,
            page=shown.page,
            pages=shown.pages,
            start=0,
            now=now,
            tz=tz,
        )

    def today() -> None:
        agenda_message(renderer, lang, rem.today(db, actor, now), tz=tz, now=now, pushed=False)

    def find() -> None:
        rows = caseload_svc.find(db, actor, "期末")
        renderer.render_fitting(
            lang, "find_results", "rows", rows, query="期末", total=len(rows), tz=tz
        )

    def export() -> None:  # what the handler runs: streamed onto a file on disk
        with tempfile.TemporaryDirectory(prefix="caremap-bench-") as tmp:
            batches = caseload_batches(db, actor)
            try:
                write_workbook(renderer, lang, tz, batches, now, Path(tmp) / "export.xlsx")
            finally:
                batches.close()

    out: dict[str, str] = {}
    for name, fn, times in (
        ("/log", log, 30),
        ("/map", map_, 30),
        ("/new", new, 20),
        ("/clients", clients, 10),
        ("/today", today, 10),
        ("/find", find, 5),
        ("/export", export, 2),
    ):
        if name.lstrip("/") in SKIP:
            continue
        if times > 2:
            fn()  # warm-up (statement cache, templates)
        took, stmts = [], 0
        for _ in range(times):
            before = counter.n
            t = time.perf_counter()
            fn()
            took.append(time.perf_counter() - t)
            stmts += counter.n - before
        out[f"{name} p50/p95 ms"] = (
            f"{percentile(took, 0.5) * 1000:.0f}/{percentile(took, 0.95) * 1000:.0f}"
        )
        out[f"{name} stmts"] = f"{stmts / times:.0f}"
        print(
            f"  {name}: p50 {percentile(took, 0.5) * 1000:.1f} ms, p95 {percentile(took, 0.95) * 1000:.1f} ms, "
            f"{stmts / times:.1f} statements",
            flush=True,
        )
    return out


def run(scale: str, backend: str, interactions: int) -> dict[str, str]:
    counsellors, per = SCALES[scale]
    with database(backend) as db:
        db.migrate()
        t = time.perf_counter()
        seed(db, counsellors, per, interactions)
        seeded = time.perf_counter() - t
        counter = Counter(db)
        later = NOW + timedelta(days=1)
        if REQUESTS_ONLY:
            regrade_everyone(db, NOW, RULES)
            row = {
                "scale": f"{counsellors}×{per}",
                "backend": backend,
                "seed s": f"{seeded:.1f}",
                **requests(db, counter, NOW),
            }
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            return row
        with WriteProbe(db) as probe:
            rg1 = measure(counter, regrade_everyone, db, NOW, RULES)
        wait1 = f"{probe.worst:.2f}" + (f" ({probe.failed} locked out)" if probe.failed else "")
        tick1 = measure(counter, plan_due_work, db, NOW)
        idle = measure(counter, plan_due_work, db, NOW + timedelta(seconds=30))
        with WriteProbe(db) as probe:
            rg2 = measure(counter, regrade_everyone, db, later, RULES)
        wait2 = f"{probe.worst:.2f}" + (f" ({probe.failed} locked out)" if probe.failed else "")
        idle2 = measure(counter, plan_due_work, db, later + timedelta(seconds=30))
        idle3 = measure(counter, plan_due_work, db, later + timedelta(seconds=60))
        asked = requests(db, counter, later) if REQUESTS else {}
        row = {
            "scale": f"{counsellors}×{per}",
            "backend": backend,
            "seed s": f"{seeded:.1f}",
            "regrade#1 s": f"{rg1[0]:.2f}",
            "stmts": str(rg1[1]),
            "lock wait max s": wait1,
            "regrade#2 s": f"{rg2[0]:.2f}",
            "stmts#2": str(rg2[1]),
            "wait#2 s": wait2,
            "changed#2": str(rg2[2]["changed"]),
            "tick#1 s": f"{tick1[0]:.2f}",
            "tick#1 stmts": str(tick1[1]),
            "idle ms": f"{idle[0] * 1000:.0f}",
            "idle stmts": str(idle[1]),
            "idle after#2 ms": f"{idle3[0] * 1000:.0f}",
            "idle after#2 stmts": str(idle3[1]),
            "planned#1": str(sum(tick1[2].values())),
            "planned after#2": str(sum(idle2[2].values())),
            **asked,
            "rss MB": f"{rss_mb():.0f}",
            "peak MB": f"{peak_mb():.0f}",
        }
        print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help="also 200 counsellors × 500 = 100,000 clients"
    )
    parser.add_argument("--scales", default=None, help="comma-separated: 300,5000,100000")
    parser.add_argument(
        "--backend",
        default=None,
        help=f"sqlite,postgresql (default: sqlite, and postgresql when {PG_ENV} is set)",
    )
    parser.add_argument("--interactions", type=int, default=10)
    parser.add_argument("--no-requests", action="store_true", help="skip the per-request figures")
    parser.add_argument(
        "--skip", default="", help="requests to leave out, e.g. export (a minute a call at 5,000)"
    )
    parser.add_argument(
        "--requests-only",
        action="store_true",
        help="seed, grade once, then only the per-request figures (no tick/re-grade timings)",
    )
    args = parser.parse_args()
    global REQUESTS, REQUESTS_ONLY
    REQUESTS, REQUESTS_ONLY = not args.no_requests, args.requests_only
    SKIP.update(w.strip().lstrip("/") for w in args.skip.split(",") if w.strip())
    scales = (
        args.scales.split(",")
        if args.scales
        else ["300", "5000"] + (["100000"] if args.full else [])
    )
    if args.backend:
        backends = args.backend.split(",")
    else:
        backends = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
    if "postgresql" in backends and not os.environ.get(PG_ENV):
        parser.error(f"postgresql needs {PG_ENV}")
    print_table([run(s, b, args.interactions) for s in scales for b in backends])


def print_table(rows: list[dict[str, str]]) -> None:
    """Rows of equal keys as an aligned table (also bench_export.py's)."""
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
    print()
    print(" | ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print(" | ".join(r[k].ljust(widths[k]) for k in keys))


if __name__ == "__main__":
    main()
