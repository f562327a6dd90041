"""The house's rooms are enforced: import-linter's contracts (pyproject.toml) hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    proc = subprocess.run(
        [exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout, proc.stdout[-4000:]


def _runtime_cycles() -> list[tuple[str, str]]:
    import grimp

    graph = grimp.build_graph(
        "bot",
        "reminders",
        "bootstrap",
        "rendering",
        "services",
        "storage",
        "domain",
        cache_dir=None,
        exclude_type_checking_imports=True,
    )
    return sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if graph.chain_exists(importer=imported, imported=importer)
    )


def test_no_import_cycles_at_run_time():
    """No module imports (directly or not, function-level imports included) one that
    imports it back. Imports under `if TYPE_CHECKING:` are annotations only and allowed."""
    assert _runtime_cycles() == []


def test_the_cycle_check_can_fail(tmp_path, monkeypatch):
    pkg = tmp_path / "domain"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from domain import b\n")
    (pkg / "b.py").write_text("from domain import a\n")
    for name in ("bot", "reminders", "bootstrap", "rendering", "services", "storage"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [
        m
        for m in sys.modules
        if m.split(".")[0]
        in {"bot", "reminders", "bootstrap", "rendering", "services", "storage", "domain"}
    ]:
        monkeypatch.delitem(sys.modules, name)
    assert ("domain.a", "domain.b") in _runtime_cycles()
