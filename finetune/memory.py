"""Memory estimates that refuse a run which cannot fit, before anything large is allocated.

The model is built on the meta device (shapes only) to count its parameters and, for images,
the activations one training batch keeps for the backward pass; the prepared inputs are
``N x 3 x S x S`` bytes. The sum is compared with the memory this machine (or its cgroup) has
available now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from plugins.errors import InvalidInput
from plugins.model import ModelSpec, build_classifier

GB = 1024**3
ADAM_BYTES = 16  # weight + gradient + two Adam moments, float32


def available_bytes() -> int | None:
    """Memory available to this process now: MemAvailable, capped by a cgroup limit (None if unknown)."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        avail = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return avail


@dataclass(frozen=True)
class Estimate:
    """Bytes each part needs."""

    inputs: int
    parameters: int
    activations: int

    @property
    def total(self) -> int:
        """All parts together."""
        return self.inputs + self.parameters + self.activations

    def describe(self) -> str:
        """``"14.2 GB (inputs 12.1, parameters 0.1, activations 2.0)"``."""
        return (f"{self.total / GB:.1f} GB (inputs {self.inputs / GB:.1f}, parameters "
                f"{self.parameters / GB:.1f}, activations {self.activations / GB:.1f})")


def image_inputs_bytes(n: int, size: int) -> int:
    """Prepared uint8 RGB inputs. Shape: N images -> (N, 3, size, size)."""
    return n * 3 * size * size


def _activation_elements(model: nn.Module, batch: int, size: int) -> tuple[int, int]:
    """(sum, largest) of the elements of every leaf module's output for one image batch.

    Counted on the meta device: training keeps about the sum for the backward pass, inference
    needs about twice the largest (a layer's input and output).
    """
    total, largest = 0, 0

    def hook(_: nn.Module, __: object, out: object) -> None:
        nonlocal total, largest
        if isinstance(out, torch.Tensor):
            total += out.numel()
            largest = max(largest, out.numel())

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(torch.empty(batch, 3, size, size, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return total, largest


def estimate_training(spec: ModelSpec, n_examples: int, batch_size: int, trains_backbone: bool,
                      eval_batch_size: int = 128) -> tuple[Estimate, int | None]:
    """(memory a training run needs, the image input side or None for texts).

    The model is built without weights on the meta device: nothing is loaded or allocated.
    """
    bare = replace(spec, backbone_config=replace(spec.backbone_config, weights="none"))
    with torch.device("meta"):
        model = build_classifier(bare)
    params = sum(p.numel() for p in model.parameters())
    trained = params if trains_backbone else sum(p.numel() for p in model.head.parameters())
    param_bytes = 4 * params + (ADAM_BYTES - 4) * trained
    if model.modality != "image":
        return Estimate(0, param_bytes, 0), None
    size = int(model.backbone.preprocessing()["input_size"][-1])
    from finetune.inference import inference_batch

    try:
        total, largest = _activation_elements(model, 1, size)
    except (RuntimeError, NotImplementedError, TypeError, ValueError):  # an op the meta device lacks
        total, largest = 0, 0
    train = total * batch_size if trains_backbone else 0
    infer = 2 * largest * inference_batch(eval_batch_size, size)
    acts = 4 * max(train, infer)
    return Estimate(image_inputs_bytes(n_examples, size), param_bytes, acts), size


def check_fits(estimate: Estimate, what: str, fix: str, field: str | None = None) -> None:
    """Refuse (one line, naming ``field``) when ``estimate`` exceeds the memory available now."""
    avail = available_bytes()
    if avail is not None and estimate.total > avail:
        raise InvalidInput(f"{what} needs about {estimate.describe()} of memory but {avail / GB:.1f} GB "
                           f"is available; {fix}", field=field)


def check_inputs_fit(n: int, size: int) -> None:
    """Refuse preparing ``n`` images at ``size`` when their uint8 tensors cannot fit."""
    check_fits(Estimate(image_inputs_bytes(n, size), 0, 0), f"{n} images at {size} px",
               "lower the image size or use fewer examples")
