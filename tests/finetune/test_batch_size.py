"""Batch sizes that follow the device: the footprint, the fake memory limit, the cache, the GPU rule."""

from __future__ import annotations

import json

import pytest
import torch

from finetune.numerics import cache_file, cache_key
from finetune.numerics.batch import (
    CERTIFY_MAX,
    CPU_TENSOR_BYTES,
    GPU_MAX,
    LIMIT_ENV,
    SHARE,
    Footprint,
    batch_for,
    certify_batch,
    footprint,
    probe_args,
    sized,
)
from plugins.backbones.config import BackboneConfig
from plugins.model import ModelSpec, build_classifier
from plugins.numerics import ONNX_RUNTIME


@pytest.fixture(scope="module")
def cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    spec = ModelSpec("resnet18", 4, BackboneConfig(weights="none", image_size=32))
    return build_classifier(spec).eval()


def test_the_cpu_keeps_its_size_unless_memory_is_short(cnn: torch.nn.Module,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    args = (torch.rand(3, 3, 32, 32),)
    cpu = torch.device("cpu")
    assert batch_for(cnn, args, cpu, "gradient", 64).size == 64
    need = footprint(cnn, args, cpu, "gradient")
    assert need.per_example > 3 * 32 * 32 * 4 and not need.measured
    assert footprint(cnn, args, cpu, "infer").per_example < need.per_example  # no activations kept
    monkeypatch.setenv(LIMIT_ENV, str(10 * need.per_example / 2**20))  # room for 7 examples at 70%
    small = batch_for(cnn, args, cpu, "gradient", 64)
    assert small.size == 7 and "lowered from 64" in small.why
    assert batch_for(cnn, args, cpu, "gradient", 64, given=64).size == 64  # the user's batch is kept


def test_the_footprint_is_cached_per_shape_and_purpose(cnn: torch.nn.Module) -> None:
    cpu = torch.device("cpu")
    args = (torch.rand(2, 3, 24, 24),)
    first = footprint(cnn, args, cpu, "gradient")
    entries = json.loads(cache_file().read_text())["batches"]
    key = cache_key(cnn, args, cpu, "batch-gradient", "fp32")
    entries[key]["per_example"] = 12345  # the cache answers: the model is not run again
    cache_file().write_text(json.dumps({"version": 2, "batches": entries}))
    assert footprint(cnn, args, cpu, "gradient") == Footprint(0, 12345, False)
    assert footprint(cnn, args, cpu, "gradient", use_cache=False) == first


def test_a_gpu_takes_the_largest_power_of_two_that_fits() -> None:
    need = Footprint(fixed=100 * 2**20, per_example=2**20, measured=True)
    free = 2**30  # 70% is 716 MiB: 616 examples after the fixed part
    assert sized(True, need, free, 64).size == 512
    assert sized(True, need, free, 64, examples=100).size == 128  # no larger than the job needs
    assert sized(True, need, 64 * 2**30, 64).size == GPU_MAX
    assert sized(True, need, 120 * 2**20, 64).size == 1  # nothing fits: one at a time
    assert sized(False, need, free, 64).size == 64  # the CPU keeps its usual size
    assert sized(False, Footprint(0, 2**20, False), 50 * 2**20, 64).size == int(50 * SHARE)


def test_probe_args_take_the_longest_text() -> None:
    ids = torch.tensor([[1, 5, 2, 0, 0], [1, 5, 6, 7, 2], [1, 2, 0, 0, 0]])
    mask = (ids != 0).long()
    (got_ids, got_mask) = probe_args({"input_ids": ids, "attention_mask": mask}, torch.device("cpu"))
    assert got_ids.tolist() == [[1, 5, 6, 7, 2]] and got_mask.shape == (1, 5)


def test_certification_passes_keep_each_layer_output_under_the_cpu_allocator_threshold() -> None:
    cpu = torch.device("cpu")
    wide = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(64 * 128 * 128, 2)).eval()
    layer = 64 * 128 * 128 * 4  # one example's largest layer output: 4 MiB
    got = certify_batch(wide, (torch.rand(1, 3, 128, 128),), cpu)
    assert got.size == CPU_TENSOR_BYTES // layer == 8 and "32 MiB" in got.why
    tiny = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    assert certify_batch(tiny, (torch.rand(1, 1, 8, 8),), cpu).size == CERTIFY_MAX
    assert certify_batch(tiny, (torch.rand(1, 1, 8, 8),), cpu, given=300).size == 300
    wrapped = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    wrapped.numerics = ONNX_RUNTIME  # type: ignore[assignment]  # as the onnxruntime wrapper declares
    assert certify_batch(wrapped, (torch.rand(1, 1, 8, 8),), cpu).size == CERTIFY_MAX // 8
