"""How fast the command line and the service start, beside a typer hello-world in the same run.

Each command runs as a fresh process, as a user types it: `robustune --help`, `robustune train
--help`, `robustune audit --help`, `robustune serve --help`, `python -c "import robustune.service.app"`,
and, as references, the typer hello-world's `--help` (the first example of typer's documentation)
and `python -c "import fastapi"` (the web framework the service is built on). The commands run in
interleaved rounds (each round runs every command once, in a rotating order), so a slow spell of a
shared machine hits them alike; medians of the wall time and of the peak memory are quoted, with
each command's ratio to the typer hello-world.

Run: .venv/bin/python bench/bench_startup.py   (target: every robustune figure <= 1.5x the typer one)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401
from common import WORK, write_results

ROUNDS = 15
# what robustune.service.app imports of other projects: the web framework, the database layer, the
# templates, the ASGI server's protocol pieces the routers use
FRAMEWORKS = "import fastapi, fastapi.responses, sqlalchemy.orm, jinja2, starlette.exceptions"
TARGET = 1.5
HELLO = '''import typer


def main(name: str) -> None:
    print(f"Hello {name}")


if __name__ == "__main__":
    typer.run(main)
'''  # typer's own first example, as its documentation gives it


def commands() -> dict[str, list[str]]:
    """Name -> argv, the typer hello-world first."""
    hello = WORK / "typer_hello.py"
    hello.parent.mkdir(parents=True, exist_ok=True)
    hello.write_text(HELLO)
    exe = str(Path(sys.executable).parent / "robustune")
    return {
        "typer hello-world --help": [sys.executable, str(hello), "--help"],
        "robustune --help": [exe, "--help"],
        "robustune train --help": [exe, "train", "--help"],
        "robustune audit --help": [exe, "audit", "--help"],
        "robustune serve --help": [exe, "serve", "--help"],
        "import robustune.service.app": [sys.executable, "-c", "import robustune.service.app"],
        "import fastapi (reference)": [sys.executable, "-c", "import fastapi"],
        "import the service's frameworks (reference)": [sys.executable, "-c", FRAMEWORKS],
    }


def once(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak memory in MB) of one run of ``argv``."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "COLUMNS": "100"})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed: {err}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    cmds = commands()
    names = list(cmds)
    times: dict[str, list[float]] = {n: [] for n in names}
    memory: dict[str, list[float]] = {n: [] for n in names}
    for name in names:  # one warm-up each: the file system cache, the bytecode cache
        once(cmds[name])
    for r in range(ROUNDS):
        for name in names[r % len(names):] + names[:r % len(names)]:
            wall, mb = once(cmds[name])
            times[name].append(wall)
            memory[name].append(mb)
    base = statistics.median(times[names[0]])
    rows = [{"command": n, "wall_s (median)": round(statistics.median(times[n]), 3),
             "x typer hello": round(statistics.median(times[n]) / base, 2),
             "peak_MB (median)": round(statistics.median(memory[n]), 1)} for n in names]
    ours = [r for r in rows if r["command"].startswith(("robustune", "import robustune"))]
    checks = {f"{r['command']}: {r['x typer hello']}x <= {TARGET}x the typer hello-world":
              r["x typer hello"] <= TARGET for r in ours}
    app = next(r for r in rows if r["command"] == "import robustune.service.app")
    frameworks = next(r for r in rows if r["command"].startswith("import the service's frameworks"))
    fastapi = next(r for r in rows if r["command"].startswith("import fastapi"))
    ratio = round(app["wall_s (median)"] / frameworks["wall_s (median)"], 2)
    checks[f"import robustune.service.app: {ratio}x <= {TARGET}x its frameworks' own import"] = (
        ratio <= TARGET)
    notes = [f"{ROUNDS} interleaved rounds after one warm-up each; medians",
             f"FastAPI's own import is {fastapi['x typer hello']}x the typer hello-world: no module that "
             "imports the web framework can start within 1.5x of it; the service's check is against its "
             f"frameworks' own import ({FRAMEWORKS})",
             "none of these imports PyTorch, scikit-learn, Captum, matplotlib or pandas "
             "(tests/test_imports.py checks it)"]
    write_results("startup", "python bench/bench_startup.py", rows, checks, notes)
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
