"""Data-parallel training: one training with 1 process and with `--nproc 2` (DDP, gloo on the CPU),
then `--nproc 2 --launcher ray` (a Ray Train TorchTrainer on a Ray started for it), side by side:
wall time of the whole command (what a user waits for) and holdout accuracy.

The training: `robustune train --data fashion-mnist --per-class 200 --model cnn` with its defaults
(the from-scratch CNN's recommended settings), the same seed, split and global batch in every row.
On this machine's 2 CPU cores the ranks share the same two cores (each rank gets one thread), so
the point here is that --nproc trains the same model, at what cost; the speed-up is for machines
with cores or GPUs to spare. 1 and 2 processes alternate, twice each: medians.

Run: .venv/bin/python bench/bench_scale.py   (target: 2 processes within 1 point of 1 process)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401
from common import WORK, write_results

from plugins.bundle import read_meta

TRAIN = ["--data", "fashion-mnist", "--per-class", "200", "--model", "cnn", "--quiet"]
REPEATS = 2


def train(name: str, extra: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the CLI once; wall seconds, holdout accuracy and epochs from the bundle."""
    out = WORK / f"scale-{name}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "robustune", "train", *TRAIN, *extra, "--out", str(out)],
                   check=True, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    meta = read_meta(out)
    history = meta.training["history"]
    return {"wall_s": wall, "accuracy": meta.metrics["test"]["accuracy"], "epochs": len(history),
            "train_s": meta.training["seconds"]["train"], "final_train_loss": history[-1]["train_loss"]}


def ray_head() -> tuple[str, Path]:
    """A local Ray head with 2 CPUs for the Ray Train row (its port beside Redis's 6379)."""
    binary = str(Path(sys.executable).parent / "ray")
    temp = Path("/tmp") / f"rb{os.getpid()}"
    port = "6391"
    subprocess.run([binary, "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
                    "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                   check=True, capture_output=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    return f"127.0.0.1:{port}", temp


def main() -> None:
    runs: dict[str, list[dict[str, Any]]] = {"1 process": [], "2 processes (torch)": []}
    for _ in range(REPEATS):
        runs["1 process"].append(train("one", []))
        runs["2 processes (torch)"].append(train("two", ["--nproc", "2"]))
    address, temp = ray_head()
    try:
        runs["2 workers (Ray Train)"] = [train("ray", ["--nproc", "2", "--launcher", "ray"],
                                               {"RAY_ADDRESS": address})]
    finally:
        subprocess.run([str(Path(sys.executable).parent / "ray"), "stop", "--force"], capture_output=True)
        shutil.rmtree(temp, ignore_errors=True)
    base = statistics.median(r["wall_s"] for r in runs["1 process"])
    rows = []
    for name, results in runs.items():
        wall = statistics.median(r["wall_s"] for r in results)
        rows.append({"training": name, "runs": len(results), "wall_s (median)": round(wall, 1),
                     "x 1 process": round(wall / base, 2),
                     "train_s": round(statistics.median(r["train_s"] for r in results), 1),
                     "epochs": results[0]["epochs"], "holdout_accuracy": results[0]["accuracy"],
                     "final_train_loss": round(results[0]["final_train_loss"], 4)})
    one = rows[0]["holdout_accuracy"]
    checks = {f"{r['training']}: holdout accuracy within 1 point of 1 process "
              f"({r['holdout_accuracy']:.4f} vs {one:.4f})": abs(r["holdout_accuracy"] - one) <= 0.01
              for r in rows[1:]}
    notes = ["2 CPU cores: the 2 ranks split the same cores (1 thread each) and add a gradient all-reduce "
             "per step, so no speed-up is possible here; the rows show the cost and that the model is the "
             "same",
             "the Ray Train row includes starting the TorchTrainer's worker actors on a running local Ray "
             "head",
             "NCCL on a GPU: no GPU was lent to this session, so that row is not measured"]
    write_results("scale", "python bench/bench_scale.py", rows, checks, notes)


if __name__ == "__main__":
    main()
