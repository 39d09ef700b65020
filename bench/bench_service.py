"""Predict over HTTP against the same model called in-process: 32 concurrent clients send 2,000
requests (one image each) to a warm efficientnet_lite0 bundle served by ``robustune serve`` on
127.0.0.1, once with micro-batching (the defaults), once with batching off (--predict-batch 1), and
once with the model exported to ONNX and answered by onnxruntime (--runtime onnx), beside the
in-process Predictor on each runtime.

Run: .venv/bin/python bench/bench_service.py
Targets: 0 errors; batched service throughput >= 0.8x the in-process Predictor with the same batch size.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import common
import httpx
import numpy as np
from common import WORK, write_results
from PIL import Image

CLIENTS, REQUESTS, WARMUP, BATCH, ROUNDS = 32, 2000, 64, 32, 2
MODEL = "digits-lite0"
TRAIN = {"data": "digits", "model": "efficientnet_lite0", "adapter": "linear-probe", "epochs": 10,
         "per_class": 20}


def images() -> list[bytes]:
    """PNG files of scikit-learn's 8x8 digits (the bundle resizes them to 224 px, as for any image)."""
    from sklearn.datasets import load_digits

    out = []
    for img in load_digits().images:
        buf = io.BytesIO()
        Image.fromarray(np.rint(img * 255 / 16).astype(np.uint8)).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


class Server:
    """``robustune serve`` in its own process group on a free loopback port."""

    def __init__(self, home: Path, *flags: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "robustune", "serve", "--port", str(self.port), "--home", str(home),
               *flags]
        self.log = open(home / "server.log", "ab")  # noqa: SIM115 - the server writes it until stop()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=common.RESULTS.parents[1])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (home / "server.log").read_text()[-3000:]
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("the server did not start within 120 s")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def register_model(home: Path, headers: dict[str, str]) -> Path:
    """Train the bundle through the service (so the registry holds it); download it for the baseline."""
    server = Server(home, "--workers", "1")
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
            job = c.post("/v1/jobs/train", params={"model_name": MODEL}, json=TRAIN).json()
            while job["state"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                time.sleep(1)
                job = c.get(f"/v1/jobs/{job['id']}").json()
            assert job["state"] == "SUCCEEDED", job
            print("trained:", job["result"]["metrics"]["test"]["accuracy"], flush=True)
            data = c.get(f"/v1/models/{MODEL}/versions/1/bundle").content
    finally:
        server.stop()
    zipfile.ZipFile(io.BytesIO(data)).extractall(home / "download")
    return home / "download" / f"{MODEL}-1"


async def load(url: str, headers: dict[str, str], bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """``CLIENTS`` concurrent clients share the requests; latency per request, errors, throughput."""
    latencies: list[float] = []
    errors: list[str] = []
    todo = iter(bodies)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as c:

        async def client() -> None:
            for body in todo:
                start = time.perf_counter()
                try:
                    r = await c.post(f"/v1/models/{MODEL}/predict", json=body)
                    if r.status_code != 200 or len(r.json()["predictions"]) != 1:
                        errors.append(f"{r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        seconds = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "requests": len(bodies),
        "errors": len(errors),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "seconds": seconds,
        "per_s": len(bodies) / seconds,
        "first_errors": errors[:3],
    }


def served(home: Path, headers: dict[str, str], pngs: list[bytes], *flags: str) -> dict[str, Any]:
    """One load run against a fresh API-only server (the model warmed by ``WARMUP`` requests first);
    the mean batch size from the server's /metrics."""
    bodies = [{"images": [base64.b64encode(pngs[i % len(pngs)]).decode()], "top_k": 3}
              for i in range(REQUESTS)]
    server = Server(home, "--workers", "0", *flags)

    def batches() -> int:
        text = httpx.get(server.url + "/metrics", headers=headers).text
        line = next(x for x in text.splitlines() if x.startswith("robustune_predict_batches_total"))
        return int(line.split()[-1])

    try:
        asyncio.run(load(server.url, headers, bodies[:WARMUP]))
        before = batches()
        out = asyncio.run(load(server.url, headers, bodies))
        return out | {"mean_batch": REQUESTS / max(1, batches() - before)}
    finally:
        server.stop()


def in_process(bundle: Path, pngs: list[bytes], batch: int = BATCH, runtime: str = "torch") -> dict[str, Any]:
    """The same model and images through ``Predictor`` in this process, batches of ``batch``: decoding
    and resizing each image (as the server does) and one forward pass per batch."""
    from robustune.jobs.work.predict import Predictor

    predictor = Predictor(bundle, runtime)
    assert predictor.runtime == runtime
    items = [pngs[i % len(pngs)] for i in range(REQUESTS)]
    predictor.predict([predictor.prepare(b) for b in items[:batch]], 3)  # warm-up
    start = time.perf_counter()
    for i in range(0, REQUESTS, batch):
        predictor.predict([predictor.prepare(b) for b in items[i : i + batch]], 3)
    seconds = time.perf_counter() - start
    return {"requests": REQUESTS, "errors": 0, "seconds": seconds, "per_s": REQUESTS / seconds,
            "mean_batch": batch}


def main() -> None:
    from robustune.service.auth import create_token
    from robustune.service.settings import Settings
    from robustune.service.store import Store

    home = WORK / "service"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # the token is made the way `robustune token create` makes it (the database is created on first use)
    _, token = create_token(Store(Settings(home=home)).db, "bench", "read")
    write = create_token(Store(Settings(home=home)).db, "bench-write", "write")[1]
    bundle = register_model(home, {"Authorization": f"Bearer {write}"})
    headers = {"Authorization": f"Bearer {token}"}
    pngs = images()

    modes = ("in-process Predictor", "in-process Predictor, batch 8", "service, batching on",
             "service, batching off", "in-process Predictor, onnxruntime",
             "service, batching on, --runtime onnx")
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for _ in range(ROUNDS):  # interleaved rounds, so machine noise hits every mode alike
        runs["in-process Predictor"].append(in_process(bundle, pngs))
        runs["in-process Predictor, batch 8"].append(in_process(bundle, pngs, 8))
        runs["service, batching on"].append(served(home, headers, pngs))
        runs["service, batching off"].append(served(home, headers, pngs, "--predict-batch", "1"))
        runs["in-process Predictor, onnxruntime"].append(in_process(bundle, pngs, runtime="onnx"))
        runs["service, batching on, --runtime onnx"].append(served(home, headers, pngs, "--runtime", "onnx"))
        print({k: round(v[-1]["per_s"], 1) for k, v in runs.items()}, flush=True)

    base = statistics.median(x["per_s"] for x in runs["in-process Predictor"])
    rows = []
    for mode, results in runs.items():
        per_s = statistics.median(x["per_s"] for x in results)
        row = {"mode": mode, "clients": CLIENTS if "service" in mode else 1,
               "max_batch": 1 if "off" in mode else 8 if "batch 8" in mode else BATCH,
               "mean_batch": round(statistics.median(x.get("mean_batch", BATCH) for x in results), 1),
               "requests": sum(x["requests"] for x in results), "errors": sum(x["errors"] for x in results)}
        for p in ("p50_ms", "p95_ms", "p99_ms"):
            row[p] = round(statistics.median(x[p] for x in results), 1) if p in results[0] else "-"
        row |= {"images_per_s": round(per_s, 1), "ratio_to_in_process": round(per_s / base, 2)}
        rows.append(row)
        for x in results:
            if x.get("first_errors"):
                print(mode, "errors:", x["first_errors"], flush=True)
    small, on, off, onnx_local, onnx = rows[1], rows[2], rows[3], rows[4], rows[5]
    errors = on["errors"] + off["errors"] + onnx["errors"]
    ratio = on["ratio_to_in_process"]
    onnx_ratio = round(onnx["images_per_s"] / onnx_local["images_per_s"], 2)
    onnx_gain = round(onnx["images_per_s"] / on["images_per_s"], 2)
    checks = {f"service errors {errors} == 0": errors == 0,
              f"batched service throughput {ratio}x in-process >= 0.8x": ratio >= 0.8,
              f"--runtime onnx service throughput {onnx_gain}x the torch service's >= 1x": onnx_gain >= 1}
    notes = [
        f"efficientnet_lite0 linear probe trained through the service ({TRAIN}), 224 px; each request "
        f"one 8x8 digits PNG as base64 JSON, top-3; {CLIENTS} concurrent keep-alive httpx clients in one "
        "process on the same 2-core machine as the server; server defaults (micro-batches of up to 32, "
        "5 ms wait, one lane per core: 2 lanes of 1 PyTorch thread), then --predict-batch 1; "
        f"{WARMUP} warm-up requests per server start; mean_batch from the server's /metrics; in-process: "
        f"Predictor.prepare + predict in batches of {BATCH} on the main thread with PyTorch's default "
        f"threads; {ROUNDS} interleaved rounds, medians (requests and errors summed)",
        f"batching buys {on['images_per_s'] / off['images_per_s']:.2f}x throughput over batching off",
        "on this CPU smaller batches also run faster per image in-process (cache): against in-process "
        f"batches of 8, near the service's mean batch, the batched service reaches "
        f"{on['images_per_s'] / small['images_per_s']:.2f}x",
        f"--runtime onnx (the bundle exported once, onnxruntime with the lanes' thread share): "
        f"{onnx_gain:.2f}x the torch service's throughput; in-process onnxruntime "
        f"{onnx_local['images_per_s'] / rows[0]['images_per_s']:.2f}x in-process torch; the onnx service "
        f"reaches {onnx_ratio}x its in-process Predictor: with the model 2.9x faster, decoding and HTTP "
        "take a larger share of the same 2 cores",
    ]
    write_results("service_predict", "python bench/bench_service.py", rows, checks, notes)


if __name__ == "__main__":
    main()
