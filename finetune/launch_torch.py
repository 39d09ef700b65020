"""The ``torch`` launcher: ``--nproc`` rank processes on this machine, torchrun-style.

Each rank is a fresh (spawned) process with torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT) and its share of the CPU threads. The launching process keeps the
output's lock, relays rank 0's progress to its own sink, turns a cancel or Ctrl-C into SIGINT for
the ranks, and stops them all when one dies. With ``--nnodes`` the same command runs on every
machine, each with its ``--node-rank``; node 0 writes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty
from typing import Any

import torch

from finetune.device import ranks_device
from finetune.distributed import QueueEvents, RankFailed, Relay, join, leave
from plugins.atomic import HELD_LOCKS, lock_path
from plugins.errors import Interrupted, RobustuneError, brief
from plugins.events import Cancelled, Reporter

MULTI_NODE_PORT = 29500
POLL = 0.2  # seconds between looks at the ranks and the cancel flag
GRACE = 10.0  # seconds the ranks get to stop after SIGINT before SIGTERM/SIGKILL


@dataclass(frozen=True)
class RankArgs:
    """What a rank process needs to join the group and train."""

    cfg: Any  # RunConfig
    resume: bool
    holdout: bool
    rank: int
    local_rank: int
    size: int
    addr: str
    port: int
    threads: int
    parent: int  # the launcher's pid: a rank dies with it


def free_port() -> int:
    """A TCP port nobody listens on now (for a one-machine rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank_main(args: RankArgs, queue: Any) -> None:
    """A rank process: join, train (``driver.train_rank``), send the result or the error, leave."""
    from finetune.run.launch import train_rank

    _die_with(args.parent)
    os.environ.update(RANK=str(args.rank), LOCAL_RANK=str(args.local_rank), WORLD_SIZE=str(args.size),
                      MASTER_ADDR=args.addr, MASTER_PORT=str(args.port))
    os.environ[HELD_LOCKS] = lock_path(Path(args.cfg.out))  # the launcher holds the output's lock
    torch.set_num_threads(args.threads)
    events = Reporter(QueueEvents(queue), min_interval=0.2) if args.rank == 0 else None
    code = 0
    try:
        device = join(args.rank, args.size, args.local_rank, args.cfg.train.device)
        result = train_rank(args.cfg, args.resume, events, args.holdout, device,
                            started=lambda: queue.put(("started", None)))
        if args.local_rank == 0:
            queue.put(("result", result))
    except (KeyboardInterrupt, Interrupted):
        code = 130
    except RobustuneError as exc:
        queue.put(("error", exc))
        code = 2
    except BaseException as exc:  # a bug, or a peer that died: the launcher prints the traceback of a bug
        failed = RankFailed(f"training process rank {args.rank} failed ({type(exc).__name__}: {brief(exc)})",
                            detail=traceback.format_exc())
        queue.put(("error", failed))
        code = 1
    finally:
        try:
            leave()
        finally:
            queue.close()
            queue.join_thread()  # what was put is in the pipe before the process ends
            sys.stdout.flush()
            sys.stderr.flush()
    os._exit(code)  # the result is sent; skip the interpreter's teardown (gloo threads)


def _die_with(parent: int) -> None:
    """Linux: SIGKILL this rank when its launcher dies (a rank must never train on without the lock);
    a launcher already gone ends the rank at once. (The service's worker processes do the same.)"""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed ({signal.Signals(-code).name})"
        except ValueError:
            return f"was killed (signal {-code})"
    return f"exited with code {code}"


def _stop(procs: list[Any], sig: int = signal.SIGINT, grace: float = GRACE) -> None:
    """``sig`` to every rank still running, then SIGTERM and SIGKILL to whatever outlives ``grace``."""
    for sent in (sig, signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.exitcode is None]
        for p in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, sent)
        deadline = time.monotonic() + (grace if sent == sig else 3.0)
        for p in alive:
            p.join(max(0.0, deadline - time.monotonic()))
        if all(p.exitcode is not None for p in procs):
            return


def raise_failure(procs: list[Any], errors: list[BaseException], events: Reporter,
                  ended: dict[str, int | None]) -> None:
    """Raise the cause of a failed run: a rank that was killed (before this launcher stopped the others:
    ``ended``), else a rank's own error (the others' are mostly "connection closed" from losing it),
    else a rank's exit code."""
    killed = [(name, code) for name, code in ended.items() if code is not None and code < 0]
    if killed:
        name, code = killed[0]
        raise RankFailed(f"training process {name.removeprefix('robustune-')} {_describe(code)}; the others "
                         "were stopped")
    mine = [e for e in errors if not isinstance(e, RankFailed)]
    if mine or errors:
        error = (mine or errors)[0]
        detail = getattr(error, "detail", None)
        if detail and os.environ.get("ROBUSTUNE_DEBUG"):  # a rank's traceback, asked for; else one line
            events.log(detail.rstrip(), level="error")
        raise error
    failed = [p for p in procs if p.exitcode != 0]
    if failed:
        if failed[0].exitcode == 130:
            raise KeyboardInterrupt
        raise RankFailed(f"training process {failed[0].name.removeprefix('robustune-')} "
                         f"{_describe(failed[0].exitcode)}; the others were stopped")


class TorchLauncher:
    """Starts this machine's ranks and waits for them."""

    name = "torch"

    def launch(self, cfg: Any, resume: bool, events: Reporter, holdout: bool,
               started: Callable[[], None]) -> Any:
        """Train ``cfg`` in ``nproc`` local ranks; return the TrainResult (rank 0's, shared with all)."""
        import multiprocessing as mp

        t = cfg.train
        device = ranks_device(t.device, t.nproc)  # before any rank starts: no rank's traceback for it
        if device != t.device:
            if torch.cuda.is_available():  # GPUs, but not one per process: say why they stay idle
                events.log(f"{t.nproc} training processes and {torch.cuda.device_count()} GPU(s): --device "
                           "auto trains on the CPU (gloo)")
            cfg = replace(cfg, train=replace(t, device=device))
            t = cfg.train
        port = t.master_port or (MULTI_NODE_PORT if t.nnodes > 1 else free_port())
        threads = max(1, (os.cpu_count() or 1) // t.nproc)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        procs = [
            ctx.Process(target=_rank_main, name=f"robustune-rank {t.node_rank * t.nproc + local}", args=(
                RankArgs(cfg, resume, holdout, t.node_rank * t.nproc + local, local, t.world_size,
                         t.master_addr, port, threads, os.getpid()), queue))
            for local in range(t.nproc)
        ]
        for p in procs:
            p.start()
        relay = Relay(events.sink, started)
        cancelled = False
        ended: dict[str, int | None] = {}  # exit codes before this launcher stopped anyone
        try:
            while True:
                try:
                    relay.handle(*queue.get(timeout=POLL))
                    continue
                except Empty:
                    pass
                if not cancelled and events.sink.cancelled():
                    cancelled = True
                    _stop(procs)
                if any(p.exitcode not in (None, 0) for p in procs) or all(p.exitcode == 0 for p in procs):
                    ended = {p.name: p.exitcode for p in procs if p.exitcode is not None}
                    break
        except KeyboardInterrupt:
            cancelled = True
        finally:
            _stop(procs)
            while True:  # what the ranks sent before they ended
                try:
                    relay.handle(*queue.get(timeout=0.2))
                except Empty:
                    break
            queue.close()
            queue.join_thread()
        if cancelled:
            raise Cancelled("cancelled") if events.sink.cancelled() else KeyboardInterrupt
        raise_failure(procs, relay.errors, events, ended)
        return relay.result


launcher = TorchLauncher()
