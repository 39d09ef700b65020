"""The README's option tables, generated from the same parameters as the commands.

``python -m robustune.cli.docs`` rewrites every ``<!-- options:COMMAND -->`` block of the README;
``tests/test_docs.py`` fails when a block and the generated table disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from robustune.cli.commands import job_params
from robustune.cli.options import Param, shown
from robustune.jobs import job


def params(kind: str) -> list[Param]:
    """A command's parameters as its table shows them (``run``: its own, the train options are train's)."""
    own = job_params(job(kind))
    if kind != "run":
        return own
    train = {p.name for p in job_params(job("train"))} - {"out", "config", "quiet", "json", "track"}
    return [p for p in own if p.name not in train]
BLOCK = re.compile(r"(<!-- options:(\w+) -->\n)(.*?)(<!-- /options -->)", re.S)


def table(params: list[Param]) -> str:
    """A markdown table: option, default, meaning (one row per parameter, in command order)."""
    seen: set[str] = set()
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for p in params:
        if p.name in seen:
            continue
        seen.add(p.name)
        name = p.name.upper() if p.argument else ", ".join(f"`{d}`" for d in p.decls)
        default = "required" if p.required else (shown(p.default, p.parse in ("number", "numbers")) or "–") \
            if p.spec else "–"
        meaning = p.help.replace("|", "\\|")
        rows.append(f"| {name} | {default.replace('|', '/')} | {meaning} |")
    return "\n".join(rows) + "\n"


def rewrite(text: str) -> str:
    """``text`` with every options block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + table(params(m.group(2))) + m.group(4), text)


def main() -> None:
    """Rewrite the README's option tables in place."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    path.write_text(rewrite(path.read_text()))


if __name__ == "__main__":
    main()
