"""The ``lbfgs`` recipe: the solver reaches scikit-learn's logistic-regression optimum, and a default
linear probe uses it, records its choice, and keeps its validation metrics honest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from finetune.driver import run_training
from finetune.recipes.lbfgs import solve
from finetune.run_config import from_options


def test_solver_matches_scikit_learn_logistic_regression() -> None:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0).clip(1e-6)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    l2 = 1e-2
    w, b = solve(xt, yt, 10, l2)
    # scikit-learn: C * sum(loss) + |W|^2 / 2, i.e. mean loss + |W|^2 / (2 C N)
    ref = LogisticRegression(C=1.0 / (l2 * len(x)), max_iter=5000, tol=1e-8).fit(x, y)

    def objective(weights: np.ndarray, bias: np.ndarray) -> float:
        logits = xt @ torch.tensor(weights, dtype=torch.float32).T + torch.tensor(bias, dtype=torch.float32)
        return float(F.cross_entropy(logits, yt)) + 0.5 * l2 * float((weights ** 2).sum())

    ours, theirs = objective(w.numpy(), b.numpy()), objective(ref.coef_, ref.intercept_)
    assert ours <= theirs + 1e-3, (ours, theirs)
    agree = float((F.linear(xt, w, b).argmax(1).numpy() == ref.predict(x)).mean())
    assert agree >= 0.99


def test_default_linear_probe_solves_and_records(tmp_path: Path) -> None:
    base = {"data": "digits", "backbone": "resnet18", "weights": "none", "image_size": 16, "per_class": 60,
            "seed": 0}
    solved = run_training(from_options({**base, "out": str(tmp_path / "lbfgs")}))
    stepped = run_training(from_options({**base, "recipe": "supervised", "out": str(tmp_path / "adamw")}))
    meta = json.loads((tmp_path / "lbfgs" / "robustune.json").read_text())
    assert meta["recipe"] == "lbfgs" and meta["adapter"]["name"] == "linear-probe"
    probe = meta["training"]["probe"]
    assert probe["refit"] == "train+val" and probe["l2"] in probe["grid"]
    # validation metrics come from the fit chosen on train only, not from the refit that saw them
    assert meta["metrics"]["val"]["accuracy"] == pytest.approx(probe["selection_val_accuracy"], abs=1e-6)
    assert solved.history.epochs[solved.history.best_epoch - 1]["l2"] == probe["l2"]
    # random 16 px ResNet features: the solved probe is no worse than ten AdamW epochs
    assert solved.metrics["test"]["accuracy"] >= stepped.metrics["test"]["accuracy"] - 0.01
    # the model card lists the settings each recipe used: none of AdamW's for the solved probe
    from explain.sections.card import model_card
    from plugins.bundle import load_bundle

    def card(path: Path) -> dict[str, object]:
        (table,) = model_card(load_bundle(path)).blocks
        return {row["item"]: row["value"] for row in table.rows}  # type: ignore[attr-defined]

    lbfgs, adamw = card(tmp_path / "lbfgs"), card(tmp_path / "adamw")
    assert lbfgs["recipe"] == "lbfgs" and not {"epochs", "lr", "batch size", "best epoch"} & set(lbfgs)
    assert adamw["recipe"] == "supervised" and {"epochs", "lr", "batch size"} <= set(adamw)
