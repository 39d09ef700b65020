"""The ``robustune`` command line: train, run, evaluate, predict, audit, explain, report, import,
plugins, demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from plugins import jsonio
from plugins.errors import RobustuneError, brief

app = typer.Typer(
    help="Fine-tune classifiers on small labeled data, audit robustness, explain them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Opt = typer.Option
DATA_HELP = "digits, fashion-mnist, rotten-tomatoes, imagefolder:PATH or csv:PATH"
ADAPTER_HELP = ("linear-probe | full | partial | scratch | lora | gradual | discriminative "
                "[linear-probe; scratch for from-scratch models]")


@app.command()
def train(
    config: Annotated[Path | None, Opt(help="YAML/JSON file of the same options")] = None,
    data: Annotated[str | None, Opt(help=DATA_HELP)] = None,
    backbone: Annotated[str | None, Opt(help="registered backbone, timm name or HF folder")] = None,
    model: Annotated[str | None, Opt(help="same as --backbone: e.g. cnn, lstm, dbn, gan, resnet18, bert")]
    = None,
    model_options: Annotated[str | None, Opt(help="from-scratch model sizes, e.g. depth=3,width=32 "
                                                  "(see README: Model zoo)")] = None,
    adapter: Annotated[str | None, Opt(help=ADAPTER_HELP)] = None,
    recipe: Annotated[str | None, Opt(help="supervised | dbn | semi-gan [the model's own]")] = None,
    out: Annotated[str | None, Opt(help="bundle folder to write")] = None,
    resume: Annotated[Path | None, Opt(help="resume the unfinished run whose --out was DIR")] = None,
    weights: Annotated[str | None, Opt(help="auto | hub | packaged | none | PATH [auto]")] = None,
    image_size: Annotated[int | None, Opt(help="input size (default: the backbone's)")] = None,
    max_length: Annotated[int | None, Opt(help="max tokens per text")] = None,
    pooling: Annotated[str | None, Opt(help="text pooling: mean | cls")] = None,
    model_id: Annotated[str | None, Opt(help="hub id for --weights hub (text)")] = None,
    head: Annotated[str | None, Opt(help="head plugin")] = None,
    dropout: Annotated[float | None, Opt(help="head dropout")] = None,
    unfreeze: Annotated[int | None, Opt(help="blocks to train with --adapter partial [2]")] = None,
    backbone_lr_mult: Annotated[float | None, Opt(help="backbone LR / head LR [0.1]")] = None,
    lr_decay: Annotated[float | None, Opt(help="gradual/discriminative: LR ratio per block downward [0.8]")]
    = None,
    unfreeze_every: Annotated[int | None, Opt(help="gradual: epochs per newly unfrozen block [1]")] = None,
    lora_r: Annotated[int | None, Opt(help="lora: rank [8]")] = None,
    lora_alpha: Annotated[float | None, Opt(help="lora: scale numerator (scale = alpha / r) [16]")] = None,
    lora_dropout: Annotated[float | None, Opt(help="lora: dropout on the adapter input [0]")] = None,
    lora_targets: Annotated[str | None, Opt(help="lora: comma list of layer names [text: query,value; "
                                                 "images: every Linear and ungrouped Conv2d]")] = None,
    epochs: Annotated[int | None, Opt(help="at most this many epochs [10]")] = None,
    batch_size: Annotated[int | None, Opt(help="[32]")] = None,
    lr: Annotated[float | None, Opt(help="head learning rate [1e-3]")] = None,
    weight_decay: Annotated[float | None, Opt(help="AdamW weight decay [0.01]")] = None,
    warmup_fraction: Annotated[float | None, Opt(help="share of steps warming up, then cosine [0.1]")] = None,
    label_smoothing: Annotated[float | None, Opt(help="[0]")] = None,
    class_weights: Annotated[bool | None, Opt(help="balanced class weights in the loss")] = None,
    patience: Annotated[int | None, Opt(help="epochs without improvement before stopping [3]")] = None,
    seed: Annotated[int | None, Opt(help="splits, init, order, augmentation [0]")] = None,
    device: Annotated[str | None, Opt(help="auto | cpu | cuda")] = None,
    augment: Annotated[str | None, Opt(help="comma list of shift, flip, color")] = None,
    per_class: Annotated[int | None, Opt(help="labeled examples per class (train + val)")] = None,
    labeled_per_class: Annotated[int | None, Opt(help="keep N labels per class in training, the rest "
                                                      "unlabeled (semi-gan)")] = None,
    test_per_class: Annotated[int | None, Opt(help="cap the holdout per class")] = None,
    val_fraction: Annotated[float | None, Opt(help="validation share of the labeled set [0.2]")] = None,
    test_fraction: Annotated[float | None, Opt(help="holdout share, if no own test split [0.2]")] = None,
    text_column: Annotated[str | None, Opt(help="CSV text column [text]")] = None,
    label_column: Annotated[str | None, Opt(help="CSV label column [label]")] = None,
    skip_corrupt: Annotated[bool | None, Opt(help="skip unreadable images (counted)")] = None,
    adversarial: Annotated[str | None, Opt(help="adversarial training: none | pgd | trades [none]")] = None,
    adv_eps: Annotated[str | None, Opt(help="adversarial training budget, Linf pixels [2/255]")] = None,
    adv_steps: Annotated[int | None, Opt(help="attack steps per adversarial batch [7]")] = None,
    trades_beta: Annotated[float | None, Opt(help="TRADES robustness weight [6]")] = None,
    overwrite: Annotated[bool | None, Opt(help="replace an existing --out")] = None,
    quiet: Annotated[bool, Opt(help="no progress output")] = False,
) -> None:
    """Fine-tune a backbone on labeled data and write a bundle."""
    given = {k: v for k, v in locals().items() if k not in ("config", "resume", "quiet")}
    from finetune.recipes.supervised import resume_config, run_training
    from finetune.run_config import from_options, read_config_file
    from robustune.present import console, metrics_table

    if resume is not None:
        cfg = resume_config(resume)
    else:
        options: dict[str, Any] = read_config_file(config) if config else {}
        options.update({k: v for k, v in given.items() if v is not None})
        cfg = from_options(options)
    result = run_training(cfg, resume=resume is not None, progress=not quiet)
    used = result.config
    console.print(metrics_table(f"{used.backbone} + {used.adapter} ({used.recipe})", result.metrics))
    console.print(f"bundle: {result.bundle}", soft_wrap=True)


@app.command()
def run(
    out: Annotated[Path, Opt(help="folder for model/, audit/ and report.html")],
    config: Annotated[Path | None, Opt(help="YAML/JSON file of train options (as for train)")] = None,
    data: Annotated[str | None, Opt(help=DATA_HELP)] = None,
    backbone: Annotated[str | None, Opt(help="registered backbone, timm name or HF folder")] = None,
    model: Annotated[str | None, Opt(help="same as --backbone (cnn, lstm, dbn, gan, resnet18, ...)")] = None,
    model_options: Annotated[str | None, Opt(help="from-scratch model sizes, e.g. depth=3,width=32")] = None,
    adapter: Annotated[str | None, Opt(help=ADAPTER_HELP)] = None,
    weights: Annotated[str | None, Opt(help="auto | hub | packaged | none | PATH [auto]")] = None,
    image_size: Annotated[int | None, Opt(help="input size (default: the backbone's)")] = None,
    max_length: Annotated[int | None, Opt(help="max tokens per text")] = None,
    per_class: Annotated[int | None, Opt(help="labeled examples per class")] = None,
    epochs: Annotated[int | None, Opt(help="at most this many epochs [10]")] = None,
    lr: Annotated[float | None, Opt(help="head learning rate [1e-3]")] = None,
    attacks: Annotated[str | None, Opt(help="audit attacks [by modality, as for audit]")] = None,
    eps: Annotated[str | None, Opt(help="audit budgets [by modality, as for audit]")] = None,
    n: Annotated[int, Opt(help="examples to audit (at most the holdout)")] = 200,
    pdf: Annotated[bool, Opt(help="also print the report to PDF (needs Chromium)")] = False,
    quiet: Annotated[bool, Opt(help="no training progress")] = False,
) -> None:
    """The whole job: fine-tune, audit, report; a rerun resumes and skips finished steps."""
    given = {k: v for k, v in locals().items()
             if k in ("data", "backbone", "model", "model_options", "adapter", "weights", "image_size",
                      "max_length", "per_class",
                      "epochs", "lr")}
    from finetune.run_config import from_options, read_config_file
    from robustune.audit_cmd import parse_attacks, parse_eps
    from robustune.pipeline import PipelineConfig, run_pipeline
    from robustune.present import console

    options: dict[str, Any] = read_config_file(config) if config else {}
    options.update({k: v for k, v in given.items() if v is not None})
    run_cfg = from_options({**options, "out": str(out / "model")})
    names = parse_attacks(attacks) if attacks is not None else None
    cfg = PipelineConfig(attacks=names, eps=parse_eps(eps) if eps is not None else None, audit_n=n, pdf=pdf)
    result = run_pipeline(run_cfg, out, cfg, progress=not quiet)
    console.print(f"bundle: {result.bundle}\naudit: {result.audit}\nreport: {result.report}", soft_wrap=True)


SELECT_OPTIONS = ("data", "epochs", "lr", "batch_size", "image_size", "max_length", "per_class",
                  "test_per_class", "seed", "patience", "text_column", "label_column")


def _select_options(config: Path | None, given: dict[str, Any]) -> dict[str, Any]:
    from finetune.run_config import read_config_file

    options: dict[str, Any] = read_config_file(config) if config else {}
    options.update({k: v for k, v in given.items() if k in SELECT_OPTIONS and v is not None})
    if "data" not in options:
        raise RobustuneError("missing --data; it is required")
    return options


@app.command()
def compare(
    data: Annotated[str | None, Opt(help=DATA_HELP)] = None,
    candidates: Annotated[str, Opt(help="comma list of MODEL[:ADAPTER], e.g. "
                                        "efficientnet_lite0:linear-probe,cnn,lstm")] = "",
    out: Annotated[Path, Opt(help="folder for one bundle per candidate, compare.json and the plot")]
    = Path("compare-out"),
    config: Annotated[Path | None, Opt(help="YAML/JSON file of shared train options")] = None,
    epochs: Annotated[int | None, Opt(help="at most this many epochs [10]")] = None,
    lr: Annotated[float | None, Opt(help="learning rate [1e-3]")] = None,
    batch_size: Annotated[int | None, Opt(help="[32]")] = None,
    image_size: Annotated[int | None, Opt(help="input size for every image candidate")] = None,
    max_length: Annotated[int | None, Opt(help="max tokens per text")] = None,
    per_class: Annotated[int | None, Opt(help="labeled examples per class (train + val)")] = None,
    test_per_class: Annotated[int | None, Opt(help="cap the holdout per class")] = None,
    seed: Annotated[int | None, Opt(help="split and training seed [0]")] = None,
    patience: Annotated[int | None, Opt(help="early-stopping patience [3]")] = None,
    text_column: Annotated[str | None, Opt(help="CSV text column")] = None,
    label_column: Annotated[str | None, Opt(help="CSV label column")] = None,
    overwrite: Annotated[bool, Opt(help="replace an earlier compare.json in --out")] = False,
    quiet: Annotated[bool, Opt(help="no training progress")] = False,
) -> None:
    """Train every candidate on the same split, rank them on validation, score the winner on the holdout."""
    from finetune.selection.candidates import parse_candidates
    from finetune.selection.compare import run_compare
    from robustune.present import console, ranking_table

    if not candidates:
        raise RobustuneError("give --candidates, e.g. efficientnet_lite0:linear-probe,cnn")
    cands = parse_candidates(candidates)  # before any data is read
    result = run_compare(_select_options(config, locals()), cands, out, overwrite, progress=not quiet)
    console.print(ranking_table("validation ranking", result.rows))
    console.print(f"winner: {result.rows[0]['candidate']}  holdout accuracy "
                  f"{result.holdout['accuracy']:.4f}, "
                  f"macro F1 {result.holdout['macro_f1']:.4f} (holdout touched once)")
    files = ", ".join(str(f) for f in result.files)
    console.print(f"bundle: {result.winner}\nfiles: {files}", soft_wrap=True)


@app.command()
def tune(
    model: Annotated[str, Opt(help="model to tune (a backbone or from-scratch plugin)")],
    data: Annotated[str | None, Opt(help=DATA_HELP)] = None,
    trials: Annotated[int, Opt(help="Optuna trials")] = 10,
    max_epochs: Annotated[int, Opt(help="the epoch count is searched up to this")] = 10,
    adapter: Annotated[str | None, Opt(help=ADAPTER_HELP)] = None,
    out: Annotated[Path, Opt(help="folder for the best bundle, tune.json and the plot")] = Path("tune-out"),
    config: Annotated[Path | None, Opt(help="YAML/JSON file of fixed train options")] = None,
    batch_size: Annotated[int | None, Opt(help="[32]")] = None,
    image_size: Annotated[int | None, Opt(help="input size for images")] = None,
    max_length: Annotated[int | None, Opt(help="max tokens per text")] = None,
    per_class: Annotated[int | None, Opt(help="labeled examples per class (train + val)")] = None,
    test_per_class: Annotated[int | None, Opt(help="cap the holdout per class")] = None,
    seed: Annotated[int, Opt(help="split, training and sampler seed")] = 0,
    text_column: Annotated[str | None, Opt(help="CSV text column")] = None,
    label_column: Annotated[str | None, Opt(help="CSV label column")] = None,
    overwrite: Annotated[bool, Opt(help="replace an earlier tune.json in --out")] = False,
    quiet: Annotated[bool, Opt(help="no progress")] = False,
) -> None:
    """Search learning rate, weight decay, epochs and model sizes (Optuna, pruning); retrain the best."""
    from finetune.selection.tune import run_tune
    from robustune.present import console

    options = _select_options(config, locals())
    if adapter:
        options["adapter"] = adapter
    result = run_tune(options, model, trials, out, max_epochs, seed, overwrite, progress=not quiet)
    pruned = sum(1 for t in result.trials if t["state"] == "pruned")
    console.print(f"{len(result.trials)} trials ({pruned} pruned); best validation accuracy "
                  f"{result.best_value:.4f} with {result.best_params}", soft_wrap=True)
    console.print(f"retrained best: holdout accuracy {result.holdout['accuracy']:.4f}, macro F1 "
                  f"{result.holdout['macro_f1']:.4f} (holdout touched once)")
    files = ", ".join(str(f) for f in result.files)
    console.print(f"bundle: {result.bundle}\nfiles: {files}", soft_wrap=True)


@app.command()
def recommend(
    data: Annotated[str | None, Opt(help=DATA_HELP)] = None,
    budget: Annotated[str | None, Opt(help="training time you can spend on this machine: 90s, 20m, 1h")]
    = None,
    interpretable: Annotated[bool, Opt(help="prefer models whose explanations are easiest to trust")] = False,
    epochs: Annotated[int | None, Opt(help="epochs the estimate assumes [10]")] = None,
    per_class: Annotated[int | None, Opt(help="labeled examples per class (train + val)")] = None,
    batch_size: Annotated[int | None, Opt(help="[32]")] = None,
    text_column: Annotated[str | None, Opt(help="CSV text column")] = None,
    label_column: Annotated[str | None, Opt(help="CSV label column")] = None,
    probe: Annotated[bool, Opt(help="time each suggestion with a few real training steps")] = True,
    config: Annotated[Path | None, Opt(help="YAML/JSON file of train options")] = None,
) -> None:
    """Ranked model + adapter suggestions for this data, with reasons and measured time estimates."""
    from finetune.selection.recommend import parse_budget
    from finetune.selection.recommend import recommend as suggest
    from robustune.present import console, recommend_table

    budget_s = parse_budget(budget) if budget else None
    with console.status("profiling the data and timing each suggestion on this machine"):
        options = _select_options(config, locals())
        prof, rows = suggest(options, budget_s, interpretable, probe)
    size = f"images ~{prof.image_size}px" if prof.image_size else f"texts ~{prof.text_words:.0f} words"
    console.print(f"{prof.modality} data: {prof.train} training examples, {prof.classes} classes, "
                  f"fewest {prof.min_per_class} per class, {size}", soft_wrap=True)
    console.print(recommend_table(rows, budget_s))
    console.print(f"next: robustune train --data {options['data']} --model "
                  f"{rows[0].model} --adapter {rows[0].adapter}", soft_wrap=True)


@app.command()
def evaluate(
    bundle: Annotated[Path, typer.Argument(help="bundle folder")],
    data: Annotated[str, Opt(help="labeled data, as for train")],
    split: Annotated[str, Opt(help="auto (holdout if same source) | holdout | all")] = "auto",
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
) -> None:
    """Evaluate a bundle on labeled data."""
    from finetune.evaluation import evaluate_bundle
    from plugins.bundle import load_bundle
    from robustune.present import console, metrics_table, per_class_table

    used, metrics = evaluate_bundle(load_bundle(bundle), data, split)
    if as_json:
        print(jsonio.dumps({"split": used, **metrics}))
        return
    console.print(metrics_table(f"{bundle}", {used: metrics}))
    console.print(per_class_table(metrics))


@app.command()
def predict(
    bundle: Annotated[Path, typer.Argument(help="bundle folder")],
    files: Annotated[list[Path] | None, typer.Argument(help="image files")] = None,
    text: Annotated[list[str] | None, Opt(help="text to classify (repeatable)")] = None,
    top_k: Annotated[int, Opt(help="labels to show per input")] = 3,
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
) -> None:
    """Top-k labels with probabilities for image files or texts."""
    from finetune.predict import bundle_inputs_for_files, bundle_inputs_for_texts
    from finetune.predict import top_k as topk
    from plugins.bundle import load_bundle
    from robustune.present import print_predictions

    if not files and not text:
        raise RobustuneError("give image files or --text \"...\" to predict")
    b = load_bundle(bundle)
    if text:
        names, inputs = list(text), bundle_inputs_for_texts(b, list(text))
    else:
        names, inputs = [str(f) for f in files or []], bundle_inputs_for_files(b, list(files or []))
    preds = topk(b, inputs, top_k)
    if as_json:
        rows = [{"input": n, "top": [{"label": lab, "probability": p} for lab, p in pr]}
                for n, pr in zip(names, preds, strict=True)]
        print(jsonio.dumps(rows))
    else:
        print_predictions(names, preds)


@app.command()
def audit(
    bundle: Annotated[Path, typer.Argument(help="bundle folder (an image or text model)")],
    data: Annotated[str, Opt(help="labeled data; its holdout is used when it is the training source")],
    attacks: Annotated[str | None, Opt(help="comma list of attack plugins [images: fgsm,pgd; texts: "
                                            "embedding-pgd,word-level]")] = None,
    eps: Annotated[str | None, Opt(help="comma list of budgets in (0, 1]: pixel units for images "
                                        "[1/255,2/255,4/255,8/255]; for texts the relative embedding "
                                        "norm or fraction of words [0.02,0.05,0.1,0.2]")] = None,
    n: Annotated[int | None, Opt(help="examples to attack [up to 500]")] = None,
    steps: Annotated[int, Opt(help="iterations of iterative attacks")] = 10,
    n_queries: Annotated[int, Opt(help="queries of the square attack")] = 1000,
    batch_size: Annotated[int, Opt()] = 64,
    seed: Annotated[int, Opt()] = 0,
    split: Annotated[str, Opt(help="auto | holdout | all")] = "auto",
    out: Annotated[Path | None, Opt(help="audit folder [BUNDLE/audit]")] = None,
    overwrite: Annotated[bool, Opt(help="replace an existing audit folder")] = False,
) -> None:
    """Attack a bundle: robust accuracy per attack and epsilon, worst case, sanity flags, curve."""
    from plugins.bundle import read_meta
    from robustness.audit import DEFAULT_ATTACKS, DEFAULT_EPS, AuditConfig
    from robustness.text_audit import TEXT_EPS
    from robustune.audit_cmd import audit_bundle, audit_table, parse_attacks, parse_eps, text_attack_table
    from robustune.present import console

    modality = str(read_meta(bundle)["modality"])
    names = parse_attacks(attacks if attacks is not None else DEFAULT_ATTACKS[modality])
    budgets = parse_eps(eps) if eps is not None else (TEXT_EPS if modality == "text" else DEFAULT_EPS)
    cfg = AuditConfig(attacks=names, eps=budgets, steps=steps, n_queries=n_queries,
                      batch_size=batch_size, seed=seed)
    target = out or bundle / "audit"
    result = audit_bundle(bundle, data, cfg, n, target, split, overwrite)
    console.print(audit_table(result.report))
    if modality == "text":
        console.print(text_attack_table(result.report))
    for flag in result.report["flags"]:
        console.print(f"[bold yellow]flag[/] {flag['code']}: {flag['message']}")
    if not result.report["flags"]:
        console.print("sanity flags: none raised")
    examples = "adversarial_texts.json" if modality == "text" else "adversarial.safetensors"
    console.print(f"audit: {target}/audit.json, robustness_curve.png/.svg, {examples}", soft_wrap=True)


@app.command()
def explain(
    bundle: Annotated[Path, typer.Argument(help="bundle folder")],
    files: Annotated[list[Path] | None, typer.Argument(help="image files")] = None,
    text: Annotated[list[str] | None, Opt(help="text to explain (repeatable)")] = None,
    method: Annotated[str, Opt(help="explainer plugin (see robustune plugins)")] = "integrated-gradients",
    target: Annotated[str | None, Opt(help="class to explain [the predicted one]")] = None,
    out: Annotated[Path | None, Opt(help="output folder [BUNDLE/explanations]")] = None,
    n_steps: Annotated[int, Opt(help="integrated gradients: path steps")] = 50,
    layer: Annotated[str | None, Opt(help="gradcam: layer name [the last convolutional stage]")] = None,
    base: Annotated[str, Opt(help="smoothgrad: the explainer it averages")] = "saliency",
    n_samples: Annotated[int, Opt(help="smoothgrad / gradient-shap samples")] = 20,
    window: Annotated[int, Opt(help="occlusion: window side in pixels")] = 8,
    overwrite: Annotated[bool, Opt(help="replace an existing --out")] = False,
) -> None:
    """Attributions for image files (overlay PNGs) or texts (highlighted words in HTML)."""
    from explain.base import ExplainConfig
    from robustune.explain_cmd import explain_bundle
    from robustune.present import console

    cfg = ExplainConfig(n_steps=n_steps, layer=layer, base=base, n_samples=n_samples, window=window,
                        stride=max(1, window // 2))
    target_dir = out or bundle / "explanations"
    rows = explain_bundle(bundle, list(files or []), list(text or []), method, cfg, target_dir, target,
                          overwrite)
    for row in rows:
        what = row.get("input") or row["text"]
        extra = f"  top words: {', '.join(row['top_words'])}" if "top_words" in row else ""
        console.print(f"{what}: {row['explained_class']} (predicted {row['prediction']}, "
                      f"p = {row['probability']:.2f}){extra}", soft_wrap=True)
    page = "explanations.html" if rows and "text" in rows[0] else "overlay PNGs"
    console.print(f"explanations: {target_dir} ({page}, explanations.json)", soft_wrap=True)


@app.command()
def report(
    bundle: Annotated[Path, typer.Argument(help="bundle folder")],
    data: Annotated[str, Opt(help="labeled data; its holdout is used when it is the training source")],
    out: Annotated[Path, Opt(help="HTML file to write, e.g. report.html")],
    audit: Annotated[Path | None, Opt(help="an audit folder or its audit.json (robustness section)")]
    = None,
    pdf: Annotated[bool, Opt(help="also print a PDF next to the HTML (needs Chromium)")] = False,
    group_column: Annotated[str | None, Opt(help="CSV column naming each row's group (bias metrics)")] = None,
    groups: Annotated[Path | None, Opt(help="images: a CSV path,group mapping files to groups")] = None,
    positive: Annotated[str | None, Opt(help="bias metrics: the positive class [the second label]")] = None,
    text_column: Annotated[str, Opt(help="CSV text column")] = "text",
    label_column: Annotated[str, Opt(help="CSV label column")] = "label",
    gallery: Annotated[int, Opt(help="examples per gallery")] = 4,
    n_steps: Annotated[int, Opt(help="integrated-gradients steps")] = 32,
    overwrite: Annotated[bool, Opt(help="replace an existing --out")] = False,
) -> None:
    """One self-contained HTML report: model card, metrics, groups, robustness, explanations."""
    from finetune.data.types import DataOptions
    from robustune.present import console
    from robustune.report_cmd import ReportConfig, build_report

    options = DataOptions(text_column=text_column, label_column=label_column, group_column=group_column,
                          groups_file=str(groups) if groups else None)
    cfg = ReportConfig(gallery=gallery, n_steps=n_steps, positive=positive)
    with console.status("writing the report (explanations take a while on a CPU)"):
        paths = build_report(bundle, data, out, audit, pdf, options, cfg, overwrite)
    for path in paths:
        console.print(f"report: {path}", soft_wrap=True)


@app.command("import")
def import_model(
    out: Annotated[Path, Opt(help="bundle folder to write")],
    timm_arch: Annotated[str | None, Opt("--timm", help="timm architecture the weights were trained with")]
    = None,
    hf: Annotated[Path | None, Opt(help="a Hugging Face sequence-classification folder (save_pretrained)")]
    = None,
    weights: Annotated[Path | None, Opt(help="with --timm: whole-model state dict (.pth, .safetensors)")]
    = None,
    labels: Annotated[str | None, Opt(help="class names in logit order: a comma list or a file "
                                           "[--hf: the config's id2label]")] = None,
    image_size: Annotated[int | None, Opt(help="input size [the architecture's]")] = None,
    mean: Annotated[str | None, Opt(help="normalization mean, e.g. 0.5,0.5,0.5 [the architecture's]")] = None,
    std: Annotated[str | None, Opt(help="normalization std [the architecture's]")] = None,
    max_length: Annotated[int, Opt(help="with --hf: longest input in tokens")] = 128,
    overwrite: Annotated[bool, Opt(help="replace an existing --out")] = False,
) -> None:
    """Wrap a classifier trained elsewhere into a bundle: a timm architecture + weights, or an HF folder."""
    from finetune.importing import import_hf, import_timm, read_labels
    from finetune.run_config import parse_number
    from robustune.present import console

    def triple(text: str | None) -> list[float] | None:
        return None if text is None else [parse_number(v) for v in text.split(",")]

    if (timm_arch is None) == (hf is None):
        raise RobustuneError("pass exactly one of --timm ARCH (with --weights and --labels) or --hf FOLDER")
    if hf is not None:
        path = import_hf(hf, out, read_labels(labels) if labels else None, max_length, overwrite)
    else:
        if weights is None or labels is None:
            raise RobustuneError("--timm needs --weights FILE and --labels (a comma list or a file)")
        path = import_timm(str(timm_arch), weights, read_labels(labels), out, image_size, triple(mean),
                           triple(std), overwrite)
    console.print(f"bundle: {path}", soft_wrap=True)


@app.command()
def plugins() -> None:
    """List every plugin by kind: name, one-line description, the distribution it comes from."""
    from plugins.registry import registry

    entries = list(registry)
    width = max(len(e.name) for e in entries)
    for kind in registry.kinds():
        print(f"{kind}:")
        for e in (e for e in entries if e.kind == kind):
            print(f"  {e.name:<{width}}  {e.description}  [{e.source}]")


@app.command()
def demo(
    out: Annotated[Path, Opt(help="folder for the demo bundles")] = Path("demo-out"),
    quick: Annotated[bool, Opt(help="tiny subsets (for tests)")] = False,
) -> None:
    """The main job on offline defaults: fine-tune an image and a text model, evaluate both."""
    from robustune.demo import run_demo

    run_demo(out, quick)


def _usage_errors() -> tuple[type[BaseException], ...]:
    """typer's exceptions (0.29 vendors click) and click's own (older typer), by their public names."""
    kinds: list[type[BaseException]] = [typer.TyperException]
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:  # pragma: no cover - typer without click
        pass
    return tuple(kinds)


def _aborts() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [typer.Abort, KeyboardInterrupt, EOFError]
    try:
        import click

        kinds.append(click.exceptions.Abort)
    except ImportError:  # pragma: no cover
        pass
    return tuple(kinds)


def _fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)  # always one line
    if hint:
        print(hint, file=sys.stderr)
    sys.exit(code)


def _usage(exc: BaseException) -> NoReturn:
    """One line naming the problem, then typer's usage hint (``Try 'robustune X --help'``)."""
    message = " ".join(str(getattr(exc, "format_message", lambda: str(exc))()).split())
    ctx = getattr(exc, "ctx", None)
    hint = None
    if ctx is not None:
        hint = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help."
    code = getattr(exc, "exit_code", 2)
    _fail(message, code if isinstance(code, int) and code else 2, hint)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit; Ctrl-C exits 130.

    Usage errors exit 2 with typer's usage hint; a bug prints one line too (set ROBUSTUNE_DEBUG=1
    for its traceback).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args or ["--help"], prog_name="robustune", standalone_mode=False)
    except RobustuneError as exc:
        _fail(str(exc), exc.exit_code)
    except typer.Exit as exc:
        code = exc.exit_code
    except _aborts():
        _fail("interrupted", 130)
    except _usage_errors() as exc:
        _usage(exc)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("ROBUSTUNE_DEBUG"):
            raise
        first = brief(exc)
        _fail(f"internal error ({type(exc).__name__}: {first}); please report it (set ROBUSTUNE_DEBUG=1 "
              "to see the traceback)", 1)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == 130:
            _fail("interrupted", 130)
        sys.exit(code)
