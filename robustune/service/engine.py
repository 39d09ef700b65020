"""Predictions over warm models: a cache bounded by memory, and micro-batching per model.

Requests for one model wait at most ``wait_ms`` for others to join them, up to ``max_batch``
inputs, and run as one batch on one of the model's ``lanes`` threads (PyTorch releases the GIL):
the inputs are decoded there, then go through one forward pass. Several lanes of one PyTorch thread
each beat one lane of several threads on a small machine, where every other thread of the server
(HTTP, the event loop, the clients) stalls a multi-threaded operator at its barrier; the service
benchmark measures this. ``max_batch`` 0 sizes each model's batches for where it runs: 32 inputs on
the CPU; on a GPU the most that fit its free memory, shared by the lanes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from robustune.jobs.work.predict import Predictor

CPU_BATCH = 32  # inputs per batch on the CPU when --predict-batch is 0
GPU_LANES = 2  # lanes on a GPU when --predict-lanes is 0: one prepares inputs while the other runs


@dataclass
class _Request:
    items: list[Any]
    k: int
    future: asyncio.Future[list[dict[str, Any]]] = field(repr=False)


class Batcher:
    """Collects requests for one model into batches of at most ``max_batch`` inputs."""

    def __init__(self, predictor: Predictor, max_batch: int, wait_ms: float, stats: Counter[str],
                 lanes: int = 1) -> None:
        self.predictor, self.max_batch, self.wait = predictor, max(1, max_batch), wait_ms / 1000
        self.queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.stats = stats
        # a fixed set of threads for this model's batches: PyTorch keeps compute threads per calling
        # thread, so batches hopping over many threads would leave many pools competing for the cores
        self.threads = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="predict")
        self.free = asyncio.Semaphore(lanes)
        self.running: set[asyncio.Task[None]] = set()

    def close(self) -> None:
        """End the batch loop once the requests already queued are answered (the model is leaving the
        cache; its thread ends when the batcher is gone)."""
        self.queue.put_nowait(None)

    async def submit(self, items: list[Any], k: int) -> list[dict[str, Any]]:
        """The predictions for ``items`` (batched with whatever else is waiting)."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._loop())
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Request(items, k, future))
        return await future

    async def _loop(self) -> None:
        closing = False
        while not closing:
            await self.free.acquire()  # a batch is formed when a lane can run it
            first = await self.queue.get()
            if first is None:
                return
            batch, size = [first], len(first.items)
            deadline = time.monotonic() + self.wait
            while size < self.max_batch:
                if not self.queue.empty():  # what is already waiting joins at once
                    nxt = self.queue.get_nowait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        nxt = await asyncio.wait_for(self.queue.get(), left)
                    except TimeoutError:
                        break
                if nxt is None:
                    closing = True
                    break
                batch.append(nxt)
                size += len(nxt.items)
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self.free.release()

    async def _run(self, batch: list[_Request]) -> None:
        try:
            loop = asyncio.get_running_loop()
            outcomes = await loop.run_in_executor(self.threads, self._prepare_and_predict, batch)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            outcomes = [exc] * len(batch)
        done = sum(len(r.items) for r, o in zip(batch, outcomes, strict=True) if not isinstance(o, Exception))
        self.stats["batches"] += 1 if done else 0
        for r, outcome in zip(batch, outcomes, strict=True):
            if r.future.done():
                continue
            if isinstance(outcome, Exception):
                r.future.set_exception(outcome)
            else:
                r.future.set_result(outcome)

    def _prepare_and_predict(self, batch: list[_Request]) -> list[list[dict[str, Any]] | Exception]:
        """In one worker thread, one after the other as a program calling the model would: decode
        every request's inputs (a request with a bad input fails alone), then one forward pass."""
        prepared: list[list[Any] | Exception] = []
        for r in batch:
            try:
                prepared.append([self.predictor.prepare(x) for x in r.items])
            except Exception as exc:  # noqa: BLE001 - this request's own error
                prepared.append(exc)
        items = [x for p in prepared if not isinstance(p, Exception) for x in p]
        rows = self.predictor.predict(items, max(r.k for r in batch)) if items else []
        out: list[list[dict[str, Any]] | Exception] = []
        at = 0
        for r, p in zip(batch, prepared, strict=True):
            if isinstance(p, Exception):
                out.append(p)
                continue
            out.append([_first(row, r.k) for row in rows[at: at + len(p)]])
            at += len(p)
        return out


def _first(row: dict[str, Any], k: int) -> dict[str, Any]:
    """One input's answer with its top-k lists cut to the request's ``k`` (a batch runs at its largest)."""
    return {key: value[:k] if key in ("top", "raw_top") else value for key, value in row.items()}


class Engine:
    """Warm models (least recently used go first when over ``cache_bytes``) and their batchers."""

    def __init__(self, max_batch: int, wait_ms: float, cache_bytes: int, lanes: int = 0,
                 runtime: str = "torch", device: str = "cpu") -> None:
        self.max_batch, self.wait_ms, self.cache_bytes, self.lanes = max_batch, wait_ms, cache_bytes, lanes
        self.runtime = runtime  # torch, or onnx: each model exported once and answered by onnxruntime
        self.device = device  # auto: a GPU when present
        self.models: OrderedDict[str, Batcher] = OrderedDict()
        self.lock = asyncio.Lock()
        self.stats: Counter[str] = Counter()  # forward passes run (for /metrics)
        self.shared = False

    def _share_cores(self, gpu: bool) -> None:
        """Lanes to run (0: one per core PyTorch would use, at most 8; on a GPU two, one preparing while
        the other runs), each lane's share of PyTorch's threads set once for this process (it only
        predicts; jobs run in worker processes)."""
        import torch

        cores = torch.get_num_threads()
        if not self.lanes:
            self.lanes = GPU_LANES if gpu else min(cores, 8)
        torch.set_num_threads(max(1, cores // self.lanes))
        self.shared = True

    async def batcher(self, version_id: str, bundle: str) -> Batcher:
        """The warm model of a version (loaded on first use)."""
        async with self.lock:
            if version_id in self.models:
                self.models.move_to_end(version_id)
                return self.models[version_id]
            from robustune.jobs.work.predict import Predictor  # PyTorch loads with the first model

            predictor = await asyncio.to_thread(Predictor, bundle, self.runtime, self.device)
            if not self.shared:
                self._share_cores(predictor.device.type == "cuda")
            size = self.max_batch or await asyncio.to_thread(predictor.batch_size, CPU_BATCH, self.lanes)
            self.models[version_id] = Batcher(predictor, size, self.wait_ms, self.stats, self.lanes)
            while (
                len(self.models) > 1
                and sum(2 * b.predictor.bytes for b in self.models.values()) > self.cache_bytes
            ):
                self.models.popitem(last=False)[1].close()
            return self.models[version_id]

    async def predict(
        self, version_id: str, bundle: str, raw: list[Any], k: int
    ) -> list[dict[str, Any]]:
        """Per raw input (image bytes or text): the top-k labels with calibrated probabilities, the
        prediction set, the unfamiliar-input score and flag."""
        batcher = await self.batcher(version_id, bundle)
        return await batcher.submit(raw, k)

    async def certify(self, version_id: str, bundle: str, raw: list[Any], sigma: float | None
                      ) -> list[dict[str, Any]]:
        """Per raw image: the randomized-smoothing label and its certified radius (its own pass, outside
        the batcher: a thousand noisy copies per image)."""
        predictor = (await self.batcher(version_id, bundle)).predictor
        items = [await asyncio.to_thread(predictor.prepare, item) for item in raw]
        return await asyncio.to_thread(predictor.certify, items, sigma)
