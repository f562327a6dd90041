"""Guard: the core packages never read the wall clock; the composition root owns it.

Issue 9 was a hidden `datetime.now(UTC)` behind a `now=None` default in the parked-input
store: every test with the injected clock (fixed at 2026-11-28) broke once the real date
passed the parked input's two-day lifetime. This test reads the source of `domain/`,
`storage/`, `services/` and `reminders/` and fails on
- a call of a wall-clock reader (`datetime.now`, `datetime.utcnow`, `datetime.today`,
  `date.today`, `time.time`, `time.time_ns`, `time.localtime`, `time.gmtime`, `time.ctime`,
  `time.strftime` with no time argument), however it was imported, and
- a parameter named `now`, `at` or `clock`-like with a default (a `now=None` is how the bug
  hid: a caller that forgets `now` must be a TypeError, not the wall clock).

`time.monotonic` stays allowed: the rate limiter paces real sends in real seconds and never
turns it into a date.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "storage", "services", "reminders", "rendering")

WALL_CLOCK = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("time", "ctime"),
    ("time", "asctime"),
}
TIME_PARAMS = {"now", "today", "clock", "at_now"}


def _sources() -> list[Path]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) > 20, f"expected the core packages' sources, found {len(files)}"
    return files


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for each wall-clock read in `source`."""
    tree = ast.parse(source)
    # names bound by `from datetime import datetime as dt`, `from time import time` …
    aliases: dict[str, tuple[str, ...]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("datetime", "time"):
            for a in node.names:
                aliases[a.asname or a.name] = (node.module, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in ("datetime", "time"):
                    aliases[a.asname or a.name] = (a.name,)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        dotted = _dotted(node.func)
        if not dotted:
            continue
        head = aliases.get(dotted[0], (dotted[0],))
        full = head + dotted[1:]
        # datetime.datetime.now, datetime.now, time.time, time (from time import time) …
        tail = full[-2:] if len(full) >= 2 else full
        if len(tail) == 2 and (tail[0], tail[1]) in WALL_CLOCK:
            found.append((node.lineno, ".".join(full)))
    return found


def defaulted_time_params(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args
        positional = args.posonlyargs + args.args
        with_default = positional[len(positional) - len(args.defaults) :] if args.defaults else []
        kw_with_default = [
            a for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
        ]
        for a in [*with_default, *kw_with_default]:
            if a.arg in TIME_PARAMS:
                found.append((node.lineno, f"{node.name}({a.arg}=…)"))
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "from datetime import datetime, UTC\nx = datetime.now(UTC)",
        "import datetime\nx = datetime.datetime.now()",
        "from datetime import datetime as dt\nx = dt.utcnow()",
        "from datetime import date\nx = date.today()",
        "import time\nx = time.time()",
        "from time import time\nx = time()",
        "from time import time as wall\nx = wall()",
    ],
)
def test_the_guard_sees_every_way_of_reading_the_wall_clock(snippet: str) -> None:
    assert wall_clock_reads(snippet), snippet


def test_the_guard_lets_monotonic_pacing_and_arithmetic_through() -> None:
    ok = (
        "import time\nfrom datetime import datetime, timedelta\n"
        "a = time.monotonic()\nb = datetime(2026, 1, 1) + timedelta(days=1)\n"
        "c = datetime.fromisoformat('2026-01-01')\n"
    )
    assert wall_clock_reads(ok) == []


def test_the_guard_sees_a_defaulted_now() -> None:
    assert defaulted_time_params("def f(a, now=None):\n    pass") == [(1, "f(now=…)")]
    assert defaulted_time_params("def f(a, *, now=None):\n    pass") == [(1, "f(now=…)")]
    assert defaulted_time_params("def f(a, now):\n    pass") == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_packages_never_read_the_wall_clock(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    reads = wall_clock_reads(source)
    assert not reads, (
        f"{path.relative_to(ROOT)} reads the wall clock at {reads}: take `now` as an "
        "argument; the composition root (bootstrap.system_clock) owns the one real clock"
    )
    defaults = defaulted_time_params(source)
    assert not defaults, (
        f"{path.relative_to(ROOT)} gives a time parameter a default at {defaults}: make it "
        "required, so a caller that forgets it fails at once instead of using another clock"
    )
