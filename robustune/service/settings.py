"""Where the service keeps its state and how much it accepts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from plugins.errors import InvalidInput, opt
from plugins.schema import option

RUNTIMES = ("torch", "onnx")
EXECUTORS = ("local", "ray")


def default_home() -> Path:
    """``$ROBUSTUNE_HOME``, else ``~/.robustune``."""
    return Path(os.environ.get("ROBUSTUNE_HOME") or Path.home() / ".robustune")


@dataclass(frozen=True)
class Settings:
    """The service's settings (``robustune serve`` flags)."""

    home: Path = option(
        help="folder of the database (SQLite) and the artifacts", default_factory=default_home
    )
    db: str | None = option(None, help="database URL (default: SQLite in --home; postgresql://... to share)")
    workers: int = option(1, help="worker processes, each running one job at a time")
    max_upload_bytes: int = option(1 << 30, help="largest upload, compressed")
    max_unpacked_bytes: int = option(4 << 30, help="largest archive once unpacked")
    max_files: int = option(100_000, help="most files in an archive")
    max_ratio: float = option(200.0, help="largest unpacked / packed size ratio of an archive")
    max_attempts: int = option(3, help="runs of a job killed by a crash before it fails")
    predict_batch: int = option(32, help="predict: most requests batched together")
    predict_wait_ms: float = option(5.0, help="predict: longest wait for a batch to fill")
    predict_lanes: int = option(0, help="predict: batches of one model run at once, each on its own thread "
                                        "(0: one per CPU core)")
    model_cache_bytes: int = option(2 << 30, help="predict: memory for warm models")
    runtime: str = option("torch", help="predict: torch (the bundle as trained) or onnx (the bundle exported "
                                        "to ONNX once, answered by onnxruntime)")

    executor: str = option("local", help="where jobs run: local (--workers processes here) or ray (each job "
                                         "in a Ray actor on the cluster at --ray-address)")
    ray_address: str | None = option(None, help="the Ray cluster: auto (the one running here), HOST:PORT or "
                                                "ray://HOST:PORT (default: RAY_ADDRESS, else a new Ray here)")
    ray_cpus: float = option(1.0, help="CPUs each job asks Ray for (a --nproc training's workers take one "
                                       "each)")
    ray_gpus: float = option(1.0, help="GPUs a job on --device cuda asks Ray for (a fraction shares one)")

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise InvalidInput(f"{opt('executor')} {self.executor!r} is unknown; use local or ray",
                               field="executor")
        if self.ray_cpus < 0 or self.ray_gpus < 0:
            raise InvalidInput("--ray-cpus and --ray-gpus must be 0 or more", field="ray_cpus")
        if self.runtime not in RUNTIMES:
            raise InvalidInput(f"{opt('runtime')} {self.runtime!r} is unknown; use torch or onnx",
                               field="runtime")

    @property
    def url(self) -> str:
        """The database URL."""
        return self.db or f"sqlite:///{self.home / 'robustune.db'}"

    @property
    def artifacts(self) -> Path:
        """The artifact root: datasets, jobs and models, each in a folder named by its id."""
        return self.home / "artifacts"
