"""Where the service keeps its state and how much it accepts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from plugins.duration import parse_duration
from plugins.errors import InvalidInput, Unsupported, opt
from plugins.schema import option, require

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
    max_body_bytes: int = option(16 << 20, help="largest request body but a dataset upload's (413 above)")
    max_inputs: int = option(256, help="predict: most texts or images in one request")
    max_text_chars: int = option(100_000, help="predict: most characters in one text (each is cut to the "
                                               "model's max length before tokenizing)")
    max_image_pixels: int = option(4096 * 4096, help="predict: most pixels in one image, read from its "
                                                     "header before it is decoded")
    max_request_pixels: int = option(64 << 20, help="predict: most pixels in all the images of one request")
    predict_per_token: int = option(4, help="predict: requests of one token answered at once; more wait "
                                            "(up to 4 times as many, then 429)")
    time_limit: str = option("6h", help="longest a job may run (90s, 20m, 6h); then it is stopped, FAILED")
    time_limits: str = option("", help="per job kind: KIND=DURATION,... (e.g. predict=10m,train=12h)")
    max_time_limit: str = option("24h", help="the most a job's own time_limit may ask for")
    max_tokens: int = option(100, help="most live tokens of one project (a new one is refused past it)")
    idempotency_ttl: str = option("24h", help="how long an Idempotency-Key of a token is remembered")
    predict_batch: int = option(0, help="predict: most inputs batched together (0: 32 on the CPU; on a GPU "
                                        "the most that fit its free memory, shared by the lanes)")
    predict_wait_ms: float = option(5.0, help="predict: longest wait for a batch to fill")
    predict_lanes: int = option(0, help="predict: batches of one model run at once, each on its own thread "
                                        "(0: one per CPU core, up to 8; 2 on a GPU)")
    model_cache_bytes: int = option(2 << 30, help="predict: memory for warm models")
    runtime: str = option("torch", help="predict: torch (the bundle as trained) or onnx (the bundle exported "
                                        "to ONNX once, answered by onnxruntime)")
    predict_device: str = option("auto", choices=("auto", "cpu", "cuda"),
                                 help="predict: where warm models run (auto: a GPU when present)")

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
        for name in ("max_body_bytes", "max_inputs", "max_text_chars", "max_image_pixels",
                     "max_request_pixels", "predict_per_token", "max_tokens"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{opt(name)} must be at least 1", field=name)
        self.limits()  # the durations read
        require(self, [])  # declared bounds: predict_device
        if self.predict_device == "cuda":
            from robustune.service.deployment import local_gpus

            if local_gpus() == 0:
                raise Unsupported(f"{opt('predict_device')} cuda: this machine shows no GPU; use auto or cpu",
                                  field="predict_device")
        if self.runtime not in RUNTIMES:
            raise InvalidInput(f"{opt('runtime')} {self.runtime!r} is unknown; use torch or onnx",
                               field="runtime")

    def limits(self) -> dict[str, float]:
        """Job time limits in seconds: ``*`` (any kind), each kind's own, ``cap`` (the most a job may ask)."""
        out = {"*": parse_duration(self.time_limit.strip().lower(), "time_limit"),
               "cap": parse_duration(self.max_time_limit.strip().lower(), "max_time_limit")}
        for part in filter(None, (p.strip() for p in self.time_limits.split(","))):
            kind, sep, value = part.partition("=")
            if not sep or not kind.strip():
                raise InvalidInput(f"{opt('time_limits')} takes KIND=DURATION,...; got {part!r}",
                                   field="time_limits")
            out[kind.strip()] = parse_duration(value.strip().lower(), "time_limits")
        return out

    def time_limit_of(self, kind: str, asked: float | None = None) -> float:
        """The time limit of a job of ``kind`` (``asked``: the job's own, at most the cap)."""
        limits = self.limits()
        if asked is not None:
            if asked > limits["cap"]:
                raise Unsupported(f"time_limit {asked:g}s is over this service's cap of {limits['cap']:g}s "
                                  "(GET /v1/limits); ask for less", field="time_limit")
            return asked
        return min(limits.get(kind, limits["*"]), limits["cap"])

    @property
    def url(self) -> str:
        """The database URL."""
        return self.db or f"sqlite:///{self.home / 'robustune.db'}"

    @property
    def artifacts(self) -> Path:
        """The artifact root: datasets, jobs and models, each in a folder named by its id."""
        return self.home / "artifacts"
