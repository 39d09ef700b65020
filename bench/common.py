"""Shared benchmark plumbing: offline env, results files (JSON + Markdown) written atomically."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.atomic import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(__file__).resolve().parent / "out"


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    import torch

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available(), "date": time.strftime("%Y-%m-%d %H:%M")}


def write_results(name: str, command: str, rows: list[dict[str, Any]], checks: dict[str, bool],
                  notes: list[str]) -> None:
    """``bench/results/NAME.json`` and ``NAME.md`` with a table, the checks and the command."""
    payload = {"benchmark": name, "command": command, "machine": machine(), "rows": rows,
               "checks": checks, "notes": notes}
    atomic_write_text(RESULTS / f"{name}.json", json.dumps(payload, indent=2))
    cols = list(rows[0]) if rows else []
    lines = [f"### {name}", "", f"`{command}`", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    lines += [""] + [f"- {'PASS' if ok else 'FAIL'}: {check}" for check, ok in checks.items()]
    lines += [f"- note: {n}" for n in notes]
    atomic_write_text(RESULTS / f"{name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
