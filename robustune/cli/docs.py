"""The README's option tables, generated from the same parameters as the commands.

``python -m robustune.cli.docs`` rewrites every ``<!-- options:COMMAND -->`` block of the README;
``tests/test_docs.py`` fails when a block and the generated table disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from robustune.cli import audit, bundles, explain, misc, training  # noqa: F401  (the commands' parameters)
from robustune.cli.options import Param, shown

TABLES: dict[str, list[Param]] = {
    "train": training.TRAIN_PARAMS,
    "run": [p for p in training.RUN_PARAMS if p.name == "out" or p not in training.TRAIN],
    "compare": training.COMPARE_PARAMS,
    "tune": training.TUNE_PARAMS,
    "recommend": training.RECOMMEND_PARAMS,
    "evaluate": bundles.EVALUATE_PARAMS,
    "predict": bundles.PREDICT_PARAMS,
    "import": bundles.IMPORT_PARAMS,
    "export": bundles.EXPORT_PARAMS,
    "audit": audit.PARAMS,
    "explain": explain.EXPLAIN_PARAMS,
    "report": explain.REPORT_PARAMS,
}
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
    return BLOCK.sub(lambda m: m.group(1) + table(TABLES[m.group(2)]) + m.group(4), text)


def main() -> None:
    """Rewrite the README's option tables in place."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    path.write_text(rewrite(path.read_text()))


if __name__ == "__main__":
    main()
