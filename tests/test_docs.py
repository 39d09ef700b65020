"""The README's option tables are the commands' own parameters (generated from the job specs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from robustune.cli.docs import BLOCK, params, rewrite
from robustune.jobs import jobs
from tests.conftest import REPO


def test_readme_option_tables_match_the_commands() -> None:
    text = (REPO / "README.md").read_text()
    assert rewrite(text) == text, "README option tables are stale: run python -m robustune.cli.docs"
    assert {m.group(2) for m in BLOCK.finditer(text)} == {j.kind for j in jobs()}


def test_every_command_option_is_in_the_readme() -> None:
    text = (REPO / "README.md").read_text()
    for p in params("train"):
        for decl in p.decls:
            assert re.search(rf"`{re.escape(decl)}`", text), decl


def test_run_takes_every_train_option() -> None:
    """Both commands as typed: every flag of ``train`` is a flag of ``run`` (but --resume: a rerun of
    ``run`` resumes by itself)."""
    import typer

    from robustune.cli import full_cli

    group = typer.main.get_command(full_cli())

    def flags(name: str) -> set[str]:
        command = group.commands[name]  # type: ignore[attr-defined]
        return {d for p in command.params if p.param_type_name == "option" for d in p.opts + p.secondary_opts}

    assert flags("train") - {"--resume"} <= flags("run"), flags("train") - flags("run")
    assert len(flags("train")) > 20
    assert "--skip-corrupt" in flags("run") and "--gallery-method" in flags("run")


@pytest.mark.slow
def test_readme_python_api_runs(tmp_path: Path) -> None:
    """The README's Python API examples, run as they are (in a scratch folder)."""
    import subprocess
    import sys

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Python API"):text.index("## How to write a plugin")]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "last finished epoch is kept" in proc.stdout
    assert (tmp_path / "dg-report.html").is_file() and (tmp_path / "runs" / "b" / "robustune.json").is_file()


def test_every_serve_option_is_in_the_readme() -> None:
    """``robustune serve``'s flags are typer options (not spec fields): the README's table lists each
    flag with the default the command really has."""
    import inspect

    from robustune.service.commands import serve

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Run it as a service"):text.index("## How to write a plugin")]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    for name, param in inspect.signature(serve).parameters.items():
        flag = "--" + name.replace("_", "-")
        row = next((r for r in rows if f"`{flag}`" in r), None)
        assert row is not None, flag
        if param.default is not None:
            shown = format(param.default, "g") if isinstance(param.default, float) else str(param.default)
            assert re.search(rf"\b{re.escape(shown)}\b", row), (flag, param.default, row)


TOP = ("plugins", "finetune", "robustness", "explain", "robustune", "tests", "bench", "docs", "scripts",
       ".ci")
PLACEHOLDERS = {"NAME", "KIND", "DIR", "PATH", "FILE", "OUT", "ID"}  # bench/results/NAME.json is no file
FILE = re.compile(r"\.(py|md|sh|toml|png|svg|j2|json|txt|ya?ml|js|css|cfg)$|/$")


def referenced_files(text: str) -> list[str]:
    """Files a Markdown text points to: link targets, and repository paths written as code."""
    links = [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not t.startswith(("http", "#", "mailto:"))]
    code = [t for t in re.findall(r"`([^`\s]+)`", text)
            if (t.split("/")[0] in TOP or t.startswith("../")) and "/" in t and FILE.search(t)
            and not PLACEHOLDERS & {Path(part).stem for part in t.split("/")}]

    return sorted(set(links + code))


def test_the_docs_point_only_to_files_in_the_repository() -> None:
    """README.md and docs/*.md name no file that is missing or outside the repository (a reader of a
    fresh clone has nothing else)."""
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert (REPO / "docs" / "DESIGN.md") in docs
    bad = [f"{doc.name}: {ref}" for doc in docs for ref in referenced_files(doc.read_text())
           if ref.startswith(("../", "/")) or not (doc.parent / ref if doc.parent != REPO and
                                                   ref.startswith(".") else REPO / ref).exists()]
    assert not bad, bad


def test_the_link_check_can_fail() -> None:
    assert referenced_files("see `../shared/DESIGN.md` and [the page](docs/none.md), `runs/x`") == [
        "../shared/DESIGN.md", "docs/none.md"]
