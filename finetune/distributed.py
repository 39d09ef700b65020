"""Data-parallel training (DDP) across processes: the rank's view of the world and its collectives.

Every rank loads the data and builds the model; each epoch's order is the same on all ranks,
and every global batch of ``--batch-size`` is split into one contiguous share per rank. DDP
averages the gradients, so a step equals one step on the whole batch. Validation runs on every
rank (same weights, same numbers, same early-stopping decision); rank 0 alone writes the
checkpoints, reports progress and writes the bundle. The launchers (``launch_torch``,
``launch_ray``) start the ranks; this module is what the training code asks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
from torch import Tensor, nn

from finetune.batches import Inputs, num_examples
from plugins.errors import RobustuneError

TIMEOUT = timedelta(minutes=30)  # a collective that waits longer than this means a rank is gone


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int
    size: int
    local_rank: int

    @property
    def main(self) -> bool:
        """Whether this rank writes (checkpoints, the bundle) and reports."""
        return self.rank == 0


def world() -> World | None:
    """The process group this process belongs to, or None when it trains alone."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def is_main() -> bool:
    """True alone or on rank 0."""
    w = world()
    return w is None or w.main


def backend(device: torch.device) -> str:
    """NCCL between GPUs, gloo on CPUs."""
    return "nccl" if device.type == "cuda" else "gloo"


def join(rank: int, size: int, local_rank: int, device_name: str) -> torch.device:
    """Join the process group (torchrun's variables: MASTER_ADDR, MASTER_PORT) unless a launcher (Ray
    Train) already did; return this rank's device."""
    import torch.distributed as dist

    from finetune.device import resolve_device

    device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend(device), rank=rank, world_size=size, timeout=TIMEOUT)
    return device


def leave() -> None:
    """Leave the process group (if this process joined one)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` as DDP when training with others (gradients averaged across ranks), else itself."""
    if world() is None:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # static: the same parameters take part in every step; some never do (a text encoder's pooler under
    # --adapter full), which a static graph finds in its first step
    return DistributedDataParallel(module, device_ids=ids, static_graph=True)


def share(batch: Inputs) -> Inputs | None:
    """This rank's contiguous share of a global batch; None (on every rank alike) when the batch has
    fewer examples than ranks (a last short batch: skipped, as every rank must step together).

    Shape: every tensor (B, ...) -> (about B / world size, ...).
    """
    w = world()
    if w is None:
        return batch
    n = num_examples(batch)
    if n < w.size:
        return None
    bounds = [n * r // w.size for r in range(w.size + 1)]
    lo, hi = bounds[w.rank], bounds[w.rank + 1]
    return {k: v[lo:hi] for k, v in batch.items()}


def total(values: list[float]) -> list[float]:
    """Each value summed over the ranks (itself alone)."""
    w = world()
    if w is None:
        return values
    import torch.distributed as dist

    t: Tensor = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return [float(v) for v in t.cpu()]


def sync_buffers(module: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank: each rank updated its own from
    its own share of the last batch, and validation must see one model."""
    if world() is None:
        return
    import torch.distributed as dist

    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)


def barrier() -> None:
    """Wait until every rank is here (no-op alone)."""
    if world() is not None:
        import torch.distributed as dist

        dist.barrier()


class RankFailed(RobustuneError):
    """A training process died or failed on a bug; the others were stopped."""

    exit_code = 1
    kind = "internal"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message, field=None)
        self.detail = detail  # the rank's traceback, printed when this is the cause


def share_result(result: Any) -> Any:
    """Rank 0's ``result`` on every rank (what each machine's launcher returns)."""
    if world() is None:
        return result
    import torch.distributed as dist

    box = [result]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class QueueEvents:
    """Rank 0's events sink: each event goes to the launching process through ``queue`` (a
    multiprocessing or a Ray queue), which relays it."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def emit(self, event: Any) -> None:
        """Send ``event`` to the launcher."""
        self.queue.put(("event", event))

    def cancelled(self) -> bool:
        """Never: the launcher stops the ranks on a cancel (SIGINT, or by killing the Ray job)."""
        return False


class Relay:
    """The launcher's side of the ranks' messages: events to its sink, the work folder's start, rank 0's
    result and the ranks' errors."""

    def __init__(self, sink: Any, started: Callable[[], None]) -> None:
        self.sink, self.started = sink, started
        self.result: Any = None
        self.errors: list[BaseException] = []

    def handle(self, kind: str, payload: Any) -> None:
        """Act on one ``(kind, payload)`` message."""
        if kind == "event":
            self.sink.emit(payload)
        elif kind == "started":
            self.started()
        elif kind == "result":
            self.result = payload
        elif kind == "error":
            self.errors.append(payload)
