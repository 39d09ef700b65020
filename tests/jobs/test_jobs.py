"""The application API alone: jobs called with specs, events collected, no terminal."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.errors import Conflict, InvalidInput, NotFound, RobustuneError, Unsupported
from plugins.events import Cancelled, ListEvents, Log, Metric, Progress
from robustune.jobs import JOBS, audit, evaluate, explain, predict, report, train
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

FIXTURE = Path(__file__).parents[1] / "fixtures" / "bundle-v1-cnn"


def _monotone(events: ListEvents) -> None:
    """Within each stage, progress never goes backwards and never passes its total."""
    last: dict[str, int] = {}
    for e in events.of(Progress):
        assert e.step >= last.get(e.stage, 0), (e.stage, e.step, last.get(e.stage))
        assert e.total is None or e.step <= e.total, e
        last[e.stage] = e.step


def _digit_png(path: Path) -> Path:
    from sklearn.datasets import load_digits

    Image.fromarray(np.rint(load_digits().images[0] * 255 / 16).astype(np.uint8)).save(path)
    return path


def test_train_audit_explain_report_through_jobs(tmp_path: Path) -> None:
    events = ListEvents()
    trained = train.run(train.TrainSpec.from_options({"data": "digits", "model": "cnn", "epochs": 2,
                                                      "per_class": 40, "out": str(tmp_path / "b")}), events)
    epochs = [e for e in events.of(Metric) if e.name == "epoch"]
    assert [e.step for e in epochs] == [1, 2] and {"train_loss", "val_accuracy"} <= set(epochs[0].values)
    assert trained.metrics["test"]["accuracy"] > 0.3 and (tmp_path / "b" / "model.safetensors").is_file()
    assert any(isinstance(e, Log) and "trainable parameters" in e.message for e in events.events)
    json.dumps(trained.to_json())  # results are JSON

    audit_events = ListEvents()
    audited = audit.run(audit.AuditSpec(str(trained.bundle), "digits", ("fgsm",), (2 / 255, 8 / 255), n=40),
                        audit_events)
    assert audited.report["n"] == 40 and set(audited.report["attacks"]) == {"fgsm"}
    assert [m.values["attack"] for m in audit_events.of(Metric)] == ["fgsm", "fgsm"]

    png = _digit_png(tmp_path / "d.png")
    explained = explain.run(explain.ExplainSpec(str(trained.bundle), (str(png),), method="saliency"))
    assert explained.rows[0]["overlay"] and (explained.out / explained.rows[0]["overlay"]).is_file()
    predicted = predict.run(predict.PredictSpec(str(trained.bundle), (str(png),), top_k=2))
    assert len(predicted.rows[0]["top"]) == 2

    report_events = ListEvents()
    written = report.run(report.ReportSpec(str(trained.bundle), "digits", str(tmp_path / "r.html"),
                                           audit=str(audited.out), gallery=1, n_steps=4, quality_n=2),
                         report_events)
    page = written.files[0].read_text()
    assert "<h2>Robustness</h2>" in page and "<h2>Clean versus adversarial</h2>" in page
    for collected in (events, audit_events, report_events):
        _monotone(collected)
        assert collected.of(Progress), "every job reports progress"
    final = [e for e in report_events.of(Progress) if e.stage == "report"][-1]
    assert final.step == final.total  # the last progress event closes the stage


def test_cancelled_training_keeps_a_resumable_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "b"
    spec = train.TrainSpec.from_options({"data": "digits", "model": "cnn", "epochs": 3, "patience": 9,
                                         "per_class": 40, "out": str(out)})
    after_first = ListEvents(lambda ev: any(isinstance(e, Metric) and e.name == "epoch" for e in ev))
    with pytest.raises(Cancelled, match="last finished epoch is kept"):
        train.run(spec, after_first)
    assert not out.exists() and (tmp_path / "b.work" / "ckpt" / "checkpoint.json").is_file()
    resumed_events = ListEvents()
    resumed = train.run(train.TrainSpec.resuming(out), resumed_events)
    assert [e.step for e in resumed_events.of(Metric) if e.name == "epoch"] == [2, 3]
    assert len(resumed.history.epochs) == 3 and not (tmp_path / "b.work").exists()


def test_cancelled_audit_writes_nothing(tmp_path: Path, digits_cnn: Path) -> None:
    out = tmp_path / "audit"
    first_batch = ListEvents(lambda ev: any(isinstance(e,
                                                       Progress) and e.stage.startswith("pgd") and e.step >= 1
                                            for e in ev))
    with pytest.raises(Cancelled):
        audit.run(audit.AuditSpec(str(digits_cnn), "digits", ("pgd",), (8 / 255,), n=200, out=str(out)),
                  first_batch)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_error_kinds_direct_and_through_the_cli(cli: Cli, tmp_path: Path, digits_cnn: Path,
                                                text_bundle: Path) -> None:
    cases = [
        (InvalidInput, "train.lr",
         lambda: train.TrainSpec.from_options({"data": "digits", "model": "cnn", "lr": -1,
                                               "out": str(tmp_path / "o")}),
         ["train", "--data", "digits", "--model", "cnn", "--lr", "-1", "--out",
          tmp_path / "o"], "--lr must be"),
        (NotFound, "bundle", lambda: evaluate.run(evaluate.EvaluateSpec(str(tmp_path / "none"), "digits")),
         ["evaluate", tmp_path / "none", "--data", "digits"], "does not exist"),
        (Conflict, "out", lambda: audit.run(audit.AuditSpec(str(digits_cnn), "digits", out=str(digits_cnn))),
         ["audit", digits_cnn, "--data", "digits", "--out",
          digits_cnn], "already exists; choose another --out"),
        (Unsupported, "method", lambda: explain.run(explain.ExplainSpec(str(text_bundle), texts=("good",),
                                                                        method="gradcam")),
         ["explain", text_bundle, "--text", "good", "--method", "gradcam"], "use --method"),
    ]
    for kind, field, direct, args, fragment in cases:
        with pytest.raises(kind) as caught:
            direct()
        assert caught.value.field == field and "--" not in str(caught.value), str(caught.value)
        r = cli(*args)
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and fragment in r.err, r.err


def test_every_job_kind_loads_and_round_trips_its_spec(tmp_path: Path) -> None:
    for kind, job in JOBS.items():
        spec_type, fn = job.load()
        assert callable(fn) and spec_type.__name__.endswith("Spec"), kind
    spec = audit.AuditSpec("b", "digits", ("fgsm", "pgd"), (1 / 255,), n=5)
    assert audit.AuditSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    with pytest.raises(RobustuneError, match="field n is a string"):
        audit.AuditSpec.from_json({**spec.to_json(), "n": "five"}, where="request")


def test_a_bundle_written_before_this_version_loads(tmp_path: Path) -> None:
    """tests/fixtures/bundle-v1-cnn was written by robustune 8a6035c (format 1, no output marker)."""
    stored = json.loads((FIXTURE / "robustune.json").read_text())["metrics"]["test"]["accuracy"]
    result = evaluate.run(evaluate.EvaluateSpec(str(FIXTURE), "digits"))
    assert result.split == "holdout" and result.metrics["accuracy"] == pytest.approx(stored)
    png = tmp_path / "zero.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(png)
    (row,) = predict.run(predict.PredictSpec(str(FIXTURE), (str(png),))).rows  # no trust record: raw
    assert not row["calibrated"] and "robustune calibrate" in row["trust_note"] and "set" not in row
    from robustune.jobs import calibrate

    old = tmp_path / "old"
    shutil.copytree(FIXTURE, old)
    weights = (old / "model.safetensors").read_bytes()
    done = calibrate.run(calibrate.CalibrateSpec(str(old), "digits", coverage=0.95))
    assert done.examples == "validation" and done.trust["fitted_on"]["n"] == 287  # its own validation split
    assert (old / "model.safetensors").read_bytes() == weights  # only robustune.json changed
    (row,) = predict.run(predict.PredictSpec(str(old), (str(png),))).rows
    assert row["calibrated"] and row["coverage"] == 0.95 and row["top"][0]["label"] in row["set"]
    energy = evaluate.run(evaluate.EvaluateSpec(str(old), "digits", unfamiliar_data="fashion-mnist"))
    # Mahalanobis on the penultimate features: its tensors in a trust-HASH.safetensors the record names
    refit = calibrate.run(calibrate.CalibrateSpec(str(old), "digits", unfamiliar="mahalanobis"))
    unfamiliar = refit.trust["unfamiliar"]
    assert unfamiliar["score"] == "mahalanobis" and unfamiliar["fitted_on"] == 143  # the other 144 set
    assert [p.name for p in old.glob("trust-*.safetensors")] == [unfamiliar["file"]]  # its threshold
    (row,) = predict.run(predict.PredictSpec(str(old), (str(png),))).rows
    assert row["calibrated"] and isinstance(row["unfamiliar"], bool) and row["score"] > 0
    by_features = evaluate.run(evaluate.EvaluateSpec(str(old), "digits", unfamiliar_data="fashion-mnist"))
    mine, theirs = by_features.metrics["trust"]["unfamiliar"], energy.metrics["trust"]["unfamiliar"]
    assert mine["score"] == "mahalanobis" and theirs["score"] == "energy"
    assert mine["auroc"] > 0.9, (mine, theirs)  # clothes are far from every digit's features
    assert abs(by_features.metrics["trust"]["unfamiliar"]["flagged"] - 0.05) < 0.05  # its own holdout
    calibrate.run(calibrate.CalibrateSpec(str(old), "digits"))  # back to energy: the tensors go
    assert not list(old.glob("trust-*.safetensors"))


def test_run_of_a_from_scratch_text_model_audits_with_text_attacks(tmp_path: Path, text_csv: Path) -> None:
    """lstm has no modality of its own: the run takes it from the trained bundle, not 'image'."""
    from robustune.jobs import run as run_job

    spec = run_job.RunSpec.from_options({"data": f"csv:{text_csv}", "model": "lstm", "epochs": 1,
                                         "out": str(tmp_path / "r"), "n": 8, "steps": 2})
    assert spec.audit_config() is None  # not known before training
    out = run_job.run(spec)
    audited = json.loads((out.audit / "audit.json").read_text())
    assert audited["modality"] == "text" and set(audited["attacks"]) == {"embedding-pgd", "word-level"}
    assert out.report.is_file()
