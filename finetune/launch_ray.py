"""The ``ray`` launcher: ``--nproc`` ranks as the workers of a Ray Train ``TorchTrainer``.

Ray places the workers on the cluster (``--nproc`` workers, one CPU each, or one GPU each with
``--device cuda``) and sets up their process group (gloo, or NCCL on GPUs); every worker runs the
same rank code as the torch launcher. Rank 0's progress and result come back through a Ray queue.
It runs wherever Ray is initialized (inside a job of ``robustune serve --executor ray``), or it
connects to ``RAY_ADDRESS`` / starts Ray on this machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from finetune.distributed import QueueEvents, RankFailed, Relay
from finetune.ray_init import init_ray
from plugins.atomic import HELD_LOCKS, lock_path
from plugins.errors import RobustuneError, Unsupported, brief, opt
from plugins.events import Cancelled, Reporter

POLL = 0.2


def _worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the rank code of ``driver.train_rank`` in Ray's process group."""
    import ray.train
    import ray.train.torch

    from finetune.run.launch import train_rank

    queue, cfg = config["queue"], config["cfg"]
    os.environ[HELD_LOCKS] = config["lock"]  # the launcher holds the output's lock
    ctx = ray.train.get_context()
    rank = ctx.get_world_rank()
    device = ray.train.torch.get_device()
    events = Reporter(QueueEvents(queue), min_interval=0.2) if rank == 0 else None
    try:
        result = train_rank(cfg, config["resume"], events, config["holdout"], device,
                            started=lambda: queue.put(("started", None)))
    except RobustuneError as exc:
        queue.put(("error", exc))
        raise
    if rank == 0:
        queue.put(("result", result))


class RayLauncher:
    """Runs the ranks as a TorchTrainer and waits for it."""

    name = "ray"

    def launch(self, cfg: Any, resume: bool, events: Reporter, holdout: bool,
               started: Callable[[], None]) -> Any:
        """Train ``cfg`` on ``nproc * nnodes`` Ray Train workers; return rank 0's TrainResult."""
        try:
            import ray
            from ray.train import RunConfig, ScalingConfig
            from ray.train.torch import TorchConfig, TorchTrainer
            from ray.util.queue import Queue
        except ImportError as exc:
            raise Unsupported(f"{opt('launcher')} ray needs Ray Train: pip install 'robustune[ray]' "
                              f"({brief(exc)})", field="launcher") from exc
        if cfg.train.nnodes > 1:
            raise Unsupported(f"{opt('launcher')} ray places all {opt('nproc')} workers on the Ray cluster "
                              f"itself: give the total as {opt('nproc')} and drop {opt('nnodes')}",
                              field="nnodes")
        if not ray.is_initialized():
            # RAY_ADDRESS, a running local cluster, or a new one
            init_ray(log_to_driver=False, logging_level=logging.WARNING)
        t = cfg.train
        gpu = t.device == "cuda"
        queue = Queue()
        out = Path(cfg.out).resolve()
        storage = out.parent / f".{out.name}.ray"
        trainer = TorchTrainer(
            _worker,
            train_loop_config={"cfg": cfg, "resume": resume, "holdout": holdout, "queue": queue,
                               "lock": lock_path(out)},
            torch_config=TorchConfig(backend="nccl" if gpu else "gloo"),
            scaling_config=ScalingConfig(num_workers=t.world_size, use_gpu=gpu,
                                         resources_per_worker={"GPU": 1} if gpu else {"CPU": 1}),
            run_config=RunConfig(storage_path=str(storage.parent), name=storage.name),
        )
        outcome: dict[str, Any] = {}

        def fit() -> None:
            try:
                trainer.fit()
            except BaseException as exc:  # reported below, after the queue is drained
                outcome["error"] = exc

        runner = threading.Thread(target=fit, name="ray-train", daemon=True)
        runner.start()
        relay = Relay(events.sink, started)
        try:
            while True:
                drained = False
                while not queue.empty():
                    relay.handle(*queue.get())
                    drained = True
                if not runner.is_alive() and not drained and queue.empty():
                    break
                if events.sink.cancelled():
                    raise Cancelled("cancelled")
                runner.join(POLL)
        finally:
            shutil.rmtree(storage, ignore_errors=True)
            ray.kill(cast(Any, queue.actor))
        if relay.errors:
            raise relay.errors[0]
        if relay.result is None:
            error = outcome.get("error")
            raise RankFailed(f"the Ray Train run failed ({brief(error) if error else 'no result'})")
        return relay.result


launcher = RayLauncher()
