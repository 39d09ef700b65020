"""The service's commands on the robustune command line: serve, token, remote."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from robustune.service.settings import Settings, default_home

Opt = typer.Option
token_app = typer.Typer(help="Create, list and revoke API tokens (shares --home with serve).",
                        no_args_is_help=True)
remote_app = typer.Typer(
    help="Talk to a robustune server: upload, submit, status, logs, cancel, models, predict.",
    no_args_is_help=True,
)
HOME = Annotated[Path | None, Opt(help="service home (default: $ROBUSTUNE_HOME or ~/.robustune)")]
DB = Annotated[str | None, Opt(help="database URL (default: SQLite in --home)")]


def _settings(home: Path | None, db: str | None, **extra: Any) -> Settings:
    return Settings(home=home or default_home(), db=db, **extra)


MB = 1 << 20
D: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Settings)}  # one place for the defaults


def serve(
    host: Annotated[str, Opt(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, Opt(help="port to listen on")] = 8000,
    home: HOME = None,
    db: DB = None,
    workers: Annotated[int, Opt(min=0, help="worker processes: jobs run at once (0: API only)")] = (
        D["workers"]),
    max_upload_mb: Annotated[int, Opt(min=1, help="largest upload (compressed)")] = (
        D["max_upload_bytes"] // MB),
    max_unpacked_mb: Annotated[int, Opt(min=1, help="largest archive once unpacked")] = (
        D["max_unpacked_bytes"] // MB),
    max_files: Annotated[int, Opt(min=1, help="most files in an archive")] = D["max_files"],
    max_ratio: Annotated[float, Opt(min=1, help="largest unpacked/packed size ratio of an archive")] = (
        D["max_ratio"]),
    max_attempts: Annotated[int, Opt(min=1, help="runs of a job killed by a crash before it fails")] = (
        D["max_attempts"]),
    max_body_mb: Annotated[int, Opt(min=1, help="largest request body but a dataset upload's")] = (
        D["max_body_bytes"] // MB),
    max_inputs: Annotated[int, Opt(min=1, help="predict: most texts or images in one request")] = (
        D["max_inputs"]),
    max_text_chars: Annotated[int, Opt(min=1, help="predict: most characters in one text")] = (
        D["max_text_chars"]),
    max_image_pixels: Annotated[int, Opt(min=1, help="predict: most pixels in one image (read from its "
                                                      "header, before decoding)")] = D["max_image_pixels"],
    max_request_pixels: Annotated[int, Opt(min=1, help="predict: most pixels in all images of a request")] = (
        D["max_request_pixels"]),
    predict_per_token: Annotated[int, Opt(min=1, help="predict: requests of one token answered at once "
                                                       "(more wait, up to 4x as many, then 429)")] = (
        D["predict_per_token"]),
    time_limit: Annotated[str, Opt(help="longest a job may run: 90s, 20m, 6h")] = D["time_limit"],
    time_limits: Annotated[str, Opt(help="per job kind: KIND=DURATION,... (predict=10m,train=12h)")] = (
        D["time_limits"]),
    max_time_limit: Annotated[str, Opt(help="the most a job's own time_limit may ask for")] = (
        D["max_time_limit"]),
    idempotency_ttl: Annotated[str, Opt(help="how long an Idempotency-Key is remembered")] = (
        D["idempotency_ttl"]),
    max_tokens: Annotated[int, Opt(min=1, help="most live tokens of one project")] = D["max_tokens"],
    predict_batch: Annotated[int, Opt(min=0, help="predict: most inputs batched together (0: 32 on the CPU, "
                                                   "on a GPU the most that fit; 1: off)")] = (
        D["predict_batch"]),
    predict_wait_ms: Annotated[float, Opt(min=0, help="predict: longest wait for a batch to fill")] = (
        D["predict_wait_ms"]),
    predict_lanes: Annotated[int, Opt(min=0, help="predict: batches of one model run at once, each on its "
                                                   "own thread (0: one per core, up to 8; 2 on a GPU)")] = (
        D["predict_lanes"]),
    model_cache_mb: Annotated[int, Opt(min=1, help="predict: memory for warm models")] = (
        D["model_cache_bytes"] // MB),
    runtime: Annotated[str, Opt(help="predict: torch (the bundle as trained) or onnx (each model exported to "
                                     "ONNX once, answered by onnxruntime)")] = D["runtime"],
    predict_device: Annotated[str, Opt(help="predict: where warm models run: auto (a GPU when present), cpu "
                                            "or cuda")] = D["predict_device"],
    executor: Annotated[str, Opt(help="where jobs run: local (--workers processes here) or ray (each job in "
                                      "a Ray actor on the cluster at --ray-address)")] = D["executor"],
    ray_address: Annotated[str | None, Opt(help="the Ray cluster: auto (the one running here), HOST:PORT or "
                                                "ray://HOST:PORT (default: RAY_ADDRESS, else a new Ray "
                                                "here)")] = D["ray_address"],
    ray_cpus: Annotated[float, Opt(min=0, help="CPUs each job asks Ray for")] = D["ray_cpus"],
    ray_gpus: Annotated[float, Opt(min=0, help="GPUs a job on --device cuda asks Ray for (a fraction "
                                               "shares one)")] = D["ray_gpus"],
) -> None:
    """Serve the API, the web page and the job workers (SQLite in --home, or PostgreSQL by --db)."""
    from robustune.service.serve import serve as run

    settings = _settings(home, db, workers=workers, max_upload_bytes=max_upload_mb * MB,
                         max_unpacked_bytes=max_unpacked_mb * MB, max_files=max_files, max_ratio=max_ratio,
                         max_attempts=max_attempts, predict_batch=predict_batch,
                         predict_wait_ms=predict_wait_ms, predict_lanes=predict_lanes,
                         model_cache_bytes=model_cache_mb * MB, runtime=runtime,
                         predict_device=predict_device, executor=executor, ray_address=ray_address,
                         ray_cpus=ray_cpus, ray_gpus=ray_gpus,
                         max_body_bytes=max_body_mb * MB, max_inputs=max_inputs,
                         max_text_chars=max_text_chars, max_image_pixels=max_image_pixels,
                         max_request_pixels=max_request_pixels,
                         predict_per_token=predict_per_token, time_limit=time_limit, time_limits=time_limits,
                         max_time_limit=max_time_limit, idempotency_ttl=idempotency_ttl,
                         max_tokens=max_tokens)
    ray = ray_address or "RAY_ADDRESS"
    where = f"{workers} worker(s)" if executor == "local" else f"jobs on Ray at {ray}"
    print(f"robustune serving on http://{host}:{port} (home {settings.home}, {where})", file=sys.stderr)
    run(settings, host, port)


@token_app.command("create")
def token_create(
    name: Annotated[str, Opt(help="who or what uses it")],
    scope: Annotated[str, Opt(help="read | write | admin (of its project)")] = "write",
    project: Annotated[str, Opt(help="the project it belongs to (made when new)")] = "default",
    server_admin: Annotated[bool, Opt(help="also admin of the whole server: projects, every project's "
                                           "tokens")] = False,
    home: HOME = None,
    db: DB = None,
) -> None:
    """Create a token and print it (it is shown only this once; only its hash is kept)."""
    from robustune.service.auth import create_token
    from robustune.service.auth import project as project_id
    from robustune.service.store import Store

    store = Store(_settings(home, db))
    ident, token = create_token(store.db, name, scope, project_id(store.db, project, create=True),
                                server_admin=server_admin)
    print(token)
    admin = ", server admin" if server_admin else ""
    print(f"token {ident} ({scope} in project {project}{admin}) created; it is shown only this once",
          file=sys.stderr)


@token_app.command("list")
def token_list(home: HOME = None, db: DB = None) -> None:
    """Every token's id, project, scope and name, and who made it (never the token)."""
    from robustune.service.auth import list_tokens
    from robustune.service.store import Store

    for row in list_tokens(Store(_settings(home, db)).db):
        scope = f"{row['scope']}+server" if row["server_admin"] else row["scope"]
        state = "revoked" if row["revoked"] else "live"
        print(f"{row['id']}  {row['project']:<12}  {scope:<12}  {state:<7}  {row['name']}  "
              f"(made {str(row['created_at'])[:19]} by {row['created_by'] or 'the command line'})")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="the token's id (see token list)")],
    home: HOME = None,
    db: DB = None,
) -> None:
    """Revoke a token."""
    from robustune.service.auth import revoke
    from robustune.service.store import Store

    revoke(Store(_settings(home, db)).db, token_id)
    print(f"token {token_id} revoked", file=sys.stderr)


URL = Annotated[str | None, Opt(help="server URL (default: $ROBUSTUNE_URL or http://127.0.0.1:8000)")]
TOKEN = Annotated[str | None, Opt(help="API token (default: $ROBUSTUNE_TOKEN)")]


def _client(url: str | None, token: str | None) -> Any:
    from robustune.service.client import Client

    return Client(
        url or os.environ.get("ROBUSTUNE_URL", "http://127.0.0.1:8000"),
        token or os.environ.get("ROBUSTUNE_TOKEN"),
    )


@remote_app.command("submit")
def remote_submit(
    kind: Annotated[
        str,
        typer.Argument(
            help="a job kind the server offers: train, run, audit, explain, report, compare, tune, import, "
                 "evaluate, recommend, or a plugin's (GET /openapi.json lists them)"
        ),
    ],
    spec: Annotated[Path, Opt(help="the job's spec as a JSON or YAML file")],
    model_name: Annotated[str | None, Opt(help="register the model under this name")] = None,
    wait: Annotated[bool, Opt(help="wait for the job to end, showing its progress")] = False,
    url: URL = None,
    token: TOKEN = None,
) -> None:
    """Submit a job; prints its id (with --wait: its end state; exit 1 unless it succeeded)."""
    from plugins.yamlio import read_mapping

    client = _client(url, token)
    job = client.submit(kind, read_mapping(spec, "spec file"), model_name)
    print(job["id"])
    if wait:
        final = client.wait(
            job["id"], lambda j: print(f"{j['state']} {j['progress']:.0%} {j['message']}", file=sys.stderr)
        )
        print(json.dumps(final["result"] or {"error": final["error"]}, indent=2))
        raise typer.Exit(0 if final["state"] == "SUCCEEDED" else 1)


@remote_app.command("upload")
def remote_upload(
    path: Annotated[Path, typer.Argument(help="a CSV, or a zip/tar of an image folder")],
    name: Annotated[str | None, Opt(help="the dataset's name (default: the file name)")] = None,
    url: URL = None,
    token: TOKEN = None,
) -> None:
    """Upload a dataset; prints its id (use it as a job's data)."""
    ds = _client(url, token).upload(path, name=name)
    print(ds["id"])
    info = ds["info"]
    print(
        f"{ds['name']}: {info.get('modality')} data, {info.get('examples')} examples, classes "
        f"{', '.join(map(str, info.get('classes', [])))}",
        file=sys.stderr,
    )


@remote_app.command("status")
def remote_status(
    job_id: Annotated[str | None, typer.Argument(help="a job id (default: the newest jobs)")] = None,
    url: URL = None,
    token: TOKEN = None,
) -> None:
    """A job's state and progress (or the newest jobs)."""
    client = _client(url, token)
    rows = [client.job(job_id)] if job_id else client.jobs()
    for j in rows:
        note = j["message"] or j["error"] or ""
        print(f"{j['id']}  {j['kind']:<9} {j['state']:<10} {j['progress']:>4.0%}  {note}")


@remote_app.command("logs")
def remote_logs(job_id: str, url: URL = None, token: TOKEN = None) -> None:
    """A job's log."""
    print(_client(url, token).logs(job_id), end="")


@remote_app.command("cancel")
def remote_cancel(job_id: str, url: URL = None, token: TOKEN = None) -> None:
    """Cancel a job."""
    print(_client(url, token).cancel(job_id)["state"])


@remote_app.command("models")
def remote_models(url: URL = None, token: TOKEN = None) -> None:
    """Registered models: versions, aliases and holdout accuracy."""
    for m in _client(url, token).models():
        aliases = ", ".join(f"{a}->{v}" for a, v in m["aliases"].items()) or "-"
        newest = m["versions"][-1]
        acc = newest["metrics"].get("test", {}).get("accuracy")
        shown = f"{acc:.3f}" if isinstance(acc, float) else "-"
        print(
            f"{m['name']}  versions {len(m['versions'])}  newest @{newest['version']} accuracy {shown}  "
            f"aliases {aliases}"
        )


@remote_app.command("predict")
def remote_predict(
    model: Annotated[str, typer.Argument(help="model name")],
    files: Annotated[list[Path] | None, typer.Argument(help="image files")] = None,
    text: Annotated[list[str] | None, Opt(help="text to classify (repeatable)")] = None,
    version: Annotated[str | None, Opt(help="version number or alias")] = None,
    top_k: Annotated[int, Opt(help="labels per input")] = 3,
    url: URL = None,
    token: TOKEN = None,
) -> None:
    """Top-k labels from a served model, as JSON."""
    out = _client(url, token).predict(model, texts=text, files=files, version=version, top_k=top_k)
    print(json.dumps(out, indent=2))


def register(app: typer.Typer) -> None:
    """Add serve, token and remote to the robustune command line (once)."""
    if any(c.name == "serve" for c in app.registered_commands):
        return
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")
    app.add_typer(remote_app, name="remote")
