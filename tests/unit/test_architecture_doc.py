"""docs/architecture.md names real files and functions: every backticked `path` with a file
extension exists, and every `path.py:name` (or `path.py:Class.method`) is defined there."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
REFERENCE = re.compile(r"`([\w./-]+\.(?:py|json|yaml|md))(?::([\w.]+))?`")


def references(text: str) -> list[tuple[str, str | None]]:
    return [(path, name or None) for path, name in REFERENCE.findall(text)]


def defined(source: str, dotted: str) -> bool:
    """Whether `dotted` (a function, class, assignment, or Class.member) is defined at the top
    of a module."""
    body: list[ast.stmt] = ast.parse(source).body
    *outer, last = dotted.split(".")
    for part in outer:
        found = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == part), None)
        if found is None:
            return False
        body = found.body
    return last in _names(body)


def _names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _where(path: str) -> Path:
    """A path as written in the doc: from the repository root, or, for the short adapter
    names in the items table, within chalicelib/adapters/dynamodb/."""
    full = ROOT / path
    if not full.exists() and "/" not in path:
        full = ROOT / "chalicelib" / "adapters" / "dynamodb" / path
    return full


def test_the_doc_names_files_and_functions() -> None:
    found = references(DOC.read_text())
    assert len(found) > 40  # the parse works: the doc is full of them
    assert sum(name is not None for _, name in found) > 25


def _distinct() -> list[tuple[str, str | None]]:
    return sorted(set(references(DOC.read_text())), key=lambda r: (r[0], r[1] or ""))


@pytest.mark.parametrize(("path", "name"), _distinct())
def test_each_reference_exists(path: str, name: str | None) -> None:
    full = _where(path)
    assert full.is_file(), f"{path} does not exist"
    if name is not None:
        assert defined(full.read_text(), name), f"{path} defines no {name}"


def test_a_wrong_reference_is_caught() -> None:
    source = "class A:\n    def b(self) -> None: ...\n\ndef c() -> None: ...\nD = 1\n"
    assert defined(source, "A.b") and defined(source, "c") and defined(source, "D")
    assert not defined(source, "A.c") and not defined(source, "b") and not defined(source, "E")
    assert references("see `app.py:nothing` and `x.py`") == [("app.py", "nothing"),
                                                            ("x.py", None)]


def test_nothing_points_at_a_design_document_outside_the_repository() -> None:
    outside = ("DESIGN " + "\u00a7", "DESIGN" + ".md")  # split: this file must not match itself
    skip = {".venv", ".git", "build", ".replywindow", ".mypy_cache", ".ruff_cache",
            ".pytest_cache", "__pycache__", "node_modules"}
    offenders: list[str] = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            path = Path(folder) / name
            if path.suffix in (".py", ".md", ".yaml", ".yml", ".json", ".toml") and any(
                    word in path.read_text(errors="ignore") for word in outside):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
