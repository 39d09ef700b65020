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


# the jobs API's shared vocabulary (and how a spec file is read)
CONTRACTS = ("plugins.errors", "plugins.events", "plugins.schema", "plugins.duration", "plugins.yamlio")
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


META_READERS = ("plugins/bundle.py", "plugins/meta.py")  # the only code that sees robustune.json as JSON
META_CALLS = ("read_meta", "bundle_summary")  # each returns the typed BundleMeta


def raw_meta_reads(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, code) of each read of bundle metadata as a raw dict: ``x.meta[...]``, ``x.meta.get(...)``,
    ``read_meta(...)[...]`` / ``.get(...)``, or robustune.json parsed as JSON."""

    def name(node: ast.AST) -> str | None:
        return getattr(node, "attr", getattr(node, "id", None))

    def is_meta(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "meta") or (
            isinstance(node, ast.Call) and name(node.func) in META_CALLS)

    def is_raw(node: ast.AST) -> bool:
        if isinstance(node, ast.Subscript):
            return is_meta(node.value)
        if isinstance(node, ast.Attribute):
            return node.attr == "get" and is_meta(node.value)
        if isinstance(node, ast.Call) and name(node.func) in ("read_json", "load", "loads"):
            return any("robustune.json" in ast.unparse(a) or "META_FILE" in ast.unparse(a) for a in node.args)
        return False

    return sorted((getattr(n, "lineno", 0), ast.unparse(n)) for n in ast.walk(tree) if is_raw(n))


def test_raw_meta_reads_are_found() -> None:
    """The check below sees each form of a raw read (and not the typed ones)."""
    bad = ('bundle.meta["preprocessing"]\nb.meta.get("identity")\nread_meta(p)["modality"]\n'
           'catalog.bundle_summary(p).get("metrics")\njson.loads((p / "robustune.json").read_text())\n'
           'jsonio.read_json(p / META_FILE, "")\n')
    assert [line for line, _ in raw_meta_reads(ast.parse(bad))] == [1, 2, 3, 4, 5, 6]
    good = 'bundle.meta.preprocessing\nread_meta(p).modality\nbundle.meta.metrics["test"]\nrow.info["x"]\n'
    assert raw_meta_reads(ast.parse(good)) == []


@pytest.mark.parametrize("package", ["plugins", "finetune", "robustness", "explain", "robustune"])
def test_bundle_metadata_is_read_typed(package: str) -> None:
    """Outside the reader (plugins/bundle.py, plugins/meta.py) a bundle's metadata is the typed
    ``BundleMeta`` (``bundle.meta.preprocessing``, ``read_meta(path).modality``), never a raw dict."""
    bad = [f"{path.relative_to(ROOT)}:{line}: {code}"
           for path in sorted((ROOT / package).rglob("*.py"))
           if path.relative_to(ROOT).as_posix() not in META_READERS
           for line, code in raw_meta_reads(ast.parse(path.read_text()))]
    assert (ROOT / package).is_dir() and not bad, bad
