"""``tune``: Optuna search on the validation split with pruning, then one retrain scored on the holdout."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.run_config import from_options
from finetune.selection.curves import plot_curves
from finetune.selection.space import PRETRAINED, SHARED, model_space, suggest
from plugins import jsonio
from plugins.atomic import atomic_write_text, check_writable_target, remove_output
from plugins.errors import RobustuneError
from plugins.registry import registry

RESULT_FILE = "tune.json"


@dataclass
class TuneResult:
    """Every trial, the best parameters, the retrained bundle and its holdout metrics."""

    trials: list[dict[str, Any]]
    best_params: dict[str, Any]
    best_value: float
    bundle: Path
    holdout: dict[str, Any]
    files: list[Path]


def _modality(options: dict[str, Any]) -> str:
    from finetune.data.spec import load_data
    from finetune.data.types import DataOptions

    cfg = from_options({**options, "out": "unused"})
    return str(load_data(cfg.data, cfg.data_options or DataOptions()).pool.modality)


def trial_options(trial: Any, options: dict[str, Any], model: str, modality: str,
                  max_epochs: int) -> dict[str, Any]:
    """The run options of one trial: the user's options overridden by the sampled ones."""
    drawn = suggest(trial, SHARED)
    drawn["epochs"] = trial.suggest_int("epochs", max(1, max_epochs // 3), max_epochs)
    scratch = bool(getattr(registry.get("backbone", model), "from_scratch", False)) \
        if registry.has("backbone", model) else False
    if scratch:
        sizes = suggest(trial, model_space(model, modality), prefix="model.")
        given = options.get("model_options") or {}
        if isinstance(given, str):
            from plugins.backbones.scratch import parse_options

            given = parse_options(given)
        drawn["model_options"] = {**given, **sizes}
    else:
        drawn.update(suggest(trial, PRETRAINED))
    return {**options, **drawn}


def _remove_trials(folder: Path) -> None:
    """Delete the trial bundles (and a pruned trial's work folder); anything else stays."""
    if not folder.is_dir():
        return
    for child in sorted(folder.iterdir()):
        remove_output(child)
    with contextlib.suppress(OSError):
        folder.rmdir()


def run_tune(options: dict[str, Any], model: str, trials: int, out: Path, max_epochs: int = 10,
             seed: int = 0, overwrite: bool = False, progress: bool = True) -> TuneResult:
    """Search ``trials`` settings of ``model`` on validation accuracy (median pruning per epoch)."""
    import optuna

    from finetune.evaluation import evaluate_bundle
    from finetune.recipes.supervised import run_training
    from finetune.selection.candidates import check_model
    from plugins.bundle import load_bundle

    if trials < 1:
        raise RobustuneError("--trials must be at least 1")
    check_model(model)
    check_writable_target(out / RESULT_FILE, overwrite)
    options = {**options, "backbone": model, "overwrite": True}
    modality = _modality(options)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    curves: dict[str, list[float]] = {}

    def objective(trial: optuna.Trial) -> float:
        opts = trial_options(trial, options, model, modality, max_epochs)
        cfg = from_options({**opts, "out": str(out / "trials" / f"trial-{trial.number}")})
        seen: list[float] = []

        def report(record: dict[str, float]) -> None:
            seen.append(record["val_accuracy"])
            trial.report(record["val_accuracy"], len(seen))
            if trial.should_prune():
                curves[f"trial {trial.number} (pruned)"] = list(seen)
                raise optuna.TrialPruned()

        result = run_training(cfg, progress=False, holdout=False, on_epoch_end=report)
        curves[f"trial {trial.number}"] = [h["val_accuracy"] for h in result.history.epochs]
        if progress:
            print(f"trial {trial.number}: val accuracy {result.metrics['val']['accuracy']:.4f} "
                  f"{trial.params}", flush=True)
        return float(result.metrics["val"]["accuracy"])

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    study.optimize(objective, n_trials=trials, catch=())
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise RobustuneError("every trial was pruned or failed; raise --trials or --max-epochs")
    best = study.best_trial
    _remove_trials(out / "trials")
    final_opts = trial_options(optuna.trial.FixedTrial(best.params), options, model, modality, max_epochs)
    final_cfg = from_options({**final_opts, "out": str(out / "best")})
    final = run_training(final_cfg, progress=progress, holdout=False)
    used, holdout = evaluate_bundle(load_bundle(final.bundle), final.config.data, "holdout",
                                    final.config.data_options)
    rows = [{"trial": t.number, "state": t.state.name.lower(), "val_accuracy": t.value, "params": t.params}
            for t in study.trials]
    files = plot_curves(curves, out / "trial_curves.png", f"tune {model}: validation accuracy per epoch")
    payload = {"model": model, "data": final.config.data, "trials": rows, "best_trial": best.number,
               "best_params": best.params, "best_val_accuracy": best.value, "bundle": str(final.bundle),
               "holdout": {"split": used, **holdout},
               "note": "searched on validation; the retrained best was evaluated on the holdout once"}
    atomic_write_text(out / RESULT_FILE, jsonio.dumps(payload))
    return TuneResult(rows, best.params, float(best.value or 0.0), final.bundle, holdout,
                      [out / RESULT_FILE, *files])
