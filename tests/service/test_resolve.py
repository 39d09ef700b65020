"""What a request may name, resolved from the job kinds' declarations alone (no server needed): ids
become server paths, outputs go to the job's folder, and anything that would make the server read or
write a path of the client's choosing is refused, naming the field as the request does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugins.errors import RobustuneError
from robustune.service.resolve import Context, resolve

CSV, IMGS, JOB = "ds_" + "c" * 16, "ds_" + "a" * 16, "job_" + "1" * 16  # ids as the server makes them


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    uploads = {CSV: ("csv", tmp_path / "up" / "data.csv"), IMGS: ("files", tmp_path / "imgs"),
               "ds_0123456789abcdef": ("files", tmp_path / "weights.pth")}  # the import example's
    (tmp_path / "imgs").mkdir()
    for name in ("b.png", "a.png"):
        (tmp_path / "imgs" / name).write_bytes(b"png")

    def dataset(ident: str, field: str) -> tuple[str, Path]:
        if ident not in uploads:
            raise RobustuneError(f"{field}: no uploaded dataset {ident!r}", field=field)
        return uploads[ident]

    return Context(dataset, lambda ref, field: tmp_path / "models" / ref,
                   lambda job, what: tmp_path / "jobs" / job / what, tmp_path / "job")


def refused(kind: str, spec: Any, ctx: Context) -> RobustuneError:
    with pytest.raises(RobustuneError) as caught:
        resolve(kind, spec, ctx)
    return caught.value


def test_selection_kinds_take_train_options(ctx: Context) -> None:
    compare = resolve("compare", {"candidates": "cnn,resnet18", "options": {"data": CSV, "epochs": 1}},
                      ctx)
    assert compare["out"] == str(ctx.job_dir) and "out" not in compare["options"]
    assert compare["options"]["data"].startswith("csv:") and compare["options"]["epochs"] == 1
    # flat, as the CLI sends it
    tune = resolve("tune", {"model": "cnn", "data": "digits", "trials": 1, "seed": 4}, ctx)
    assert tune["options"] == {"data": "digits", "seed": 4} and tune["seed"] == 4
    recommend = resolve("recommend", {"options": {"data": "digits"}, "budget": "90s"}, ctx)
    assert recommend["options"] == {"data": "digits"} and "out" not in recommend


def test_references_become_server_paths(ctx: Context) -> None:
    report = resolve("report", {"bundle": "digits@2", "data": "digits", "audit": JOB}, ctx)
    assert report["bundle"].endswith("models/digits@2") and report["audit"].endswith(f"jobs/{JOB}/audit")
    assert report["out"] == str(ctx.job_dir / "report.html")
    explain = resolve("explain", {"bundle": "m", "files": IMGS}, ctx)
    assert [Path(f).name for f in explain["files"]] == ["a.png", "b.png"]
    train = resolve("train", {"data": "digits", "model": "cnn", "weights": "none"}, ctx)
    assert train["run"]["out"] == str(ctx.job_dir / "model") and train["run"]["backbone"] == "cnn"


@pytest.mark.parametrize(("kind", "spec", "field"), [
    ("train", {"data": "digits", "model": "cnn", "out": "/tmp/x"}, "out"),
    ("train", {"data": "digits", "model": "cnn", "overwrite": True}, "overwrite"),
    ("train", {"data": "digits", "model": "cnn", "nnodes": 2}, "nnodes"),
    ("train", {"data": "digits", "model": "cnn", "groups-file": "/etc/groups.csv"}, "groups-file"),
    ("train", {"data": "digits", "model": "cnn", "model_id": "/etc"}, "model_id"),
    ("train", {"data": "/etc/secret.csv", "model": "cnn"}, "data"),
    ("train", {"data": "digits", "model": "./my-model"}, "model"),
    ("train", {"data": "digits", "model": "cnn", "bogus": 1}, "bogus"),
    ("tune", {"model": "cnn", "data": "/etc/secret.csv"}, "options.data"),
    ("tune", {"model": "cnn", "options": {"data": "digits", "out": "/tmp/x"}}, "options.out"),
    ("compare", {"candidates": "cnn,../evil", "options": {"data": "digits"}}, "candidates"),
    ("report", {"bundle": "m", "data": "digits", "groups": "/etc/groups.csv"}, "groups"),
    ("import", {"hf": "/srv/model"}, "hf"),
    ("predict", {"bundle": "m"}, "kind"),
])
def test_what_a_request_may_not_name(kind: str, spec: dict[str, Any], field: str, ctx: Context) -> None:
    assert refused(kind, spec, ctx).field == field


def test_errors_name_the_field_as_sent(ctx: Context) -> None:
    bad_lr = refused("compare", {"candidates": "cnn", "options": {"data": "digits", "lr": -1}}, ctx)
    assert bad_lr.field == "options.lr" and "lr must be in (0, 1e+06]" in bad_lr.message
    unknown = refused("train", {"data": "digits", "model": "no-such-net"}, ctx)
    assert unknown.field == "model" and "'no-such-net'" in unknown.message


def test_every_kind_shows_an_example_the_service_takes(ctx: Context) -> None:
    """The example in each kind's request schema (schemathesis's examples phase sends it) fits the
    schema and resolves to a spec the job accepts."""
    from robustune.jobs import job
    from robustune.service.resolve import service_kinds
    from robustune.service.schemas import spec_model

    for kind in service_kinds():
        example = job(kind).example
        assert example, f"{kind} declares no example"
        spec_model(kind).model_validate(example)
        assert spec_model(kind).model_json_schema()["examples"] == [example]
        resolve(kind, dict(example), ctx)
