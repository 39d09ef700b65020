"""Commands that train: train, run, compare, tune, recommend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finetune.run_config import RunConfig
from robustune.cli.app import app
from robustune.cli.options import TRACK, Param, add_command, cli_param, config_values, job_fn, spec_params
from robustune.cli.render import console, metrics_table, ranking_table, recommend_table, run_job
from robustune.jobs import compare, recommend, train, tune
from robustune.jobs import run as run_
from robustune.jobs.selection import SELECT_OPTIONS

CONFIG = cli_param("config", Path, "YAML/JSON file of the same options (flags given here win)")
QUIET = cli_param("quiet", bool, "no progress bars or epoch lines")
TRAIN = spec_params(RunConfig)


def _options(params: list[Param], values: dict[str, Any], cli_only: tuple[str, ...]) -> dict[str, Any]:
    """The given spec options on top of the ``--config`` file's."""
    given = {k: v for k, v in values.items() if k not in cli_only}
    return {**config_values(values.get("config"), params), **given}


# train -------------------------------------------------------------------------------------------------
TRAIN_PARAMS = [CONFIG, *TRAIN, cli_param("resume", Path, "resume the unfinished run whose --out was DIR"),
                TRACK, QUIET]



def _train(values: dict[str, Any]) -> None:
    if values.get("resume") is not None:
        spec = train.TrainSpec.resuming(Path(values["resume"]))
    else:
        spec = train.TrainSpec.from_options(_options(TRAIN_PARAMS, values, ("config", "resume", "quiet",
                                                                            "track")))
    result = run_job(job_fn("train", train.run, values), spec, bool(values.get("quiet")))
    used = result.config
    console.print(metrics_table(f"{used.backbone} + {used.adapter} ({used.recipe})", result.metrics))
    console.print(f"bundle: {result.bundle}", soft_wrap=True)


add_command(app, "train", "Fine-tune a backbone on labeled data and write a bundle.", TRAIN_PARAMS, _train)

# run ---------------------------------------------------------------------------------------------------
RUN_PARAMS = [CONFIG, *[p for p in TRAIN if p.name != "out"], *spec_params(run_.RunSpec, skip=("run",)),
              TRACK, QUIET]


def show_run(result: run_.RunOutput, title: str) -> None:
    """Steps done earlier, the metrics and audit tables of the steps that ran, and the paths."""
    for step in result.skipped:
        where = {"train": result.bundle, "audit": result.audit, "report": result.report}[step]
        console.print(f"{step}: done earlier ({where})", soft_wrap=True)
    if "train" in result.ran:
        console.print(metrics_table(title, result.metrics))
    if "audit" in result.ran:
        from robustune.cli.audit import show_audit

        show_audit(result.audit_report, result.audit)
    console.print(f"bundle: {result.bundle}\naudit: {result.audit}\nreport: {result.report}", soft_wrap=True)


def _run(values: dict[str, Any]) -> None:
    spec = run_.RunSpec.from_options(_options(RUN_PARAMS, values, ("config", "quiet", "track")))
    show_run(run_job(job_fn("run", run_.run, values), spec, bool(values.get("quiet"))),
             f"{spec.run.backbone} + {spec.run.adapter}")


add_command(app, "run", "The whole job: fine-tune, audit, report; a rerun resumes and skips finished steps.",
            RUN_PARAMS, _run)

# compare, tune, recommend -----------------------------------------------------------------------------
SELECT = spec_params(RunConfig, only=SELECT_OPTIONS)
COMPARE_PARAMS = [*SELECT, *spec_params(compare.CompareSpec), CONFIG, QUIET]


def _compare(values: dict[str, Any]) -> None:
    own = ("candidates", "out", "overwrite")
    options = _options(COMPARE_PARAMS, values, ("config", "quiet", *own))
    spec = compare.CompareSpec.from_json({**{k: v for k, v in options.items() if k in own},
                                          **{k: values[k] for k in own if k in values},
                                          "options": {k: v for k,
                                                      v in options.items() if k not in own}}, lax=True)
    result = run_job(compare.run, spec, bool(values.get("quiet")))
    console.print(ranking_table("validation ranking", result.rows))
    console.print(f"winner: {result.rows[0]['candidate']}  holdout accuracy "
                  f"{result.holdout['accuracy']:.4f}, "
                  f"macro F1 {result.holdout['macro_f1']:.4f} (holdout touched once)")
    files = ", ".join(str(f) for f in result.files)
    console.print(f"bundle: {result.winner}\nfiles: {files}", soft_wrap=True)


add_command(app, "compare", "Train every candidate on the same split, rank them on validation, score the "
                            "winner on the holdout.", COMPARE_PARAMS, _compare)

TUNE_PARAMS = [*spec_params(tune.TuneSpec, only=("model",)), *SELECT,
               *spec_params(RunConfig, only=("adapter",)), *spec_params(tune.TuneSpec, skip=("model",)),
               CONFIG, TRACK, QUIET]


def _tune(values: dict[str, Any]) -> None:
    own = ("model", "trials", "max_epochs", "out", "overwrite")
    options = _options(TUNE_PARAMS, values, ("config", "quiet", "track", *own))
    spec_values = {k: values[k] for k in own if k in values}
    if "seed" in options:
        spec_values["seed"] = options["seed"]
    spec = tune.TuneSpec.from_json({**spec_values, "options": options}, lax=True)
    result = run_job(job_fn("tune", tune.run, values), spec, bool(values.get("quiet")))
    pruned = sum(1 for t in result.trials if t["state"] == "pruned")
    console.print(f"{len(result.trials)} trials ({pruned} pruned); best validation accuracy "
                  f"{result.best_value:.4f} with {result.best_params}", soft_wrap=True)
    console.print(f"retrained best: holdout accuracy {result.holdout['accuracy']:.4f}, macro F1 "
                  f"{result.holdout['macro_f1']:.4f} (holdout touched once)")
    files = ", ".join(str(f) for f in result.files)
    console.print(f"bundle: {result.bundle}\nfiles: {files}", soft_wrap=True)


add_command(app, "tune", "Search learning rate, weight decay, epochs and model sizes (Optuna, pruning); "
                         "retrain the best.", TUNE_PARAMS, _tune)

RECOMMEND_PARAMS = [*SELECT, *spec_params(recommend.RecommendSpec), CONFIG]


def _recommend(values: dict[str, Any]) -> None:
    own = ("budget", "interpretable", "probe")
    options = _options(RECOMMEND_PARAMS, values, ("config", *own))
    spec = recommend.RecommendSpec.from_json({**{k: values[k] for k in own if k in values},
                                              "options": options},
                                             lax=True)
    result = run_job(recommend.run, spec)
    prof = result.profile
    size = f"images ~{prof.image_size}px" if prof.image_size else f"texts ~{prof.text_words:.0f} words"
    console.print(f"{prof.modality} data: {prof.train} training examples, {prof.classes} classes, fewest "
                  f"{prof.min_per_class} per class, {size}", soft_wrap=True)
    console.print(recommend_table(result.suggestions, result.budget_s))
    top = result.suggestions[0]
    console.print(f"next: robustune train --data {options['data']} --model {top.model} --adapter "
                  f"{top.adapter}",
                  soft_wrap=True)


add_command(app, "recommend", "Ranked model + adapter suggestions for this data, with reasons and measured "
                              "time estimates.", RECOMMEND_PARAMS, _recommend)
