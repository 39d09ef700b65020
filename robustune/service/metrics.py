"""Counters for /metrics (the Prometheus text format)."""

from __future__ import annotations

import threading
from collections import Counter

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Requests by route and status, predict latency, inputs predicted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.inputs = 0
        self.unfamiliar: Counter[str] = Counter()  # model name -> inputs flagged unfamiliar

    def request(self, method: str, route: str, status: int) -> None:
        """Count one request."""
        with self.lock:
            self.requests[(method, route, status)] += 1

    def observe_predict(self, seconds: float, inputs: int, model: str = "", unfamiliar: int = 0) -> None:
        """Record one predict request (and how many of its inputs were flagged unfamiliar, per model)."""
        with self.lock:
            if model:
                self.unfamiliar[model] += unfamiliar
            self.latency[next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))] += 1
            self.latency_sum += seconds
            self.latency_count += 1
            self.inputs += inputs

    def text(self, jobs: dict[str, int], batches: int = 0) -> str:
        """Everything in the Prometheus exposition format."""
        lines = ["# HELP robustune_requests_total HTTP requests by method, route and status",
                 "# TYPE robustune_requests_total counter"]
        with self.lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(
                    f'robustune_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}'
                )
            lines += [
                "# HELP robustune_predict_seconds predict request latency",
                "# TYPE robustune_predict_seconds histogram",
            ]
            total = 0
            for bound, n in zip((*BUCKETS, float("inf")), self.latency, strict=True):
                total += n
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'robustune_predict_seconds_bucket{{le="{le}"}} {total}')
            lines += [
                f"robustune_predict_seconds_sum {self.latency_sum:.6f}",
                f"robustune_predict_seconds_count {self.latency_count}",
                "# TYPE robustune_predict_inputs_total counter",
                f"robustune_predict_inputs_total {self.inputs}",
                "# HELP robustune_predict_unfamiliar_total inputs flagged unfamiliar, per model",
                "# TYPE robustune_predict_unfamiliar_total counter",
                *(f'robustune_predict_unfamiliar_total{{model="{m}"}} {n}'
                  for m, n in sorted(self.unfamiliar.items())),
                "# HELP robustune_predict_batches_total forward passes (inputs / batches = mean batch size)",
                "# TYPE robustune_predict_batches_total counter",
                f"robustune_predict_batches_total {batches}",
            ]
        lines += ["# HELP robustune_jobs jobs by state", "# TYPE robustune_jobs gauge"]
        lines += [f'robustune_jobs{{state="{state}"}} {n}' for state, n in sorted(jobs.items())]
        return "\n".join(lines) + "\n"
