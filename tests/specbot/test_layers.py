"""The roles depend one way (GUIDE "Code style", issue "Contracts and layers").

Imports are read with `ast` from the source, including imports inside
functions, so a lazy import cannot slip past. Allowed:
- bot/ and workers/ never import each other;
- indexer/ imports no other role;
- feedback/ imports neither bot/ nor workers/;
- the base modules in specbot/ (everything but cli.py and demo.py, which start
  the roles) import no role at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ROLES = ("bot", "workers", "indexer", "feedback")
# Who may not import whom.
FORBIDDEN = {
    "bot": {"workers"},
    "workers": {"bot"},
    "indexer": {"bot", "workers", "feedback"},
    "feedback": {"bot", "workers"},
}
TOP = {"specbot/cli.py", "specbot/demo.py"}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every absolute import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def violations() -> list[str]:
    bad: list[str] = []
    for role, banned in FORBIDDEN.items():
        for f in files(role):
            for pkg in sorted(imported_packages(f) & banned):
                bad.append(f"{f.relative_to(ROOT)} imports {pkg}")
    for f in files("specbot"):
        rel = f.relative_to(ROOT).as_posix()
        if rel in TOP:
            continue
        for pkg in sorted(imported_packages(f) & set(ROLES)):
            bad.append(f"{rel} imports {pkg} (base modules import no role)")
    return bad


def test_roles_depend_one_way() -> None:
    assert violations() == []


def test_only_cli_and_demo_import_every_role() -> None:
    for f in files("specbot") + [p for r in ROLES for p in files(r)]:
        rel = f.relative_to(ROOT).as_posix()
        if set(ROLES) <= imported_packages(f) | {rel.split("/")[0]}:
            assert rel in TOP, f"{rel} imports every role"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import workers.jobs", {"workers"}),
        ("def f():\n    from bot.listeners import register\n", {"bot"}),
        ("from . import sibling", set()),
        ("from feedback.store import get_engine as g", {"feedback"}),
    ],
)
def test_the_checker_sees_lazy_and_aliased_imports(tmp_path: Path, source: str, expected: set[str]) -> None:
    f = tmp_path / "m.py"
    f.write_text(source, encoding="utf-8")
    assert imported_packages(f) == expected
