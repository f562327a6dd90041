"""/export at two caseload sizes (issue 12: "/export streamed"): time, SQL statements and
peak memory of the Python heap (tracemalloc) while the file is written, for the Excel
workbook (`/export`) and the zip of CSVs (`/export csv`), server side (no Telegram).

The caseload is `bench_scale.py`'s (one counsellor, 10 notes a client, graded once), on
SQLite (and PostgreSQL with --backend). Streamed, the peak stays about the same at 5,000
clients as at 300 (a batch of `EXPORT_BATCH` clients is in memory, not the caseload);
the time grows with the caseload. Timing and memory are separate runs (tracemalloc slows
Python down about twofold). "cpu s" is the process's CPU time per run: on a loaded machine
it varies less than the wall time.

    .venv/bin/python benchmarks/bench_export.py                    # 300 and 5,000, 3 runs
    .venv/bin/python benchmarks/bench_export.py --scales 5000 --runs 5 --profile xlsx
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scale as bench  # noqa: E402

from services.grading import regrade_everyone  # noqa: E402


def exporters(db, actor):
    """name → function writing that export into a directory (what the handler runs)."""
    import html

    from bot.export_xlsx import write_workbook
    from rendering.render import default_renderer
    from services import caseload
    from services.export_data import caseload_batches

    renderer, lang = default_renderer(), "zh"

    def words(kind, value):
        return html.unescape(renderer.render(lang, "export_csv_word", kind=kind, value=value))

    def xlsx(directory: Path) -> None:
        batches = caseload_batches(db, actor)
        try:
            write_workbook(
                renderer, lang, actor.timezone, batches, bench.NOW, directory / "export.xlsx"
            )
        finally:
            batches.close()

    def csv(directory: Path) -> None:
        caseload.export(db, actor, bench.NOW, words, directory=directory)

    return {"xlsx": xlsx, "csv": csv}


def run(scale: int, backend: str, runs: int, profile: str | None) -> list[dict[str, str]]:
    from services.invites import find_counsellor

    out = []
    with bench.database(backend) as db:
        db.migrate()
        bench.seed(db, 1, scale, 10)
        regrade_everyone(db, bench.NOW, bench.RULES)
        counter = bench.Counter(db)
        actor = find_counsellor(db, 1000)
        for name, fn in exporters(db, actor).items():
            took, cpu, stmts = [], [], 0
            for _ in range(runs):
                with tempfile.TemporaryDirectory() as tmp:
                    before, t, c = counter.n, time.perf_counter(), time.process_time()
                    fn(Path(tmp))
                    took.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                    stmts = counter.n - before
            with tempfile.TemporaryDirectory() as tmp:
                tracemalloc.start()
                fn(Path(tmp))
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                size = sum(p.stat().st_size for p in Path(tmp).iterdir())
            if profile == name:
                with tempfile.TemporaryDirectory() as tmp:
                    prof = cProfile.Profile()
                    prof.runcall(fn, Path(tmp))
                pstats.Stats(prof).sort_stats("tottime").print_stats(20)
            took.sort()
            cpu.sort()
            row = {
                "clients": str(scale),
                "backend": backend,
                "export": name,
                "runs s": " ".join(f"{t:.2f}" for t in took),
                "median s": f"{took[len(took) // 2]:.2f}",
                "cpu s": " ".join(f"{t:.2f}" for t in cpu),
                "stmts": str(stmts),
                "peak MB": f"{peak / 1e6:.1f}",
                "file MB": f"{size / 1e6:.1f}",
            }
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="300,5000")
    parser.add_argument("--backend", default="sqlite", help="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per export")
    parser.add_argument("--profile", choices=("xlsx", "csv"), help="cProfile one more run")
    args = parser.parse_args()
    bench.print_table(
        [
            row
            for scale in args.scales.split(",")
            for backend in args.backend.split(",")
            for row in run(int(scale), backend, args.runs, args.profile)
        ]
    )


if __name__ == "__main__":
    main()
