"""PGD adversarial training (Madry et al.) of the fine-tuned efficientnet_lite0 on Fashion-MNIST,
against the same fine-tuning without it, both trained and audited in this run.

Run: .venv/bin/python bench/bench_adversarial.py
Targets: at eps 2/255 the adversarially trained model gains >= 20 points of PGD-10 robust accuracy
and loses <= 8 points of clean accuracy (the audit's subset of the holdout).
"""

from __future__ import annotations

import common  # noqa: F401  (sets the offline environment first)
from bench_image import RUNS, SHARED
from common import WORK, write_results

from finetune.evaluation import bundle_data, bundle_labels
from finetune.preprocess import prepare_inputs
from plugins.bundle import load_bundle
from robustness.audit import run_audit
from robustness.config import AuditConfig
from robustness.defaults import IMAGE_EPS as DEFAULT_EPS

N_AUDIT = 500
ADV = {"adversarial": "pgd", "adv_eps": 2 / 255, "adv_steps": 3}
RUNS_HERE = {"standard": RUNS["full"], "pgd-at 2/255": {**RUNS["full"], **ADV}}


def audit(path: str) -> dict[str, object]:
    """PGD-10 over the four budgets on the first N_AUDIT holdout images."""
    bundle = load_bundle(WORK / path)
    _, data = bundle_data(bundle, "fashion-mnist")
    data = data.subset(list(range(N_AUDIT)))
    x = prepare_inputs(data, bundle.meta.preprocessing)["pixels"].float() / 255
    cfg = AuditConfig(attacks=("pgd",), eps=DEFAULT_EPS, steps=10)
    return run_audit(bundle.model, x, bundle_labels(data, bundle), bundle.labels, cfg).report


def main() -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    rows = []
    for name, opts in RUNS_HERE.items():
        out = f"adversarial-{name.split()[0]}"
        result = run_training(from_options({**SHARED, **opts, "out": str(WORK / out)}))
        report = audit(out)
        pgd = report["attacks"]["pgd"]  # type: ignore[index]
        rows.append({"model": name, "holdout_accuracy_10k": result.metrics["test"]["accuracy"],
                     "clean_accuracy": report["clean_accuracy"],
                     **{f"pgd_{round(e * 255)}/255": pgd[f"{e:.6g}"]["robust_accuracy"] for e in DEFAULT_EPS},
                     "train_s": round(result.seconds["train"], 1), "audit_s": report["seconds"]})
        print(rows[-1], flush=True)
    base, adv = rows
    gain = 100 * (adv["pgd_2/255"] - base["pgd_2/255"])
    loss = 100 * (base["clean_accuracy"] - adv["clean_accuracy"])
    checks = {f"PGD robust accuracy at 2/255 gains {gain:.1f} points >= 20": gain >= 20,
              f"clean accuracy loses {loss:.1f} points <= 8": loss <= 8}
    notes = [f"both use bench_image.py's full fine-tuning settings (128 px, 200 labeled per class, seed 0); "
             f"the second adds --adversarial pgd --adv-eps 2/255 --adv-steps {ADV['adv_steps']}",
             f"audit: PGD-10 Linf, random start, step 2.5*eps/10, on the first {N_AUDIT} holdout images; "
             "holdout_accuracy_10k is the whole official test split"]
    write_results("adversarial_training", "python bench/bench_adversarial.py", rows, checks, notes)


if __name__ == "__main__":
    main()
