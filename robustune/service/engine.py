"""Predictions over warm models: a cache bounded by memory, and micro-batching per model.

Requests for one model wait at most ``wait_ms`` for others to join them, up to ``max_batch``
inputs, and run as one batch in a worker thread (PyTorch releases the GIL), so concurrent clients
share the model's forward passes.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from robustune.jobs.predict import Predictor


@dataclass
class _Request:
    items: list[Any]
    k: int
    future: asyncio.Future[list[list[dict[str, Any]]]] = field(repr=False)


class Batcher:
    """Collects requests for one model into batches of at most ``max_batch`` inputs."""

    def __init__(self, predictor: Predictor, max_batch: int, wait_ms: float) -> None:
        self.predictor, self.max_batch, self.wait = predictor, max(1, max_batch), wait_ms / 1000
        self.queue: asyncio.Queue[_Request] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, items: list[Any], k: int) -> list[list[dict[str, Any]]]:
        """The predictions for ``items`` (batched with whatever else is waiting)."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._loop())
        future: asyncio.Future[list[list[dict[str, Any]]]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Request(items, k, future))
        return await future

    async def _loop(self) -> None:
        while True:
            first = await self.queue.get()
            batch, size = [first], len(first.items)
            deadline = time.monotonic() + self.wait
            while size < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    nxt = await asyncio.wait_for(self.queue.get(), left)
                except TimeoutError:
                    break
                batch.append(nxt)
                size += len(nxt.items)
            await self._run(batch)

    async def _run(self, batch: list[_Request]) -> None:
        items = [x for r in batch for x in r.items]
        k = max(r.k for r in batch)
        try:
            rows = await asyncio.to_thread(self.predictor.predict, items, k)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            for r in batch:
                if not r.future.done():
                    r.future.set_exception(exc)
            return
        self.batches += 1
        at = 0
        for r in batch:
            if not r.future.done():
                r.future.set_result([row[: r.k] for row in rows[at: at + len(r.items)]])
            at += len(r.items)


class Engine:
    """Warm models (least recently used go first when over ``cache_bytes``) and their batchers."""

    def __init__(self, max_batch: int, wait_ms: float, cache_bytes: int) -> None:
        self.max_batch, self.wait_ms, self.cache_bytes = max_batch, wait_ms, cache_bytes
        self.models: OrderedDict[str, Batcher] = OrderedDict()
        self.lock = asyncio.Lock()

    async def batcher(self, version_id: str, bundle: str) -> Batcher:
        """The warm model of a version (loaded on first use)."""
        async with self.lock:
            if version_id in self.models:
                self.models.move_to_end(version_id)
                return self.models[version_id]
            predictor = await asyncio.to_thread(Predictor, bundle)
            self.models[version_id] = Batcher(predictor, self.max_batch, self.wait_ms)
            while (
                len(self.models) > 1
                and sum(2 * b.predictor.bytes for b in self.models.values()) > self.cache_bytes
            ):
                self.models.popitem(last=False)
            return self.models[version_id]

    async def predict(
        self, version_id: str, bundle: str, raw: list[Any], k: int
    ) -> list[list[dict[str, Any]]]:
        """Top-k labels for raw inputs (image bytes or texts)."""
        batcher = await self.batcher(version_id, bundle)
        items = await asyncio.to_thread(lambda: [batcher.predictor.prepare(x) for x in raw])
        return await batcher.submit(items, k)
