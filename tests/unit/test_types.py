"""`domain/` type-checks under mypy's strict settings ([tool.mypy] in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "pyproject.toml"


def _mypy(*targets: Path, cache: Path) -> tuple[str, int]:
    try:
        from mypy import api
    except ImportError:
        pytest.fail("mypy is not installed: pip install -e '.[test]'")
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(CONFIG),
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            "--show-error-codes",
            "--no-color-output",
            *(str(t) for t in targets),
        ]
    )
    return stdout + stderr, status


def test_domain_type_checks():
    # the repository's own cache (ignored by git): a warm run takes well under a second
    out, status = _mypy(REPO / "domain", cache=REPO / ".mypy_cache")
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 0 and not errors, f"mypy found {len(errors)} error(s) in domain/:\n{out}"


def test_domain_config_is_strict(tmp_path):
    """A module under `domain` with an unannotated function and a bare generic is refused:
    the override really turns strict mode on (the check above cannot pass by being lax)."""
    pkg = tmp_path / "domain"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "canary.py").write_text(
        "def untyped(x):\n    return x\n\n\ndef bare() -> list:\n    return []\n"
    )
    # its own cache (the canary is a second `domain`), kept for the standard library's sake
    out, status = _mypy(pkg, cache=REPO / ".mypy_cache" / "canary")
    assert status == 1, out
    assert "[no-untyped-def]" in out, out
    assert "[type-arg]" in out, out
