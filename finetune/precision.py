"""``--precision``: pick a model's numerics on the run's own data (see plugins/numerics.py)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from finetune.batches import Inputs, iterate, model_args, num_examples
from finetune.inference import inference_batch
from finetune.numerics.apply import M
from finetune.numerics.choose import choose
from plugins.events import Reporter
from plugins.numerics import Choice

TIMING_BATCH = 32  # examples per timed batch (the measurements: 32 images, 64 texts)
CHECK_EXAMPLES = 256  # validation examples for the agreement test
WORDS = {"infer": "inference", "gradient": "gradients (attacks, attributions)", "train": "training"}


def _batches(inputs: Inputs, size: int, limit: int, device: torch.device) -> list[tuple[Tensor, ...]]:
    first = {k: v[:limit] for k, v in inputs.items()}
    return [model_args(b, device) for b in iterate(first, size)]


def pick(model: M, inputs: Inputs, device: torch.device, purpose: str, precision: str,
         events: Reporter | None = None, check: Inputs | None = None,
         extra_check: Callable[[nn.Module], bool] | None = None, log: bool = False,
         examples: int | None = None, extra_examples: int = 0) -> tuple[M, Choice]:
    """``model`` computing in what ``precision`` picks for ``purpose`` (timed on ``inputs``).

    ``check``: validation inputs for the agreement test (default: ``inputs``); ``log``: say the
    choice in the run's log (training), else it only goes to the command's output files;
    ``examples``: how many inputs the job will run (default: ``inputs``'s); ``extra_examples``: what
    ``extra_check`` costs, in inputs of the timed kind (counted in the 10% the choosing may take).
    """
    pixels = inputs.get("pixels")
    size = inference_batch(TIMING_BATCH, int(pixels.shape[-1]) if pixels is not None else None)
    size = min(size, max(1, num_examples(inputs)))
    timing = _batches(inputs, size, size, device)[0]
    checks = _batches(check if check is not None else inputs, size, CHECK_EXAMPLES, device)
    if events is not None and precision == "auto":
        events.progress("measuring numerics", 0)
    total = num_examples(inputs) if examples is None else examples
    model, choice = choose(model, timing, checks, device, purpose, precision, extra_check, examples=total,
                           extra_batches=extra_examples / len(timing[0]))
    if events is not None and log:
        events.log(f"numerics for {WORDS[purpose]}: {choice.describe()}")
    return model, choice
