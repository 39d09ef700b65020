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
from plugins.errors import InvalidInput, opt
from plugins.events import Cancelled, Event, Events, Metric, Progress, Reporter, reporter
from plugins.records import Result
from plugins.registry import registry

RESULT_FILE = "tune.json"


@dataclass
class TuneResult(Result):
    """Every trial, the best parameters, the retrained bundle and its holdout metrics."""

    trials: list[dict[str, Any]]
    best_params: dict[str, Any]
    best_value: float
    bundle: Path
    holdout: dict[str, Any]
    files: list[Path]


def _modality(options: dict[str, Any]) -> str:
    from finetune.data.config import DataOptions
    from finetune.data.spec import load_data

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


def first_trial(options: dict[str, Any], max_epochs: int) -> dict[str, Any]:
    """The model's own settings (its training defaults, or the generic ones) as Optuna parameters,
    clipped to the search space."""
    train = from_options({**options, "out": "unused"}).train
    out: dict[str, Any] = {"epochs": min(max(train.epochs, max(1, max_epochs // 3)), max_epochs)}
    for name in ("lr", "weight_decay"):
        _, low, high = SHARED[name]
        out[name] = min(max(float(getattr(train, name)), low), high)
    return out


def _remove_trials(folder: Path) -> None:
    """Delete the trial bundles (and a pruned trial's work folder); anything else stays."""
    if not folder.is_dir():
        return
    for child in sorted(folder.iterdir()):
        remove_output(child)
    with contextlib.suppress(OSError):
        folder.rmdir()


class TrialEvents:
    """One trial's events: each epoch's validation accuracy goes to Optuna, and a pruned trial is
    stopped through the same cancellation check a job's cancel uses."""

    def __init__(self, outer: Reporter, trial: Any) -> None:
        self.outer, self.trial = outer, trial
        self.seen: list[float] = []
        self.pruned = False

    def emit(self, event: Event) -> None:
        """Report epochs to Optuna; pass the rest on as this trial's progress."""
        if isinstance(event, Metric) and event.name == "epoch":
            self.seen.append(float(event.values["val_accuracy"]))
            self.trial.report(self.seen[-1], len(self.seen))
            self.pruned = self.pruned or bool(self.trial.should_prune())
        elif isinstance(event, Progress):
            self.outer.progress(f"trial {self.trial.number}: {event.stage}", event.step, event.total,
                                event.message, event.overall)

    def cancelled(self) -> bool:
        """Stop when Optuna prunes the trial or the whole search is cancelled."""
        return self.pruned or self.outer.sink.cancelled()


def run_tune(options: dict[str, Any], model: str, trials: int, out: Path, max_epochs: int = 10,
             seed: int = 0, overwrite: bool = False, events: Events | Reporter | None = None) -> TuneResult:
    """Search ``trials`` settings of ``model`` on validation accuracy (median pruning per epoch)."""
    import optuna

    from finetune.driver import run_training
    from finetune.evaluation import evaluate_bundle
    from finetune.selection.candidates import check_model
    from plugins.bundle import load_bundle

    if trials < 1:
        raise InvalidInput(f"{opt('trials')} must be at least 1", field='trials')
    check_model(model)
    check_writable_target(out / RESULT_FILE, overwrite)
    options = {**options, "backbone": model, "overwrite": True}
    modality = _modality(options)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    curves: dict[str, list[float]] = {}

    report = reporter(events)

    def objective(trial: optuna.Trial) -> float:
        opts = trial_options(trial, options, model, modality, max_epochs)
        cfg = from_options({**opts, "out": str(out / "trials" / f"trial-{trial.number}")})
        sink = TrialEvents(report.part(trial.number, trials + 1), trial)  # + 1: the retraining
        report.progress("trials", trial.number, trials)
        try:
            result = run_training(cfg, events=sink, holdout=False)
        except Cancelled:
            if not sink.pruned:
                raise
            curves[f"trial {trial.number} (pruned)"] = list(sink.seen)
            report.log(f"trial {trial.number}: pruned after {len(sink.seen)} epochs {trial.params}")
            report.metric("trial", step=trial.number, state="pruned", params=trial.params,
                          curve=list(sink.seen))
            raise optuna.TrialPruned() from None
        curves[f"trial {trial.number}"] = [h["val_accuracy"] for h in result.history.epochs]
        accuracy = float(result.metrics["val"]["accuracy"])
        report.log(f"trial {trial.number}: val accuracy {accuracy:.4f} {trial.params}")
        report.metric("trial", step=trial.number, state="complete", val_accuracy=accuracy,
                      params=trial.params, curve=curves[f"trial {trial.number}"])
        return accuracy

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    study.enqueue_trial(first_trial(options, max_epochs))  # the search starts from the model's defaults
    study.optimize(objective, n_trials=trials, catch=())
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise InvalidInput(f"every trial was pruned or failed; raise {opt('trials')} or {opt('max_epochs')}")
    best = study.best_trial
    _remove_trials(out / "trials")
    final_opts = trial_options(optuna.trial.FixedTrial(best.params), options, model, modality, max_epochs)
    final_cfg = from_options({**final_opts, "out": str(out / "best")})
    report.progress("trials", trials, trials)
    final = run_training(final_cfg, events=report, holdout=False)
    used, holdout, *_ = evaluate_bundle(load_bundle(final.bundle), final.config.data, "holdout",
                                       final.config.data_options, final.config.train.precision)
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
