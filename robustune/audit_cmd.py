"""``robustune audit``: load a bundle and its data, run the audit, write and print the results."""

from __future__ import annotations

from pathlib import Path

import torch
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from finetune.data.spec import data_paths
from finetune.data.types import DataOptions, TextData
from finetune.evaluation import bundle_data, bundle_labels
from finetune.preprocess import prepare_inputs
from finetune.run_config import parse_number
from plugins.atomic import check_writable_target, output_lock
from plugins.bundle import load_bundle, read_meta
from plugins.errors import RobustuneError
from robustness.audit import AuditConfig, AuditResult, run_audit, validate
from robustness.outputs import write_audit
from robustness.text_audit import run_text_audit
from robustune.present import console

DEFAULT_N = 500


def parse_eps(text: str) -> tuple[float, ...]:
    """``"1/255,2/255,0.01"`` -> floats; a malformed or empty value raises."""
    parts = text.split(",")
    if not text.strip() or any(not p.strip() for p in parts):
        raise RobustuneError(f"--eps {text!r} has an empty value; give budgets like 1/255,2/255,4/255,8/255")
    return tuple(parse_number(p) for p in parts)


def parse_attacks(text: str) -> tuple[str, ...]:
    """``"fgsm,pgd"`` -> names; an empty list or an empty name raises."""
    names = tuple(a.strip() for a in text.split(","))
    if not text.strip() or any(not a for a in names):
        raise RobustuneError(f"--attacks {text!r} has an empty name; give attack plugins like fgsm,pgd")
    return names


def audit_bundle(bundle_path: Path, data: str, cfg: AuditConfig, n: int | None, out: Path,
                 split: str = "auto", overwrite: bool = False, default_n: int = DEFAULT_N,
                 options: DataOptions | None = None) -> AuditResult:
    """Audit the first ``n`` examples (a fixed shuffle of the split; without ``n``, up to
    ``default_n``) and write ``out``."""
    if n is not None and n < 1:
        raise RobustuneError(f"--n must be at least 1, got {n}")
    validate(cfg, str(read_meta(bundle_path)["modality"]))  # settings before any folder is made
    inputs: list[Path | str | None] = [bundle_path, *data_paths(data, options)]
    check_writable_target(out, overwrite, inputs)
    with output_lock(out):
        check_writable_target(out, overwrite, inputs)  # again, now that no one else writes it
        return _audit(bundle_path, data, cfg, n, out, split, overwrite, default_n, options, inputs)


def _audit(bundle_path: Path, data: str, cfg: AuditConfig, n: int | None, out: Path, split: str,
           overwrite: bool, default_n: int, options: DataOptions | None, inputs: list[Path | str | None],
           ) -> AuditResult:
    bundle = load_bundle(bundle_path)
    validate(cfg, bundle.modality)
    _, dataset = bundle_data(bundle, data, split, options)
    if n is not None and n > len(dataset):
        raise RobustuneError(f"--n {n} is larger than the {len(dataset)} examples available; lower --n")
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(cfg.seed))
    dataset = dataset.subset(order[: n or min(default_n, len(dataset))].tolist())
    labels = bundle_labels(dataset, bundle)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("attacking", total=None)

        def show(what: str) -> None:
            bar.update(task, description=f"attacking: {what}")

        if isinstance(dataset, TextData):
            max_length = int(bundle.meta["preprocessing"]["max_length"])
            result = run_text_audit(bundle.model, bundle.tokenizer, max_length,  # type: ignore[arg-type]
                                    dataset.texts, labels, bundle.labels, cfg, progress=show)
        else:
            pixels = prepare_inputs(dataset, bundle.meta["preprocessing"])["pixels"].float() / 255.0
            result = run_audit(bundle.model, pixels, labels, bundle.labels, cfg, progress=show)
    write_audit(result, out, overwrite, inputs)
    return result


def audit_table(report: dict) -> Table:  # type: ignore[type-arg]
    """Robust accuracy per attack (rows) and epsilon (columns), worst case last."""
    text = report.get("modality") == "text"
    table = Table(title=f"robust accuracy (n = {report['n']}, clean {report['clean_accuracy']:.3f})")
    table.add_column("attack", no_wrap=True)
    keys = [f"{e:.6g}" for e in report["eps"]]
    for e in report["eps"]:
        table.add_column(f"{e:.3g}" if text else f"{e * 255:.3g}/255", justify="right")
    table.add_column("seconds", justify="right")
    for name, by_eps in report["attacks"].items():
        seconds = sum(by_eps[k]["seconds"] for k in keys)
        table.add_row(name, *[f"{by_eps[k]['robust_accuracy']:.3f}" for k in keys], f"{seconds:.1f}")
    table.add_row("worst case", *[f"{report['worst_case'][k]['robust_accuracy']:.3f}" for k in keys], "")
    return table


def text_attack_table(report: dict) -> Table:  # type: ignore[type-arg]
    """Text audits: success rate, words changed and queries per attack at the largest budget."""
    last = f"{report['eps'][-1]:.6g}"
    table = Table(title=f"text attacks at budget {last}")
    for col in ("attack", "success rate", "words changed", "queries / example", "relative norm"):
        table.add_column(col, justify="left" if col == "attack" else "right", no_wrap=col == "attack")
    for name, by_eps in report["attacks"].items():
        s = by_eps[last]
        table.add_row(name, f"{s['success_rate']:.3f}", f"{s['mean_words_changed']:.2f}",
                      f"{s['mean_queries']:.1f}", f"{s['mean_relative_norm']:.3f}")
    return table
