"""storage/'s house rules (issue 12): no module imports another's private names (the shared
helpers are public, in storage/base.py and storage/mappers.py), and the outbox's dedupe keys
are written in storage/outbox_keys.py only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

STORAGE = Path(__file__).resolve().parents[2] / "storage"
REPO = STORAGE.parent
# the kinds of outbox rows whose keys outbox_keys builds ("alert:1", "realert:1:2", …)
_KEY_TEXT = re.compile(
    r"^(plan|alert|realert|escalation|cadence|cadence-snooze|review|agenda|digest):"
)


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "migrations" not in p.parts)


def private_imports(path: Path) -> list[str]:
    """`from storage.x import _y` (or `import storage.x._y`) in `path`, as "file:line _y"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "storage":
            found += [
                f"{path.name}:{node.lineno} {a.name}" for a in node.names if a.name.startswith("_")
            ]
    return found


def key_literals(path: Path, root: Path = REPO) -> list[str]:
    """String constants and f-strings that begin like an outbox dedupe key."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            text = (
                first.value
                if isinstance(first, ast.Constant) and isinstance(first.value, str)
                else ""
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if _KEY_TEXT.match(text):
            found.append(f"{path.relative_to(root)}:{node.lineno} {text!r}")
    return sorted(set(found))  # an f-string's first part is a constant too


def test_no_private_name_is_imported_across_storage_modules():
    assert [hit for p in _python_files(STORAGE) for hit in private_imports(p)] == []


def test_the_checks_see_a_private_import_and_a_key_literal(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'from storage.base import Repo, _hidden\nKEY = f"alert:{1}"\nOTHER = "realert:2:"\n'
    )
    assert private_imports(sample) == ["sample.py:1 _hidden"]
    assert key_literals(sample, tmp_path) == ["sample.py:2 'alert:'", "sample.py:3 'realert:2:'"]


def test_outbox_keys_are_written_in_outbox_keys_only():
    roots = [
        REPO / name
        for name in ("storage", "services", "reminders", "bot", "rendering", "bootstrap")
    ]
    hits = [
        hit
        for root in roots
        for p in _python_files(root)
        if p.name != "outbox_keys.py"
        for hit in key_literals(p)
    ]
    assert hits == []


def test_each_caseload_method_lives_in_one_repository():
    from storage.clients import ClientRepo
    from storage.clinical import ClinicalRepo
    from storage.records import RecordRepo

    public = {
        cls.__name__: {n for n in vars(cls) if not n.startswith("_")}
        for cls in (ClientRepo, RecordRepo, ClinicalRepo)
    }
    names = [n for methods in public.values() for n in methods]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
    assert {"get", "list", "add", "delete"} <= public["ClientRepo"]
    assert {"add_interaction", "add_plan", "referrals", "relationship_map"} <= public["RecordRepo"]
    assert {"grades", "screenings", "tier_history", "alerts", "add_alert"} <= public["ClinicalRepo"]
