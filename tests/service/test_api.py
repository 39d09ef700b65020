"""The API over a real server on 127.0.0.1, on SQLite and on PostgreSQL: the whole flow, auth, and
hostile uploads (each refused with a 4xx naming the field, nothing written)."""

from __future__ import annotations

import base64
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import Server, digit_png, digits_zip, register, wait_job


def _sse(client: httpx.Client, job_id: str) -> list[tuple[str, dict]]:
    """Every Server-Sent Event of a job until its end event."""
    events: list[tuple[str, dict]] = []
    kind = ""
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=300) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
                if kind == "end":
                    break
    return events


def test_upload_run_register_predict_report(server: Server) -> None:
    c = server.client("write")
    r = c.post("/v1/datasets", params={"filename": "digits.zip", "name": "digits3"}, content=digits_zip(60))
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["id"].startswith("ds_") and ds["kind"] == "imagefolder"
    assert ds["info"]["classes"] == ["0", "1", "2"] and ds["info"]["counts"] == {"0": 60, "1": 60, "2": 60}
    shown = c.get(f"/v1/datasets/{ds['id']}").json()
    assert shown["info"]["samples"] and shown["info"]["modality"] == "image"
    assert {"digits", ds["id"]} <= {d["id"] for d in c.get("/v1/datasets").json()}  # built-ins listed too

    spec = {
        "data": ds["id"],
        "model": "cnn",
        "epochs": 3,
        "attacks": ["fgsm"],
        "eps": [0.03],
        "n": 16,
        "gallery": 2,
        "quality_n": 2,
    }
    first = c.post(
        "/v1/jobs/run", params={"model_name": "digits3"}, json=spec, headers={"Idempotency-Key": "k-1"}
    )
    again = c.post(
        "/v1/jobs/run", params={"model_name": "digits3"}, json=spec, headers={"Idempotency-Key": "k-1"}
    )
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]  # a retried submit is safe
    job_id = first.json()["id"]

    events = _sse(c, job_id)
    kinds = {k for k, _ in events}
    assert {"state", "progress", "metric", "end"} <= kinds, kinds
    assert any(k == "metric" and e["name"] == "epoch" for k, e in events)
    job = c.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "SUCCEEDED", job
    assert job["progress"] == 1.0 and job["attempts"] == 1
    assert "holdout" in c.get(f"/v1/jobs/{job_id}/logs").text

    model = c.get("/v1/models/digits3").json()
    version = model["versions"][0]
    assert version["version"] == 1 and version["job_id"] == job_id and version["modality"] == "image"
    assert version["metrics"]["test"]["accuracy"] > 0.6
    assert version["data_fingerprint"] == ds["info"]["fingerprint"] and version["has_report"]
    moved = c.put("/v1/models/digits3/aliases/production", json={"version": 1})
    assert moved.status_code == 200 and moved.json()["aliases"] == {"production": 1}
    assert [h["alias"] for h in moved.json()["alias_history"]] == ["production"]
    assert c.put("/v1/models/digits3/versions/1/tags/owner", json={"value": "qa"}).json()["tags"] == {
        "owner": "qa"
    }

    png = digit_png(0)
    out = c.post(
        "/v1/models/digits3/predict",
        params={"version": "production"},
        json={"images": [base64.b64encode(png).decode()], "top_k": 2},
    )
    assert out.status_code == 200, out.text
    best = out.json()["predictions"][0]
    assert out.json()["version"] == 1 and len(best) == 2 and best[0]["label"] == "0"
    assert 0 < best[1]["probability"] <= best[0]["probability"] <= 1
    body = out.json()  # every answer carries its trust: calibrated, a set (or why not), a familiarity flag
    assert body["calibrated"] and isinstance(body["unfamiliar"][0], bool)
    assert isinstance(body["scores"][0], float)
    assert (body["sets"] is not None and "0" in body["sets"][0] and body["coverage"] == 0.9) or (
        "calibration examples" in body["note"])
    certified = c.post("/v1/models/digits3/predict", json={"images": [base64.b64encode(png).decode()],
                                                           "certify": True, "sigma": 0.25})
    assert certified.status_code == 200, certified.text  # randomized smoothing: a label and its L2 radius
    smoothed = certified.json()["certified"][0]
    assert set(smoothed) == {"label", "radius", "abstained", "sigma"} and smoothed["sigma"] == 0.25
    assert smoothed["abstained"] or (smoothed["label"] in {"0", "1", "2"} and smoothed["radius"] >= 0)
    too_many = c.post("/v1/models/digits3/predict",
                      json={"images": [base64.b64encode(png).decode()] * 17, "certify": True})
    assert _error(too_many, 400, "images")["error"].startswith("certify takes at most 16 images")
    flagged = r'^robustune_predict_unfamiliar_total\{model="digits3"\} \d+$'
    assert re.search(flagged, c.get("/metrics").text, re.M)
    files = c.post(
        "/v1/models/digits3/predict/files",
        files=[("files", ("a.png", png, "image/png"))] * 2,
        data={"top_k": "1"},
    )
    assert files.status_code == 200 and [p[0]["label"] for p in files.json()["predictions"]] == ["0", "0"]

    _concurrent_predicts_batch_and_fail_alone(server, png)

    page = c.get("/v1/models/digits3/versions/1/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text[:500].lower() and "robust" in page.text.lower()
    assert c.get(f"/v1/reports/{job_id}/report.html").status_code == 200
    bundle = c.get("/v1/models/digits3/versions/1/bundle")
    assert bundle.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert {"digits3-1/model.safetensors", "digits3-1/robustune.json"} <= set(names)

    metrics = c.get("/metrics").text
    assert "robustune_requests_total" in metrics and 'robustune_jobs{state="SUCCEEDED"}' in metrics
    assert "robustune_predict_seconds_count" in metrics
    assert c.get("/readyz").json()["status"] == "ready"
    assert any(p["kind"] == "attack" and p["name"] == "fgsm" for p in c.get("/v1/plugins").json())

    # a used dataset cannot go while a job uses it; with none running it can, and the model stays
    assert c.delete(f"/v1/datasets/{ds['id']}").status_code == 204
    assert c.get(f"/v1/datasets/{ds['id']}").status_code == 404
    assert c.get("/v1/models/digits3").status_code == 200


def _error(r: httpx.Response, status: int, field: str | None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"] and body["kind"] and body["field"] == field, body
    return body


def test_a_text_model_answers_with_its_trust(server: Server, text_bundle: Path, tmp_path: Path) -> None:
    """A text model whose trust record scores unfamiliar inputs by Mahalanobis distance (tensors beside
    robustune.json): every answer is calibrated, has a set and a flag, on SQLite and PostgreSQL."""
    from robustune.jobs import calibrate
    from tests.conftest import write_csv

    folder = register(server, text_bundle, "reviews")
    labeled = write_csv(tmp_path / "more.csv", repeat=3)  # not its training file: calibrated on all of it
    calibrate.run(calibrate.CalibrateSpec(folder, f"csv:{labeled}", unfamiliar="mahalanobis"))
    c = server.client("read")
    texts = ["a wonderful and brilliant film", "a boring, awful mess", "the tax form is due on april 15"]
    out = c.post("/v1/models/reviews/predict", json={"texts": texts, "top_k": 2})
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["calibrated"] and body["note"] is None and body["coverage"] == 0.9
    assert [p[0]["label"] for p in body["predictions"][:2]] == ["pos", "neg"]
    for top, labels in zip(body["predictions"], body["sets"], strict=True):
        assert top[0]["label"] in labels and set(labels) <= {"pos", "neg"}
    assert all(isinstance(u, bool) for u in body["unfamiliar"]) and len(body["scores"]) == 3
    assert all(s >= 0 for s in body["scores"])  # squared distances


def test_auth_every_way_in_is_checked(server: Server) -> None:
    anon = httpx.Client(base_url=server.url, timeout=30)
    assert anon.get("/healthz").status_code == 200  # the only open endpoint
    for method, path in [
        ("GET", "/v1/jobs"),
        ("GET", "/v1/models"),
        ("GET", "/v1/datasets"),
        ("GET", "/metrics"),
        ("GET", "/readyz"),
        ("GET", "/v1/plugins"),
        ("POST", "/v1/jobs/train"),
    ]:
        _error(anon.request(method, path, json={}), 401, "authorization")
    wrong = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer rt_not-a-token"}, timeout=30)
    _error(wrong.get("/v1/jobs"), 401, "authorization")

    reader = server.client("read")
    assert reader.get("/v1/jobs").status_code == 200
    _error(reader.post("/v1/jobs/train", json={"data": "digits", "model": "cnn"}), 403, "authorization")
    _error(
        reader.post("/v1/datasets", params={"filename": "a.csv"}, content=b"text,label\na,b\n"),
        403,
        "authorization",
    )
    _error(reader.post("/v1/jobs/job_x/cancel"), 403, "authorization")
    _error(reader.delete("/v1/datasets/ds_x"), 403, "authorization")
    _error(reader.get("/v1/tokens"), 403, "authorization")

    writer = server.client("write")
    queued = writer.post("/v1/jobs/train", json={"data": "digits", "model": "cnn", "epochs": 1}).json()
    _error(writer.get("/v1/tokens"), 403, "authorization")  # only an admin manages tokens
    cancelled = writer.post(f"/v1/jobs/{queued['id']}/cancel").json()
    assert cancelled["state"] in ("CANCELLED", "CANCELLING")

    admin = server.client("admin")
    made = admin.post("/v1/tokens", json={"name": "ci", "scope": "read"})
    assert made.status_code == 201 and made.json()["token"].startswith("rt_")
    listed = admin.get("/v1/tokens").json()
    assert all("token" not in t and "hash" not in t for t in listed)  # never shown again
    fresh = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made.json()['token']}"})
    assert fresh.get("/v1/jobs").status_code == 200
    assert admin.delete(f"/v1/tokens/{made.json()['id']}").status_code == 204
    _error(fresh.get("/v1/jobs"), 401, "authorization")  # revoked
    assert made.json()["token"] not in server.log()  # tokens are never logged

    cookie = httpx.Client(
        base_url=server.url, cookies={"robustune_token": server.tokens["write"]}, timeout=30
    )
    assert cookie.get("/v1/jobs").status_code == 200
    _error(
        cookie.post("/v1/jobs/train", json={"data": "digits"}), 403, "authorization"
    )  # no page header: CSRF


def test_bad_job_specs_name_the_field(server: Server) -> None:
    c = server.client("write")
    _error(c.post("/v1/jobs/train", json={"data": "digits"}), 400, "model")
    _error(c.post("/v1/jobs/train", json={"data": "digits", "model": "cnn", "lr": -1}), 400, "lr")
    _error(c.post("/v1/jobs/train", json={"data": "ds_" + "0" * 16, "model": "cnn"}), 404, "data")
    _error(c.post("/v1/jobs/train", json={"data": "/etc/passwd", "model": "cnn"}), 400, "data")
    _error(
        c.post(
            "/v1/jobs", json={"kind": "train", "spec": {"data": "digits", "model": "cnn", "out": "/tmp/x"}}
        ),
        400,
        "out",
    )
    _error(c.post("/v1/jobs/train", json={"data": "digits", "model": "no-such-model"}), 404, "model")
    _error(c.post("/v1/jobs/audit", json={"bundle": "nobody", "data": "digits"}), 404, "bundle")
    _error(c.post("/v1/jobs", json={"kind": "shell", "spec": {}}), 400, "kind")
    _error(c.get("/v1/jobs/job_none"), 404, "job_id")
    _error(c.post("/v1/models/nobody/predict", json={"texts": ["hi"]}), 404, "name")


def _zip(members: dict[str, bytes], **info: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zi = zipfile.ZipInfo(name)
            if "external_attr" in info:
                zi.external_attr = info["external_attr"]
            zf.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _tar(add: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info, data in add:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(data), link
    return info, (data if kind == tarfile.REGTYPE else None)


PNG = digit_png(1)
HOSTILE = {
    "absolute path (zip)": ("a.zip", _zip({"/etc/evil.png": PNG})),
    "dot-dot (zip)": ("a.zip", _zip({"imgs/../../evil.png": PNG})),
    "symlink (zip)": ("a.zip", _zip({"imgs/0/link.png": b"/etc/passwd"}, external_attr=(0o120777 << 16))),
    "absolute path (tar)": ("a.tar", _tar([_member("/tmp/evil.png", data=PNG)])),
    "dot-dot (tar)": ("a.tar", _tar([_member("x/../../evil.png", data=PNG)])),
    "symlink (tar)": (
        "a.tar",
        _tar([_member("x/0/a.png", data=PNG), _member("x/1/l.png", tarfile.SYMTYPE, link="/etc/passwd")]),
    ),
    "hard link (tar)": (
        "a.tar",
        _tar([_member("x/0/a.png", data=PNG), _member("x/1/h.png", tarfile.LNKTYPE, link="x/0/a.png")]),
    ),
    "device (tar)": ("a.tar", _tar([_member("x/0/a.png", data=PNG), _member("x/1/dev", tarfile.CHRTYPE)])),
    "fifo (tar)": ("a.tar", _tar([_member("x/0/a.png", data=PNG), _member("x/1/p", tarfile.FIFOTYPE)])),
    "zip bomb (ratio)": ("a.zip", _zip({"x/0/a.png": PNG, "x/1/zeros.png": bytes(30 << 20)})),
    "not a csv": ("data.csv", b"\x89PNG\r\n\x1a\n" + bytes(200)),
    "csv without a label column": ("data.csv", b"text,stars\ngood,5\nbad,1\n"),
    "csv of one class": ("data.csv", b"text,label\ngood,pos\nnice,pos\nfine,pos\n"),
    "unknown file type": ("run.sh", b"#!/bin/sh\nrm -rf /\n"),
    "archive without images": ("a.zip", _zip({"x/0/readme.txt": b"hello", "x/1/b.txt": b"x"})),
    "corrupt zip": ("a.zip", b"PK\x03\x04" + bytes(100)),
    "empty upload": ("data.csv", b""),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_uploads_are_refused_and_leave_nothing(server: Server, case: str, tmp_path: Path) -> None:
    c = server.client("write")
    filename, payload = HOSTILE[case]
    before = {d["id"] for d in c.get("/v1/datasets").json()}
    r = c.post("/v1/datasets", params={"filename": filename}, content=payload)
    assert 400 <= r.status_code < 500, (case, r.status_code, r.text)
    body = r.json()
    assert body["field"] in ("file", "filename") and body["error"], body
    assert {d["id"] for d in c.get("/v1/datasets").json()} == before
    artifacts = server.home / "artifacts"
    staging = artifacts / "staging"
    assert not staging.exists() or not list(staging.iterdir())
    assert not (Path("/etc/evil.png").exists() or Path("/tmp/evil.png").exists())
    assert not list(artifacts.rglob("evil.png"))


def test_upload_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    srv = Server(
        tmp_path / "home", None, 0, "--max-upload-mb", "1", "--max-unpacked-mb", "2", "--max-files", "50"
    ).start()
    try:
        c = srv.client("write")
        _error(
            c.post(
                "/v1/datasets", params={"filename": "big.csv"}, content=b"text,label\n" + b"x,y\n" * 400_000
            ),
            413,
            "file",
        )

        def chunks():  # no Content-Length: the cap holds while streaming
            for _ in range(3):
                yield bytes(600_000)

        _error(c.post("/v1/datasets", params={"filename": "big.csv"}, content=chunks()), 413, "file")
        _error(
            c.post(
                "/v1/datasets",
                params={"filename": "a.zip"},
                content=_zip({"x/0/a.png": PNG, "x/1/big.png": bytes(3 << 20)}),
            ),
            413,
            "file",
        )
        _error(
            c.post(
                "/v1/datasets",
                params={"filename": "a.zip"},
                content=_zip({f"x/{i % 2}/{i}.png": PNG for i in range(60)}),
            ),
            413,
            "file",
        )
        assert not list((srv.home / "artifacts").rglob("*.png")) and not list(
            (srv.home / "artifacts").rglob("upload")
        )
    finally:
        srv.stop()


def _concurrent_predicts_batch_and_fail_alone(server: Server, png: bytes) -> None:
    """16 clients at once share forward passes (fewer batches than requests, seen in /metrics), and a
    request with an unreadable image gets its own 422 while the others in its batch get answers."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    c = server.client("write")

    def batches() -> int:
        found = re.search(r"^robustune_predict_batches_total (\d+)", c.get("/metrics").text, re.M)
        assert found is not None
        return int(found.group(1))

    good = {"images": [base64.b64encode(png).decode()], "top_k": 1}
    bad = {"images": [base64.b64encode(png[: len(png) // 2]).decode()]}  # its header reads, its pixels do not
    before = batches()
    with ThreadPoolExecutor(16) as pool, server.client("read") as reader:
        answers = list(pool.map(lambda body: reader.post("/v1/models/digits3/predict", json=body),
                                [bad if i == 5 else good for i in range(16)]))
    assert answers[5].status_code == 422 and answers[5].json()["field"] == "images", answers[5].text
    ok = [a for i, a in enumerate(answers) if i != 5]
    assert all(a.status_code == 200 and a.json()["predictions"][0][0]["label"] == "0" for a in ok)
    assert 1 <= batches() - before < 15  # requests shared forward passes


def test_the_labels_job_runs_through_the_service(server: Server) -> None:
    c = server.client("write")
    ds = c.post("/v1/datasets", params={"filename": "digits.zip", "name": "digits-labels"},
                content=digits_zip(40)).json()
    r = c.post("/v1/jobs/labels", json={"data": ds["id"], "model": "cnn", "epochs": 2, "folds": 3})
    assert r.status_code == 201, r.text
    job = wait_job(c, r.json()["id"])
    assert job["state"] == "SUCCEEDED", (job.get("error"), c.get(f"/v1/jobs/{job['id']}/logs").text[-2000:])
    result = job["result"]
    assert result["examples"] == 96 and result["flagged"] == len(result["rows"])  # train + validation
    assert "3 trainings of cnn" in result["method"]
    assert all(row["given"] != row["suggested"] for row in result["rows"])
    assert {Path(f).name for f in result["files"]} >= {"labels.csv", "labels.json", "duplicates.csv"}
    assert c.get(f"/v1/jobs/{job['id']}/logs").status_code == 200
