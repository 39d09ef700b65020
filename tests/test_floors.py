"""Imports only go down the floors of DESIGN.md (robustness/ and explain/ never import finetune/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {"plugins": 1, "robustness": 2, "explain": 2, "finetune": 3, "robustune": 4}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every import in a file, including imports inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_imports_go_down_the_floors(package: str) -> None:
    floor = FLOORS[package]
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_packages(path) & set(FLOORS):
            if name != package and FLOORS[name] >= floor:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, bad
