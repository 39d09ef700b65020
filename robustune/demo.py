"""``make demo``: the main job on offline defaults, an image model and a text model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table

from finetune.recipes.supervised import run_training
from finetune.run_config import RunConfig, from_options
from plugins.backbones import backbone_modality
from robustune.present import console

JOBS: dict[str, dict[str, Any]] = {
    "fashion-mnist-efficientnet": {
        "data": "fashion-mnist", "backbone": "efficientnet_lite0", "adapter": "partial",
        "unfreeze": 2, "image_size": 96, "per_class": 100, "test_per_class": 50,
        "epochs": 5, "lr": 2e-3, "backbone_lr_mult": 0.3, "augment": "shift",
    },
    "rotten-tomatoes-minilm": {
        "data": "rotten-tomatoes", "backbone": "bert", "adapter": "full",
        "per_class": 250, "test_per_class": 250, "epochs": 3, "lr": 1e-3,
        "backbone_lr_mult": 0.05, "max_length": 64,
    },
}
QUICK = {"per_class": 12, "test_per_class": 10, "epochs": 1}
AUDITS: dict[str, dict[str, Any]] = {  # per modality: attacks, budgets, examples
    "image": {"attacks": ("fgsm", "pgd"), "eps": (1 / 255, 2 / 255, 4 / 255, 8 / 255), "n": 200},
    "text": {"attacks": ("word-level", "embedding-pgd"), "eps": (0.02, 0.05, 0.1, 0.2), "n": 100},
}


def demo_configs(out: Path, quick: bool) -> list[RunConfig]:
    """The demo's run configs (``quick``: tiny subsets for tests)."""
    return [
        from_options({**job, **(QUICK if quick else {}), "out": str(out / name), "overwrite": True})
        for name, job in JOBS.items()
    ]


def run_demo(out: Path, quick: bool = False) -> None:
    """Fine-tune both models, evaluate on their holdouts, print a summary and bundle paths."""
    table = Table(title="robustune demo: holdout results")
    for col in ("model", "adapter", "train/val/test", "accuracy", "macro-F1", "time"):
        table.add_column(col, no_wrap=col != "model")
    for cfg in demo_configs(out, quick):
        console.rule(f"{cfg.backbone} on {cfg.data}")
        start = time.perf_counter()
        result = run_training(cfg)
        test = result.metrics["test"]
        sizes = "/".join(str(v) for v in result.split_sizes.values())
        table.add_row(f"{cfg.backbone} on {cfg.data}", cfg.adapter, sizes, f"{test['accuracy']:.3f}",
                      f"{test['macro_f1']:.3f}", f"{time.perf_counter() - start:.0f} s")
    console.print(table)
    for cfg in demo_configs(out, quick):
        console.print(f"bundle: {cfg.out}  (try: robustune evaluate {cfg.out} --data {cfg.data})",
                      soft_wrap=True)
    audit_demo(demo_configs(out, quick), quick)


def audit_demo(configs: list[RunConfig], quick: bool) -> None:
    """Audit each model (images: FGSM and PGD; texts: word-level and embedding PGD) over four
    budgets and print the tables."""
    from robustness.audit import AuditConfig
    from robustune.audit_cmd import audit_bundle, audit_table, text_attack_table

    for run in configs:
        modality = backbone_modality(run.backbone) or "image"
        spec = AUDITS[modality]
        cfg = AuditConfig(attacks=spec["attacks"], eps=spec["eps"], steps=10)
        console.rule(f"audit: {run.backbone} on {run.data}")
        n = 10 if quick else spec["n"]
        result = audit_bundle(Path(run.out), run.data, cfg, n, Path(run.out) / "audit", overwrite=True)
        console.print(audit_table(result.report))
        if modality == "text":
            console.print(text_attack_table(result.report))
        console.print(f"audit: {run.out}/audit (audit.json, robustness_curve.png)", soft_wrap=True)
