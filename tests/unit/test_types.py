"""`domain/` type-checks under mypy's strict settings, `services/`, `reminders/` and `storage/`
under their own blocks ([tool.mypy] in pyproject.toml): `mypy domain`, `mypy services`,
`mypy reminders` and `mypy storage`, as the README's test run."""

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


@pytest.mark.parametrize("package", ["domain", "services", "reminders", "storage"])
def test_package_type_checks(package):
    # the repository's own cache (ignored by git): a warm run takes a second or two
    out, status = _mypy(REPO / package, cache=REPO / ".mypy_cache")
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 0 and not errors, f"mypy found {len(errors)} error(s) in {package}/:\n{out}"


# What each package's block must refuse, and what it must not (so the checks above cannot
# pass by being lax, and one package's block does not leak into another's).
CANARIES = {
    # strict: an unannotated function and a bare generic
    "domain": (
        "def untyped(x):\n    return x\n\n\ndef bare() -> list:\n    return []\n",
        ["[no-untyped-def]", "[type-arg]"],
        [],
    ),
    # every def typed and the bodies checked; a bare generic is domain's rule, not this block's
    "services": (
        "def untyped(x):\n    return x\n\n\ndef half(x: int, y) -> int:\n    return x\n\n\n"
        "def bare() -> list:\n    n: int = 'one'\n    return [n]\n",
        ["[no-untyped-def]", "[no-untyped-def]", "[assignment]"],
        ["[type-arg]"],
    ),
}
CANARIES["reminders"] = CANARIES["storage"] = CANARIES["services"]  # the same rules, own blocks


@pytest.mark.parametrize("package", sorted(CANARIES))
def test_package_config_is_enforced(package, tmp_path):
    """A module under `domain` / `services` / `reminders` / `storage` breaking its block's
    rules is refused: that
    override really applies to that package, and only its own rules do."""
    source, refused, allowed = CANARIES[package]
    pkg = tmp_path / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "canary.py").write_text(source)
    # its own cache (the canary is a second package of that name), kept for the stdlib's sake
    out, status = _mypy(pkg, cache=REPO / ".mypy_cache" / "canary")
    assert status == 1, out
    for code in set(refused):
        assert out.count(code) == refused.count(code), out
    for code in allowed:
        assert code not in out, out
