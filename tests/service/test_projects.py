"""Projects on SQLite and PostgreSQL (a real server on 127.0.0.1): a token sees and changes only its own
project's datasets, jobs and models (404 for the rest, so ids do not leak), making tokens is limited and
recorded, server admins are separate, and a single-project install migrates into the project default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.service.conftest import Server, client_of, digits_zip, fresh_postgres, postgres_or_skip, register


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           digits_cnn: Path) -> Iterator[Server]:
    """An API-only server allowing 4 live tokens a project; the digits CNN registered in alpha and beta."""
    db = request.getfixturevalue("postgres_db") if request.param == "postgresql" else None
    srv = Server(tmp_path_factory.mktemp(f"projects-{request.param}"), db, 0, "--max-tokens", "4").start()
    register(srv, digits_cnn, "digits", "alpha")
    register(srv, digits_cnn, "digits", "beta")
    register(srv, digits_cnn, "digits", "beta")
    yield srv
    srv.stop()


def status(response: httpx.Response) -> int:
    assert "Traceback" not in response.text
    return response.status_code


def test_a_token_sees_and_changes_only_its_projects_things(shared: Server) -> None:
    alice = client_of(shared, shared.token("write", "alice", "alpha"))
    bob = client_of(shared, shared.token("write", "bob", "beta"))
    ds = alice.post("/v1/datasets", params={"filename": "d.zip", "name": "alices"},
                    content=digits_zip(4)).json()
    job = alice.post("/v1/jobs/train", json={"data": ds["id"], "model": "cnn"}).json()
    assert job["state"] == "QUEUED"
    assert alice.put("/v1/models/digits/aliases/prod", json={"version": 1}).status_code == 200

    assert ds["id"] not in {d["id"] for d in bob.get("/v1/datasets").json()}
    assert job["id"] not in {j["id"] for j in bob.get("/v1/jobs").json()}
    for method, path, body in [
        ("GET", f"/v1/datasets/{ds['id']}", None), ("DELETE", f"/v1/datasets/{ds['id']}", None),
        ("GET", f"/v1/jobs/{job['id']}", None), ("POST", f"/v1/jobs/{job['id']}/cancel", None),
        ("GET", f"/v1/jobs/{job['id']}/logs", None), ("GET", f"/v1/jobs/{job['id']}/events", None),
        ("GET", f"/v1/reports/{job['id']}/report.html", None),
        ("POST", "/v1/jobs/train", {"data": ds["id"], "model": "cnn"}),  # another project's dataset
        ("POST", "/v1/jobs/audit", {"bundle": "digits:prod", "data": "digits"}),  # another project's alias
    ]:
        r = bob.request(method, path, json=body)
        assert status(r) == 404, (method, path, r.text)
    # one name, two projects: each its own versions and aliases
    assert [v["version"] for v in alice.get("/v1/models/digits").json()["versions"]] == [1]
    assert [v["version"] for v in bob.get("/v1/models/digits").json()["versions"]] == [1, 2]
    assert bob.get("/v1/models/digits").json()["aliases"] == {}
    assert status(bob.put("/v1/models/digits/aliases/prod", json={"version": 2})) == 200
    assert alice.get("/v1/models/digits").json()["aliases"] == {"prod": 1}  # alice's alias did not move
    carol = client_of(shared, shared.token("write", "carol", "gamma"))
    for method, path, body in [
        ("GET", "/v1/models/digits", None), ("GET", "/v1/models/digits/versions/1", None),
        ("GET", "/v1/models/digits/versions/1/bundle", None),
        ("PUT", "/v1/models/digits/versions/1/tags/k", {"value": "v"}),
        ("DELETE", "/v1/models/digits/versions/1", None),
        ("POST", "/v1/models/digits/predict", {"texts": ["a"]}),
    ]:
        assert status(carol.request(method, path, json=body)) == 404, (method, path)
    assert carol.get("/v1/models").json() == [] and carol.get("/v1/datasets").json()[0]["kind"] == "builtin"
    assert alice.get("/v1/me").json()["project"] == "alpha"
    page = alice.get("/")
    assert 'id="project">alpha<' in page.text and "alices" in page.text
    assert alice.post(f"/v1/jobs/{job['id']}/cancel").json()["state"] == "CANCELLED"


def test_tokens_are_made_within_a_project_limited_and_recorded(shared: Server) -> None:
    admin_token = shared.token("admin", "delta-admin", "delta")
    admin = client_of(shared, admin_token)
    me = admin.get("/v1/me").json()
    made = admin.post("/v1/tokens", json={"name": "ci", "scope": "write"})
    assert made.status_code == 201, made.text
    listed = admin.get("/v1/tokens").json()
    assert {t["project"] for t in listed} == {"delta"} and len(listed) == 2
    assert next(t for t in listed if t["name"] == "ci")["created_by"] == me["id"]
    assert status(admin.post("/v1/tokens", json={"name": "x", "scope": "read", "project": "alpha"})) == 403
    assert status(admin.post("/v1/projects", json={"name": "epsilon"})) == 403
    alpha_admin = client_of(shared, shared.token("admin", "a2", "alpha"))
    outsider = alpha_admin.get("/v1/tokens").json()[0]
    assert status(admin.delete(f"/v1/tokens/{outsider['id']}")) == 404
    for i in range(2):  # 4 live tokens at most
        assert status(admin.post("/v1/tokens", json={"name": f"more-{i}", "scope": "read"})) == 201
    full = admin.post("/v1/tokens", json={"name": "one too many", "scope": "read"})
    assert status(full) == 409 and "--max-tokens" in full.json()["error"]
    new = client_of(shared, made.json()["token"])
    assert new.get("/v1/me").json()["project"] == "delta"
    assert status(new.get("/v1/tokens")) == 403  # write scope: no token admin

    root = client_of(shared, shared.token("admin", "root", "default", server_admin=True))
    assert {"alpha", "delta"} <= {t["project"] for t in root.get("/v1/tokens").json()}
    assert status(root.post("/v1/projects", json={"name": "epsilon"})) == 201
    first = root.post("/v1/tokens", json={"name": "eps-admin", "scope": "admin", "project": "epsilon"})
    assert status(first) == 201
    assert client_of(shared, first.json()["token"]).get("/v1/me").json()["project"] == "epsilon"
    assert "epsilon" in {p["name"] for p in root.get("/v1/projects").json()}
    assert [p["name"] for p in admin.get("/v1/projects").json()] == ["delta"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_single_project_install_migrates_into_the_default_project(database: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from robustune.service.auth import digest, verify
    from robustune.service.db import MIGRATIONS, Database, migrate, normalize

    if database == "postgresql":
        postgres_or_skip()
    url = fresh_postgres() if database == "postgresql" else f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize(url).replace("%", "%%"))
    command.upgrade(cfg, "0002")  # the schema before projects, with one of everything in it
    engine = sa.create_engine(normalize(url))
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tokens (id, name, hash, scope, created_at) VALUES "
                             "('tok_0000000000000001', 'old-admin', :h, 'admin', CURRENT_TIMESTAMP)"),
                     {"h": digest("rt_old")})
        conn.execute(sa.text("INSERT INTO datasets (id, name, kind, size_bytes, info, created_at) VALUES "
                             "('ds_0000000000000001', 'old', 'csv', 1, '{}', CURRENT_TIMESTAMP)"))
        conn.execute(sa.text(
            "INSERT INTO jobs (id, kind, state, spec, resolved, progress, message, attempts, max_attempts, "
            "result, created_at, cancel_requested) VALUES ('job_0000000000000001', 'train', 'SUCCEEDED', "
            "'{}', '{}', 1.0, 'done', 1, 3, '{}', CURRENT_TIMESTAMP, false)"))
        conn.execute(sa.text(
            "INSERT INTO model_versions (id, name, version, path, modality, spec, metrics, data_fingerprint, "
            "created_at) VALUES ('mv_0000000000000001', 'old', 1, 'jobs/x', 'image', '{}', '{}', '', "
            "CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO aliases (name, alias, version_id) VALUES "
                             "('old', 'production', 'mv_0000000000000001')"))
    engine.dispose()
    migrate(url)
    db = Database(url)
    token = verify(db, "rt_old")
    assert token is not None and token.project_id == "prj_default" and token.server_admin
    with db.begin() as s:
        for table in ("datasets", "jobs", "model_versions", "aliases"):
            owners = set(s.execute(sa.text(f"SELECT project_id FROM {table}")).scalars())
            assert owners == {"prj_default"}, (table, owners)
        assert s.execute(sa.text("SELECT name FROM projects")).scalars().all() == ["default"]
    from robustune.service.settings import Settings
    from robustune.service.store import Store

    store = Store(Settings(home=tmp_path / "home", db=url))
    with store.db.begin() as s:
        assert store.version(s, "old:production").id == "mv_0000000000000001"
