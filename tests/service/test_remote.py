"""The README's service commands as a user types them: ``robustune token`` and ``robustune remote``
against a real server (SQLite), from a token printed once to a prediction, and the one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import Server, digit_png, digits_zip


def robustune(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "robustune", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_token_and_remote_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = robustune("token", "create", "--name", "ci", "--scope", "write", "--home", str(home))
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token and "shown only this once" in made.stderr and token not in made.stderr
    srv = Server(home, None, 1).start()
    try:
        env = {"ROBUSTUNE_URL": srv.url, "ROBUSTUNE_TOKEN": token}
        (tmp_path / "digits.zip").write_bytes(digits_zip(60))
        up = robustune("remote", "upload", str(tmp_path / "digits.zip"), "--name", "digits3", env=env)
        assert up.returncode == 0 and up.stdout.strip().startswith("ds_"), up.stderr
        assert "image data, 180 examples, classes 0, 1, 2" in up.stderr
        spec = tmp_path / "train.yaml"  # YAML or JSON
        spec.write_text(f"data: {up.stdout.strip()}\nmodel: cnn\nepochs: 6\n")
        done = robustune("remote", "submit", "train", "--spec", str(spec), "--model-name", "digits3",
                         "--wait", env=env)
        assert done.returncode == 0, done.stderr
        job_id, result = done.stdout.split("\n", 1)
        assert "SUCCEEDED" in done.stderr and json.loads(result)["metrics"]["test"]["n"] > 0

        status = robustune("remote", "status", env=env)
        assert job_id in status.stdout and "SUCCEEDED" in status.stdout
        assert "holdout" in robustune("remote", "logs", job_id, env=env).stdout
        models = robustune("remote", "models", env=env)
        shown = r"digits3  versions 1  newest @1 accuracy [01]\.\d{3}  aliases -\s*"
        assert re.fullmatch(shown, models.stdout), models.stdout
        (tmp_path / "zero.png").write_bytes(digit_png(0))
        pred = robustune("remote", "predict", "digits3", str(tmp_path / "zero.png"), "--top-k", "2", env=env)
        assert pred.returncode == 0, pred.stderr
        top = json.loads(pred.stdout)["predictions"][0]
        assert len(top) == 2 and top[0]["label"] == "0"

        again = robustune("remote", "cancel", job_id, env=env)  # it has ended: a one-line refusal
        assert again.returncode != 0 and again.stderr.startswith("error: server:") and "409" in again.stderr

        listed = robustune("token", "list", "--home", str(home))
        ident = next(line.split()[0] for line in listed.stdout.splitlines() if "  ci  (made " in line)
        assert token not in listed.stdout
        assert robustune("token", "revoke", ident, "--home", str(home)).returncode == 0
        refused = robustune("remote", "status", env=env)
        assert refused.returncode != 0 and "401" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) <= 2  # one line (and a hint at most)
        assert token not in srv.log()
    finally:
        srv.stop()
    nobody = {"ROBUSTUNE_URL": "http://127.0.0.1:9", "ROBUSTUNE_TOKEN": "x"}
    unreachable = robustune("remote", "status", env=nobody)
    assert unreachable.returncode != 0 and "cannot reach the server" in unreachable.stderr


def test_client_commands_start_without_torch() -> None:
    """``remote`` and ``token`` start without PyTorch (the whole command line does: the job specs are
    light), so scripts that poll a server start in a fraction of a second. A bare group prints its help,
    no error line."""
    code = ("import sys\nfrom robustune.main import main\ntry:\n    main(['remote', 'status', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'fastapi', 'sqlalchemy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("[]"), proc.stdout[-500:] + proc.stderr
    bare = robustune("remote")
    assert bare.returncode == 2 and "Commands" in bare.stdout and "error" not in bare.stderr, bare.stderr
