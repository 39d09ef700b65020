"""Label issues: 10% of the training labels flipped at random (seeded) on Fashion-MNIST 200/class
(EfficientNet-Lite0 probe) and Rotten Tomatoes 1,000 (MiniLM probe). ``robustune labels`` with its
defaults ranks the likely issues; cleanlab's ``find_label_issues`` ranks the same out-of-sample
probabilities (probabilities.json); precision and recall of each top-k list (k = number flipped) side by
side. Then ``train`` on clean labels, on the noisy ones, and on the noisy ones with ``--drop labels.csv``:
the share of the accuracy lost to the noise that the drop recovers. The holdout is clean and the same
in every training. Run: ``python bench/bench_labels.py`` (cleanlab comes with ``make bench``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, write_results  # noqa: E402

from finetune.data.spec import load_data  # noqa: E402
from finetune.data.splits import stratified_take  # noqa: E402
from finetune.data.types import SourceData  # noqa: E402
from plugins.registry import Entry, registry  # noqa: E402

CASES = [  # name, source, per class in the labeled pool, holdout per class, model options
    ("Fashion-MNIST 200/class", "fashion-mnist", 200, 100, {"backbone": "efficientnet_lite0"}),
    ("Rotten Tomatoes 1,000", "rotten-tomatoes", 500, 500, {"backbone": "bert"}),
]
SHARE, SEED = 0.1, 0


class Planted:
    """A dataset plugin: the case's labeled pool with flipped labels (or not), and a clean holdout."""

    def __init__(self, source: str, per_class: int, test_per_class: int, flip: bool, modality: str) -> None:
        self.source, self.per_class, self.test_per_class, self.flip = source, per_class, test_per_class, flip
        self.modality = modality
        self.flipped: list[str] = []

    def __call__(self, arg: str | None, options: Any) -> SourceData:
        full = load_data(self.source)
        rng = np.random.default_rng(SEED)
        pool_idx, rest_idx = stratified_take(full.pool.labels, rng, count=self.per_class)
        pool = full.pool.subset(pool_idx)
        if full.test is not None:
            test = full.test.subset(stratified_take(full.test.labels, rng, count=self.test_per_class)[0])
        else:  # no test split of its own: a clean holdout from the rest
            rest = full.pool.subset(rest_idx)
            test = rest.subset(stratified_take(rest.labels, rng, count=self.test_per_class)[0])
        pool.ids = [str(i) for i in range(len(pool))]
        if self.flip:
            k = len(pool.classes)
            chosen = np.random.default_rng(SEED + 1).choice(len(pool), int(len(pool) * SHARE), replace=False)
            labels = pool.labels.clone()
            labels[chosen] = (labels[chosen] + torch.as_tensor(rng.integers(1, k, len(chosen)))) % k
            pool.labels = labels
            self.flipped = [str(i) for i in chosen.tolist()]
        return SourceData(f"planted-{self.source}-{'noisy' if self.flip else 'clean'}", pool, test)


def plant(name: str, plugin: Planted) -> None:
    registry.discover()
    registry.add(Entry("dataset", name, plugin, "benchmark data", "bench"))


def top_k(ranked: list[str], flipped: set[str], k: int) -> tuple[float, float]:
    """(precision, recall) of the first ``k`` of ``ranked``."""
    head = ranked[:k]
    hits = len(set(head) & flipped)
    return (hits / len(head) if head else 0.0), hits / k


def train(data: str, model: dict[str, Any], out: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    start = time.perf_counter()
    options = {"data": data, **model, "out": str(out), "overwrite": True, **(extra or {})}
    result = run_training(from_options(options))
    return {"accuracy": result.metrics["test"]["accuracy"], "seconds": time.perf_counter() - start,
            "train": result.split_sizes["train"] + result.split_sizes["val"]}


def case(label: str, source: str, per_class: int, test_per_class: int,
         model: dict[str, Any]) -> dict[str, Any]:
    from cleanlab.filter import find_label_issues

    from robustune.jobs import labels as labels_job

    modality = "image" if source == "fashion-mnist" else "text"
    noisy, clean = Planted(source, per_class, test_per_class, True, modality), \
        Planted(source, per_class, test_per_class, False, modality)
    tag = source.replace("-", "")
    plant(f"{tag}-noisy", noisy)
    plant(f"{tag}-clean", clean)
    out = WORK / "labels" / tag
    start = time.perf_counter()
    found = labels_job.run(labels_job.LabelsSpec.from_options(
        {"data": f"{tag}-noisy", "out": str(out / "labels"), "overwrite": True}))
    seconds = time.perf_counter() - start
    flipped = set(noisy.flipped)
    probs = json.loads((out / "labels" / "probabilities.json").read_text())
    ids, given, p = probs["ids"], np.array(probs["labels"]), np.array(probs["probs"])
    k = len(flipped)
    ours = [r["id"] for r in found.rows]
    ranked_all = ours + [i for i in ids if i not in set(ours)]  # the flagged first, as labels.json orders
    cl_idx = find_label_issues(given, p, return_indices_ranked_by="self_confidence")
    theirs = [ids[i] for i in cl_idx]
    ours_p, ours_r = top_k(ranked_all, flipped, k)
    cl_p, cl_r = top_k(theirs, flipped, k)
    oracle = out / "flipped.csv"  # the flipped examples themselves: what a perfect list would drop
    oracle.write_text("id\n" + "\n".join(sorted(flipped)) + "\n")
    accs = {name: train(data, model, out / name, extra)
            for name, data, extra in (("clean", f"{tag}-clean", None), ("noisy", f"{tag}-noisy", None),
                                      ("dropped", f"{tag}-noisy",
                                       {"drop": str(out / "labels" / "labels.csv")}),
                                      ("oracle", f"{tag}-noisy", {"drop": str(oracle)}))}
    lost = accs["clean"]["accuracy"] - accs["noisy"]["accuracy"]

    def share(accuracy: float) -> float | str:
        return round((accuracy - accs["noisy"]["accuracy"]) / lost, 3) if lost > 0 else "no loss"

    return {"case": label, "model": f"{model['backbone']} linear probe (defaults)", "labeled": len(ids),
            "flipped (k)": k, "flagged": found.flagged,
            "precision@k robustune": round(ours_p, 3), "recall@k robustune": round(ours_r, 3),
            "precision@k cleanlab": round(cl_p, 3), "recall@k cleanlab": round(cl_r, 3),
            "cleanlab list": len(theirs), "labels s": round(seconds, 1),
            "holdout acc clean": round(accs["clean"]["accuracy"], 4),
            "holdout acc noisy": round(accs["noisy"]["accuracy"], 4),
            "holdout acc noisy --drop": round(accs["dropped"]["accuracy"], 4),
            "holdout acc noisy, flips dropped (oracle)": round(accs["oracle"]["accuracy"], 4),
            "dropped": accs["noisy"]["train"] - accs["dropped"]["train"],
            "recovered share": share(accs["dropped"]["accuracy"]),
            "recovered share (oracle)": share(accs["oracle"]["accuracy"])}


def main() -> None:
    rows = [case(*c) for c in CASES]
    checks: dict[str, bool] = {}
    for r in rows:
        checks[f"{r['case']}: precision and recall@k >= cleanlab's - 2 points"] = (
            r["precision@k robustune"] >= r["precision@k cleanlab"] - 0.02
            and r["recall@k robustune"] >= r["recall@k cleanlab"] - 0.02)
        rec = r["recovered share"]
        checks[f"{r['case']}: --drop recovers >= half the accuracy lost to the noise"] = (
            isinstance(rec, float) and rec >= 0.5)
    notes = ["the same out-of-sample probabilities (robustune labels' probabilities.json) go to cleanlab 2.9 "
             "find_label_issues(return_indices_ranked_by='self_confidence'); each list's first k entries "
             "count",
             f"{SHARE:.0%} of the labeled pool (training + validation) flipped to another class at random "
             f"(seed {SEED + 1}); the holdout (the dataset's own test split, or a disjoint share) is clean",
             "'recovered share': (accuracy with --drop - noisy) / (clean - noisy); 'no loss' when the noise "
             "cost "
             "nothing"]
    write_results("labels", "python bench/bench_labels.py", rows, checks, notes)


if __name__ == "__main__":
    main()
