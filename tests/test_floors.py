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


def imported_modules(path: Path) -> set[str]:
    """Full dotted names of every absolute import in a file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


INSIDE = {"jobs": ("robustune.cli", "robustune.service"), "cli": ("robustune.service",),
          "service": ("robustune.cli",)}


@pytest.mark.parametrize("part", sorted(INSIDE))
def test_jobs_below_cli_and_service(part: str) -> None:
    """robustune/jobs never imports the CLI or the service; those two never import each other."""
    bad = [f"{path.relative_to(ROOT)} imports {name}"
           for path in sorted((ROOT / "robustune" / part).rglob("*.py"))
           for name in imported_modules(path) if name.startswith(INSIDE[part])]
    assert not bad, bad


CONTRACTS = ("plugins.errors", "plugins.events", "plugins.schema")  # the jobs API's shared vocabulary
LIBRARY = ("plugins", "finetune", "robustness", "explain")


def test_service_calls_the_jobs_and_nothing_below() -> None:
    """The service (routers, schemas, store, workers) reaches the library only through robustune.jobs
    and the contracts every floor shares: errors, events, option fields."""
    bad = [f"{path.relative_to(ROOT)} imports {name}"
           for path in sorted((ROOT / "robustune" / "service").rglob("*.py"))
           for name in imported_modules(path)
           if name.split(".")[0] in LIBRARY and name not in CONTRACTS]
    assert (ROOT / "robustune" / "service" / "routers").is_dir() and not bad, bad


TERMINAL = ("rich", "typer", "click")
QUIET_PACKAGES = ["plugins", "finetune", "robustness", "explain", "robustune/jobs"]


@pytest.mark.parametrize("package", QUIET_PACKAGES)
def test_no_terminal_below_the_cli(package: str) -> None:
    """Library code and jobs report through events: no rich, typer or click, no print()."""
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        bad += [f"{path.relative_to(ROOT)} imports {n}" for n in imported_modules(path)
                if n.split(".")[0] in TERMINAL]
        bad += [f"{path.relative_to(ROOT)}:{node.lineno} calls print" for node in ast.walk(tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
    assert (ROOT / package).is_dir() and not bad, bad
