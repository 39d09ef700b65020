"""Commands on bundles: evaluate, predict, import, export."""

from __future__ import annotations

from typing import Any

from plugins import jsonio
from robustune.cli.app import app
from robustune.cli.options import add_command, cli_param, spec_params
from robustune.cli.render import console, metrics_table, per_class_table, predictions_table, run_job
from robustune.jobs import evaluate, export, importing, predict

JSON = cli_param("json", bool, "print JSON")
EVALUATE_PARAMS = [*spec_params(evaluate.EvaluateSpec), JSON]


def _evaluate(values: dict[str, Any]) -> None:
    as_json = values.pop("json", False)
    result = run_job(evaluate.run, evaluate.EvaluateSpec.from_json(values, lax=True), quiet=as_json)
    if as_json:
        print(jsonio.dumps({"split": result.split, **result.metrics}))
        return
    console.print(metrics_table(f"{result.bundle}", {result.split: result.metrics}))
    console.print(per_class_table(result.metrics))


add_command(app, "evaluate", "Evaluate a bundle on labeled data.", EVALUATE_PARAMS, _evaluate)

PREDICT_PARAMS = [*spec_params(predict.PredictSpec), JSON]


def _predict(values: dict[str, Any]) -> None:
    as_json = values.pop("json", False)
    result = run_job(predict.run, predict.PredictSpec.from_json(values, lax=True), quiet=True)
    if as_json:
        print(jsonio.dumps(result.rows))
    else:
        console.print(predictions_table(result.rows))


add_command(app, "predict", "Top-k labels with probabilities for image files or texts.", PREDICT_PARAMS,
            _predict)

IMPORT_PARAMS = spec_params(importing.ImportSpec)


def _import(values: dict[str, Any]) -> None:
    result = run_job(importing.run, importing.ImportSpec.from_json(values, lax=True), quiet=True)
    console.print(f"bundle: {result.bundle}", soft_wrap=True)


add_command(app, "import",
            "Wrap a classifier trained elsewhere into a bundle: a timm architecture + weights, "
                           "or an HF folder.", IMPORT_PARAMS, _import)

EXPORT_PARAMS = spec_params(export.ExportSpec)


def _export(values: dict[str, Any]) -> None:
    result = run_job(export.run, export.ExportSpec.from_json(values, lax=True), quiet=True)
    check = result.check
    console.print(f"{result.format}: {result.path} ({', '.join(result.files)})", soft_wrap=True)
    console.print(f"checked with {check['runtime']} on {check['inputs']} inputs: largest |logit difference| "
                  f"{check['max_abs_diff']:.1e}", soft_wrap=True)


add_command(app, "export",
            "Export a bundle: ONNX (onnxruntime) or a Hugging Face folder (transformers for text, timm for "
            "images), checked against the bundle's logits.", EXPORT_PARAMS, _export)
