"""Import cost and shape: no cycle anywhere (imports inside functions included), and the CLI, the
service app and every job's declaration built without PyTorch, scikit-learn, Captum, matplotlib or
pandas (a job's heavy work loads only when it runs)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("plugins", "finetune", "robustness", "explain", "robustune")
HEAVY = ("torch", "sklearn", "captum", "matplotlib", "pandas", "timm", "transformers", "scipy")


def modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name)."""
    out = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _typing_only(tree: ast.Module) -> set[ast.AST]:
    """The import statements under ``if TYPE_CHECKING:`` (read by type checkers, never run)."""
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            guarded |= {n for stmt in node.body for n in ast.walk(stmt)}
    return guarded


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, wherever the import statement is (a function too; not
    the typing-only imports under ``if TYPE_CHECKING:``)."""
    mods = modules()

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        while parts and ".".join(parts) not in mods:
            parts.pop()
        return ".".join(parts) or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        skip = _typing_only(tree)
        for node in ast.walk(tree):
            if node in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            graph[name] |= {r for t in targets if (r := resolve(t)) and r != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_checker_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere() -> None:
    graph = import_graph()
    assert len(graph) > 150 and any(graph.values())
    assert cycles(graph) == [], "\n".join(" -> ".join(c) for c in cycles(graph))


def _loaded(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter; it prints a JSON object whose values are module-name lists."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_building_the_cli_and_the_service_app_imports_nothing_heavy(tmp_path: Path) -> None:
    code = f"""
import json, sys
heavy = {HEAVY!r}
seen = lambda: sorted(h for h in heavy if h in sys.modules)
import typer
from robustune.main import full_app
group = typer.main.get_command(full_app())
commands = sorted(group.commands)
cli = seen()
from robustune.service.app import create_app
from robustune.service.settings import Settings
app = create_app(Settings(home=__import__("pathlib").Path({str(tmp_path)!r})))
paths = sorted(app.openapi()["paths"])
print(json.dumps({{"cli": cli, "app": seen(), "commands": commands, "routes": paths}}))
"""
    loaded = _loaded(code)
    assert loaded["cli"] == [] and loaded["app"] == [], loaded
    assert {"train", "audit", "report", "serve", "remote", "token"} <= set(loaded["commands"])
    assert "/v1/jobs/train" in loaded["routes"] and "/v1/jobs/audit" in loaded["routes"]


def test_every_job_declaration_is_light() -> None:
    """A job module (its spec, the configs it nests, its result type, JOB) imports nothing heavy."""
    code = f"""
import json, sys
from robustune.jobs import jobs
from robustune.jobs.fields import job_fields
declared = {{j.kind: len(job_fields(j.kind, "cli")) for j in jobs()}}
print(json.dumps({{"heavy": sorted(h for h in {HEAVY!r} if h in sys.modules), "kinds": sorted(declared)}}))
"""
    loaded = _loaded(code)
    assert loaded["heavy"] == [], loaded
    assert {"train", "evaluate", "predict", "audit", "explain", "report", "run", "compare", "tune",
            "recommend", "import", "export", "demo"} <= set(loaded["kinds"])


LIGHT = ("plugins.numerics", "plugins.schema", "plugins.records", "plugins.events", "plugins.errors",
         "plugins.registry", "plugins.backbones.config", "finetune.adapters.config", "finetune.config",
         "finetune.data.config", "finetune.run_config", "finetune.run.workdir", "finetune.ray_init",
         "robustness.config", "robustness.defaults", "explain.config", "explain.sections.config",
         "robustune.jobs", "robustune.jobs.fields", "robustune.cli", "robustune.service.commands")


def test_declaration_modules_import_nothing_heavy() -> None:
    """The contracts and configs that specs nest, the numerics contract on the bottom floor included
    (its measuring lives in finetune/numerics/), load without PyTorch and friends, each on its own."""
    code = f"""
import importlib, json, sys
heavy = {{}}
for name in {LIGHT!r}:
    importlib.import_module(name)
    heavy[name] = sorted(h for h in {HEAVY!r} if h in sys.modules)
print(json.dumps(heavy))
"""
    loaded = _loaded(code)
    assert loaded == {name: [] for name in LIGHT}, {k: v for k, v in loaded.items() if v}
