"""``robustune serve --runtime onnx``: the warm models answer through onnxruntime, with torch's answers."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.errors import InvalidInput
from robustune.service.engine import Engine
from robustune.service.settings import Settings


def _pngs(n: int) -> list[bytes]:
    from sklearn.datasets import load_digits

    out = []
    for img in load_digits().images[:n]:
        buf = io.BytesIO()
        Image.fromarray(np.rint(img * 255 / 16).astype(np.uint8)).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def test_the_onnx_runtime_answers_as_torch_does(digits_cnn: Path, text_bundle: Path) -> None:
    async def both(bundle: Path, items: list[object]) -> tuple[list[object], list[object], Engine]:
        torch_engine, onnx_engine = Engine(8, 2.0, 1 << 30), Engine(8, 2.0, 1 << 30, runtime="onnx")
        want = await asyncio.gather(*(torch_engine.predict("v", str(bundle), [x], 3) for x in items))
        got = await asyncio.gather(*(onnx_engine.predict("v", str(bundle), [x], 3) for x in items))
        return want, got, onnx_engine

    for bundle, items in ((digits_cnn, _pngs(20)), (text_bundle, ["a fine film", "dull, too long", "ok"])):
        want, got, engine = asyncio.run(both(bundle, list(items)))
        predictor = engine.models["v"].predictor
        assert predictor.runtime == "onnx"
        assert type(predictor.bundle.model).__name__ == "OnnxRuntimeClassifier"
        for w, g in zip(want, got, strict=True):
            top_w, top_g = w[0]["top"], g[0]["top"]  # type: ignore[index]
            assert [p["label"] for p in top_w] == [p["label"] for p in top_g]
            probabilities = [p["probability"] for p in top_w], [p["probability"] for p in top_g]
            assert np.allclose(*probabilities, atol=1e-4)


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(InvalidInput, match="runtime 'tensorrt' is unknown"):
        Settings(runtime="tensorrt")


def test_warm_models_run_on_the_predict_device(digits_cnn: Path) -> None:
    """serve --predict-device: auto puts warm models on a GPU when there is one (here: the CPU, with the
    same answers as cpu); cuda on a machine without one is refused when serve starts."""
    from plugins.errors import RobustuneError
    from robustune.service.deployment import local_gpus

    async def answers(device: str) -> tuple[list[object], Engine]:
        engine = Engine(8, 2.0, 1 << 30, device=device)
        got = await asyncio.gather(*(engine.predict("v", str(digits_cnn), [x], 3) for x in _pngs(6)))
        return list(got), engine

    on_cpu, _ = asyncio.run(answers("cpu"))
    auto, engine = asyncio.run(answers("auto"))
    import torch

    assert engine.models["v"].predictor.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert [a[0]["top"][0]["label"] for a in auto] == [c[0]["top"][0]["label"] for c in on_cpu]  # type: ignore
    if local_gpus() == 0:
        with pytest.raises(RobustuneError, match="predict_device.*no GPU"):
            Settings(predict_device="cuda")
    with pytest.raises(InvalidInput, match="must be one of auto, cpu, cuda"):
        Settings(predict_device="gpu")


def test_batches_are_sized_for_the_predict_device(digits_cnn: Path) -> None:
    """--predict-batch 0 (the default): 32 inputs on the CPU; a GPU gets the most that fit its free memory,
    shared by its lanes (here the arithmetic, with the CPU's footprint standing in for a GPU's)."""
    import torch

    from finetune.numerics.batch import footprint, probe_args
    from robustune.service.engine import CPU_BATCH

    async def sized(max_batch: int) -> int:
        engine = Engine(max_batch, 2.0, 1 << 30, device="cpu")
        await engine.predict("v", str(digits_cnn), _pngs(1), 1)
        return engine.models["v"].max_batch

    assert Settings().predict_batch == 0
    assert asyncio.run(sized(0)) == CPU_BATCH and asyncio.run(sized(5)) == 5
    from robustune.jobs.work.predict import Predictor

    predictor = Predictor(digits_cnn, device="cpu")
    assert predictor.batch_size(CPU_BATCH, lanes=2) == CPU_BATCH  # the CPU keeps its usual size
    side = predictor.bundle.meta.image_size
    args = probe_args({"pixels": torch.zeros(1, 3, side, side, dtype=torch.uint8)}, torch.device("cpu"))
    assert footprint(predictor.bundle.model, args, torch.device("cpu"), "infer").per_example > 3 * side * side
