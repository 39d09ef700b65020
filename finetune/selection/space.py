"""Search spaces for ``tune``: shared training settings plus each model family's own sizes."""

from __future__ import annotations

from typing import Any

# name -> ("float-log" | "float" | "int" | "choice", low or choices, high)
SHARED: dict[str, tuple[Any, ...]] = {
    "lr": ("float-log", 1e-4, 1e-2),
    "weight_decay": ("float-log", 1e-5, 1e-1),
}
PRETRAINED: dict[str, tuple[Any, ...]] = {"dropout": ("float", 0.0, 0.5)}
# from-scratch plugin -> its model options
MODEL_OPTIONS: dict[str, dict[str, tuple[Any, ...]]] = {
    "cnn": {"width": ("choice", [16, 32, 64]), "depth": ("int", 1, 4), "dropout": ("float", 0.0, 0.5)},
    "rnn": {"hidden": ("choice", [64, 128, 256]), "layers": ("int", 1, 2), "dropout": ("float", 0.0, 0.5)},
    "lstm": {"hidden": ("choice", [64, 128, 256]), "layers": ("int", 1, 2),
             "bidirectional": ("choice", [False, True]), "dropout": ("float", 0.0, 0.5)},
    "dbn": {"hidden": ("choice", ["256-256", "500-500", "500-500-500"]), "cd_k": ("int", 1, 3)},
    "gan": {"hidden": ("choice", ["500-250-250", "1000-500-250"]), "noise": ("float", 0.2, 0.6)},
}


def suggest(trial: Any, space: dict[str, tuple[Any, ...]], prefix: str = "") -> dict[str, Any]:
    """Draw every entry of ``space`` from an Optuna trial."""
    out: dict[str, Any] = {}
    for name, (kind, *args) in space.items():
        key = prefix + name
        if kind == "float-log":
            out[name] = trial.suggest_float(key, args[0], args[1], log=True)
        elif kind == "float":
            out[name] = trial.suggest_float(key, args[0], args[1])
        elif kind == "int":
            out[name] = trial.suggest_int(key, args[0], args[1])
        else:
            out[name] = trial.suggest_categorical(key, args[0])
    return out


def model_space(model: str, modality: str) -> dict[str, tuple[Any, ...]]:
    """The model-option space of a from-scratch plugin on this modality (empty for pretrained ones)."""
    space = dict(MODEL_OPTIONS.get(model, {}))
    if model == "cnn" and modality == "text":
        space = {"filters": ("choice", [50, 100, 200]), "dropout": ("float", 0.0, 0.6)}
    return space
