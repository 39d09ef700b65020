"""--precision: candidates measured on real batches, kept only when they agree with fp32, cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from finetune.numerics import apply, cache_file, candidates, choose, native_half
from finetune.numerics.cache import CACHE_VERSION
from plugins.backbones.config import BackboneConfig
from plugins.model import ModelSpec, build_classifier
from plugins.numerics import FP32, ONNX_RUNTIME, Numerics


def _cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    cfg = BackboneConfig(image_size=16, options={"modality": "image", "depth": 2, "width": 8})
    return build_classifier(ModelSpec("cnn", 3, cfg, "linear", {"dropout": 0.0})).eval()


def _images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_auto_keeps_only_agreeing_candidates_and_caches_the_choice(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    model, x = _cnn(), _images(64)
    reference = model(x).argmax(1)
    model, choice = choose(model, (x[:16],), [(x,)], torch.device("cpu"), "infer", "auto")
    labels = {n.label for n in candidates(model, torch.device("cpu"), "infer", "auto")}
    assert ONNX_RUNTIME.label in labels  # listed, but 64 images are too few to repay an export
    assert "too little to repay" in choice.skipped[ONNX_RUNTIME.label]
    labels.discard(ONNX_RUNTIME.label)
    assert set(choice.seconds) == labels and FP32.label in labels and "fp32 + channels-last" in labels
    assert all(s > 0 for s in choice.seconds.values())
    assert choice.agreement[choice.numerics.label] >= 0.995
    assert model.numerics == choice.numerics  # type: ignore[attr-defined]
    assert (model(x).argmax(1) == reference).float().mean() >= 0.995
    assert model(x).dtype == torch.float32
    cached = json.loads(cache_file().read_text())["choices"]
    assert [v["choice"] for v in cached.values()] == [choice.numerics.label]
    again, second = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "infer", "auto")
    assert second.cached and second.numerics == choice.numerics
    if not native_half(torch.device("cpu")):
        assert "bf16" in choice.to_json()["not_measured"]


def test_onnxruntime_runs_a_long_inference_job_with_the_same_logits(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    model, x = _cnn(), _images(64)
    with torch.inference_mode():
        logits, features = model(x), model.forward_features(x)
    # a job of 100 million images repays the export: onnxruntime is timed and checked like the others (a
    # million was too few on a loaded machine: measuring the others first ate 10% of its fp32 work)
    chosen, choice = choose(model, (x[:16],), [(x,)], torch.device("cpu"), "infer", "auto", examples=10**8)
    assert ONNX_RUNTIME.label in choice.seconds and ONNX_RUNTIME.label not in choice.skipped
    runtime = apply(model, ONNX_RUNTIME)
    with torch.inference_mode():
        assert torch.allclose(runtime(x), logits, atol=1e-4)
        assert torch.allclose(runtime.forward_features(x), features, atol=1e-4)
        assert torch.allclose(runtime(x[:3]), logits[:3], atol=1e-4)  # any batch size
    graphs = sorted((tmp_path / "onnx").glob("*.onnx"))
    assert [g.name.split("-")[1] for g in graphs] == ["features.onnx", "logits.onnx"]
    stamps = [g.stat().st_mtime_ns for g in graphs]
    with torch.inference_mode():
        apply(_cnn(), ONNX_RUNTIME)(x)  # the same weights: the graph on disk, not a new export
    assert [g.stat().st_mtime_ns for g in graphs] == stamps
    # the cached entry answers both a long job (its choice) and a short one (the best torch candidate)
    _, long_again = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "infer", "auto", examples=10**8)
    _, short = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "infer", "auto", examples=64)
    assert long_again.cached and long_again.numerics == choice.numerics
    assert short.cached and short.numerics.runtime == "torch"


def test_a_candidate_failing_the_extra_check_is_not_taken(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    x = _images(32)
    asked: list[str] = []  # the check is for reduced precision: a memory format alone keeps fp32's sums

    def refuse(m: torch.nn.Module) -> bool:
        asked.append(m.numerics.dtype)  # type: ignore[attr-defined]
        return False

    model, choice = choose(_cnn(), (x,), [(x,)], torch.device("cpu"), "gradient", "auto", extra_check=refuse)
    assert choice.numerics.dtype == "fp32" and model.numerics == choice.numerics  # type: ignore[attr-defined]
    assert FP32.dtype not in asked


def test_measuring_for_training_changes_no_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    model, x = _cnn(), _images(32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    choose(model, (x,), [(x,)], torch.device("cpu"), "train", "auto", use_cache=False)
    assert torch.equal(torch.rand(3), expected)  # dropout while timing did not shift the seeded stream
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # batch-norm stats too
    assert all(p.grad is None for p in model.parameters())


def test_fixed_precisions_are_not_measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    x = _images(16)
    ref = _cnn()(x)
    model, choice = choose(_cnn(), (x,), [(x,)], torch.device("cpu"), "infer", "fp32")
    assert choice.numerics == Numerics("fp32", channels_last=True) and not choice.seconds
    assert torch.allclose(model(x), ref, atol=1e-4)
    model, choice = choose(_cnn(), (x,), [(x,)], torch.device("cpu"), "infer", "bf16")
    out = model(x)
    assert choice.numerics.dtype == "bf16" and out.dtype == torch.float32
    assert (out - ref).abs().max() < 0.1 * ref.abs().max() + 0.05  # bf16 keeps about 3 digits
    assert not cache_file().exists()


def test_int8_is_a_quantized_copy_for_text_inference() -> None:
    torch.manual_seed(0)
    model = build_classifier(ModelSpec("bert", 2, BackboneConfig(), "linear", {"dropout": 0.0})).eval()
    texts = ["a wonderful, moving film with great actors", "dull and boring, I left early",
             "the plot makes no sense at all", "an instant classic"]
    batch = model.backbone.tokenizer(texts, padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert Numerics("fp32", False, True) in candidates(model, torch.device("cpu"), "infer", "auto")
    assert all(not n.int8 for n in candidates(model, torch.device("cpu"), "gradient", "auto"))
    quantized = apply(model, Numerics("fp32", False, True))
    assert quantized is not model and model.numerics == FP32  # type: ignore[attr-defined]
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in quantized.modules())
    assert not any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())
    with torch.no_grad():  # the sentence embeddings stay close (about 0.93 cosine); whether the
        a, b = model.forward_features(ids, mask), quantized.forward_features(ids, mask)  # predictions do
    assert torch.cosine_similarity(a, b).min() > 0.85  # is what auto checks on each model's own data


def test_a_damaged_cache_is_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    cache_file().write_text("{not json")
    x = _images(16)
    _, choice = choose(_cnn(), (x,), [(x,)], torch.device("cpu"), "infer", "auto")
    assert not choice.cached and json.loads(cache_file().read_text())["version"] == CACHE_VERSION


def test_choosing_never_costs_more_than_a_tenth_of_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A job of a few batches runs in fp32 unmeasured; a job of some hundreds measures only what fits in
    10% of its fp32 work, and says so; a long one measures every candidate. The cost is recorded."""
    import time

    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    x = _images(64)
    start = time.perf_counter()
    model, tiny = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "train", "auto", use_cache=False,
                         examples=64)
    assert tiny.numerics == FP32 and not tiny.seconds and time.perf_counter() - start < 0.5
    assert all("too short to repay measuring" in why for why in tiny.skipped.values()), tiny.skipped
    model, short = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "train", "auto", use_cache=False,
                          examples=16 * 12)
    fp32_batch = short.seconds[FP32.label]
    job = fp32_batch * 12
    assert short.measured_s is not None and short.measured_s <= 0.1 * job + fp32_batch, short.measured_s
    assert any("more than 10% of it" in why for why in short.skipped.values()), short.skipped
    _, long = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "train", "auto", use_cache=False,
                     examples=10**6)
    assert len(long.seconds) > 1 and "measured_in_s" in long.to_json()


def test_a_job_too_short_to_measure_leaves_the_cache_to_a_longer_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTUNE_CACHE_DIR", str(tmp_path))
    x = _images(64)
    _, short = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "train", "auto", examples=16 * 12)
    assert short.numerics == FP32 and len(short.seconds) == 1 and not cache_file().exists()
    _, long = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "train", "auto", examples=10**6)
    assert not long.cached and len(long.seconds) > 1
    _, again = choose(_cnn(), (x[:16],), [(x,)], torch.device("cpu"), "train", "auto", examples=10**6)
    assert again.cached and again.numerics == long.numerics
