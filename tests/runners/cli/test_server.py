"""Team mode against a real `idealoop server`: MLflow's server with basic-auth on PostgreSQL.

One server for the module (it takes ~15 s or more to answer /health), on 127.0.0.1 with a
database of its own that the module drops at the end. Clients are the real CLI in
subprocesses, the board's Ideas page in AppTest, the telemetry shipper; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TASK = "tests.runners.sweeps.tune_task:make_task"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


@pytest.fixture(scope="module")
def pg_database():
    """A fresh PostgreSQL database for the server's runs; dropped afterwards."""
    name = f"idealoop_srv_{uuid.uuid4().hex[:10]}"
    _psql(f"CREATE DATABASE {name}")
    yield f"{PG}/{name}"
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Server:
    """`idealoop server` in a subprocess; `stop()` and `start()` keep its port and stores."""

    def __init__(self, folder: Path, backend: str) -> None:
        self.folder, self.backend = folder, backend
        self.password = "pw-" + secrets.token_hex(12)  # what must never show up anywhere
        self.port, self.url, self.proc = 0, "", None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(MLFLOW_FLASK_SERVER_SECRET_KEY="k" * 32, MLFLOW_AUTH_ADMIN_PASSWORD=self.password)
        env["PYTHONPATH"] = str(ROOT)
        return env

    def start(self) -> None:
        cmd = [sys.executable, "-m", "runners.cli", "server", "--port", str(self.port), "--workers", "1"]
        cmd += ["--backend-store-uri", self.backend, "--artifacts-destination", str(self.folder / "art")]
        cmd += ["--auth-db", f"sqlite:///{self.folder}/auth.db"]
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.folder,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=open(self.folder / "log", "ab"),
        )
        self.url = self.proc.stdout.readline().decode().strip()  # printed once /health answers
        assert self.url.startswith("http://127.0.0.1:"), (self.folder / "log").read_text()[-2000:]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        # SIGTERM, which idealoop takes as Ctrl-C: a job started in the background (a CI script)
        # inherits SIGINT ignored, so a SIGINT would never stop it.
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0

    def client_env(self, project: str, user: str = "admin", password: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(MLFLOW_TRACKING_URI=self.url, IDEALOOP_PROJECT=project, PYTHONPATH=str(ROOT))
        env.update(MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=password or self.password)
        return env

    def api(self, path: str, body: dict, user: str = "admin", password: str | None = None) -> int:
        auth = b64encode(f"{user}:{password or self.password}".encode()).decode()
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code


@pytest.fixture(scope="module")
def server(tmp_path_factory, pg_database):
    s = Server(tmp_path_factory.mktemp("server"), pg_database)
    s.start()
    yield s
    if s.proc.poll() is None:
        s.stop()


def _cli(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runners.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _add(env: dict, title: str) -> subprocess.CompletedProcess:
    return _cli(env, "idea", "add", "--title", title, "--hours", "1", "--complexity", "1", "--impact", "0.1",
                "--likelihood", "0.5")  # fmt: skip


def _one_error_line(out: subprocess.CompletedProcess) -> str:
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith("idealoop: error: ")
    return lines[0]


def test_requests_without_or_with_wrong_credentials_are_refused_in_one_line(server):
    env = server.client_env(f"p-{uuid.uuid4().hex[:6]}")
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(key)
    line = _one_error_line(_cli(env, "idea", "list"))
    assert "no or wrong credentials" in line and "MLFLOW_TRACKING_PASSWORD" in line
    wrong = server.client_env(f"p-{uuid.uuid4().hex[:6]}", password="not-the-password-1")
    line = _one_error_line(_cli(wrong, "idea", "list"))
    assert "refused user 'admin': wrong user name or password" in line
    assert server.password not in line


def test_a_user_without_permission_cannot_edit_anothers_project(server):
    project = f"p-{uuid.uuid4().hex[:6]}"
    admin = server.client_env(project)
    assert _add(admin, "the admin's idea").returncode == 0  # creates the project: admin owns it
    bob_pw = "bob-" + secrets.token_hex(8)
    assert server.api("/api/2.0/mlflow/users/create", {"username": "bob", "password": bob_pw}) == 200
    bob = server.client_env(project, user="bob", password=bob_pw)
    listed = _cli(bob, "idea", "list", "--json")  # default permission READ: bob reads it
    assert listed.returncode == 0, listed.stderr
    assert [i["title"] for i in json.loads(listed.stdout)] == ["the admin's idea"]
    refused = _add(bob, "bob's idea")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr[-1500:]
    assert refused.stderr.startswith("idealoop: error: the server refused user 'bob': no permission")
    after = json.loads(_cli(admin, "idea", "list", "--json").stdout)
    assert [i["title"] for i in after] == ["the admin's idea"]  # nothing half-written
    # ...and MLflow's own permission check, straight through its client: bob may not tag it.
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    as_admin = MlflowClient(server.url.replace("http://", f"http://admin:{server.password}@"))
    exp_id = as_admin.get_experiment_by_name(project).experiment_id
    as_bob = MlflowClient(server.url.replace("http://", f"http://bob:{bob_pw}@"))
    with pytest.raises(MlflowException, match="403|PERMISSION_DENIED"):
        as_bob.set_experiment_tag(exp_id, "owner", "bob")
    assert "owner" not in as_admin.get_experiment(exp_id).tags


def test_cli_stage_sweep_and_board_work_through_the_server_and_no_password_leaks(server, tmp_path):
    """The team flow through a URI that carries the password (`http://admin:PW@host`): every
    command works unchanged, nothing is left RUNNING, and the password shows up in no param, tag,
    artifact text, output line or board page."""
    project = f"p-{uuid.uuid4().hex[:6]}"
    env = server.client_env(project)
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(key)
    env["MLFLOW_TRACKING_URI"] = server.url.replace("http://", f"http://admin:{server.password}@")
    env["RAY_AUTH_MODE"] = "disabled"
    outputs = []

    clock = time.monotonic()
    added = _add(env, "team idea")
    outputs.append(added)
    assert added.returncode == 0, added.stderr
    idea = added.stdout.strip()
    assert len(idea) == 32  # stdout holds the id alone (no "View run" lines from MLflow)
    stage = _cli(env, "run", "overfit", "--idea", idea, "--task", TASK, "--no-progress")
    outputs.append(stage)
    print(f"idea add + run overfit: {time.monotonic() - clock:.0f} s")
    assert stage.returncode == 0, stage.stderr[-2000:]
    space = tmp_path / "space.yaml"
    space.write_text("seed: {grid: [0, 1]}\nwidth: 8\nhist_every: 0\nn_samples: 4\n")
    tune = _cli(env, "tune", "--idea", idea, "--task", TASK, "--space", str(space), "--num-samples", "1",
                "--max-iterations", "2", "--cpus-per-trial", "1", "--max-concurrent", "2",
                "--storage-path", str(tmp_path / "ray"), timeout=600)  # fmt: skip
    outputs.append(tune)
    print(f"+ tune: {time.monotonic() - clock:.0f} s")
    assert tune.returncode == 0, tune.stderr[-3000:]
    sweep_id = tune.stdout.strip().splitlines()[-1]

    from mlflow import MlflowClient

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name(project)
    runs = client.search_runs([exp.experiment_id])
    kinds = sorted(r.data.tags.get("idealoop.kind", "") for r in runs)
    assert kinds == ["idea", "stage", "sweep", "trial", "trial"], kinds
    assert all(r.info.status != "RUNNING" for r in runs)
    trials = [r for r in runs if r.data.tags.get("idealoop.sweep_id") == sweep_id]
    assert len(trials) == 2 and all(client.get_metric_history(r.info.run_id, "train/loss") for r in trials)

    # The board's Ideas page, reading through the same URI.
    from streamlit.testing.v1 import AppTest

    old = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "IDEALOOP_PROJECT")}
    os.environ.update(MLFLOW_TRACKING_URI=env["MLFLOW_TRACKING_URI"], IDEALOOP_PROJECT=project)
    try:
        at = AppTest.from_file(str(ROOT / "board" / "app.py"), default_timeout=60).run()
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    assert not at.exception
    board = at.dataframe[0].value
    assert list(board["title"]) == ["team idea"] and list(board["id"]) == [idea]
    page = " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.error])
    assert f"admin:***@127.0.0.1:{server.port}" in page  # the caption names the store, redacted

    # No password anywhere: params, tags, artifact texts, outputs, the page.
    leaks = [f"{o.args[3:5]} output" for o in outputs if server.password in o.stdout + o.stderr]
    for run in runs:
        for kind, values in (("param", run.data.params), ("tag", run.data.tags)):
            leaks += [f"{run.info.run_id} {kind} {k}" for k, v in values.items() if server.password in v]
        texts = _artifact_texts(client, run.info.run_id)
        leaks += [f"{run.info.run_id} artifact {p}" for p, text in texts.items() if server.password in text]
    assert server.password not in page
    assert not leaks, leaks


def _artifact_texts(client, run_id: str, path: str = "") -> dict[str, str]:
    import tempfile

    out = {}
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out.update(_artifact_texts(client, run_id, f.path))
        elif f.path.endswith((".txt", ".json", ".yaml", ".log")):
            with tempfile.TemporaryDirectory() as tmp:
                out[f.path] = Path(client.download_artifacts(run_id, f.path, tmp)).read_text(errors="replace")
    return out


def test_telemetry_survives_a_server_restart_mid_run(server, monkeypatch):
    """The shipper (the writer's process against a server) keeps a batch the server could not
    take while it was down and stores it once it is back: every point, in order."""
    from tracker.store import Store
    from tracker.telemetry import TelemetryWriter

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.password)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the shipper's own retries, not MLflow's
    store = Store(project=f"p-{uuid.uuid4().hex[:6]}", uri=server.url)
    run_id = store.client.create_run(store.experiment_id).info.run_id
    writer = TelemetryWriter(store, run_id, process=True)
    writer.log_series("train/loss", [float(i) for i in range(300)], first_step=0)
    writer.flush()  # stored: the server has these 300 before it goes down
    server.stop()
    writer.log_series("train/loss", [float(i) for i in range(300, 1800)], first_step=300)
    time.sleep(3)  # a full batch (1,000) reached the shipper, which meets a closed port
    server.start()  # same port, same database
    writer.close()  # raises TelemetryError if any point was lost
    assert writer.written == 1800
    history = store.client.get_metric_history(run_id, "train/loss")
    assert sorted(m.step for m in history) == list(range(1800))
    assert all(m.value == float(m.step) for m in history)


def test_telemetry_to_a_server_that_never_comes_back_fails_loudly(monkeypatch):
    from tracker.store import Store
    from tracker.telemetry import TelemetryError, TelemetryWriter

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("IDEALOOP_SERVER_PATIENCE_S", "1")
    store = Store(project="gone", uri=f"http://127.0.0.1:{port}")
    store.__dict__["experiment_id"] = "1"  # never asked: the server is gone
    writer = TelemetryWriter(store, "0" * 32, process=True, retries=2)
    writer.log_series("train/loss", [0.5] * 1200, first_step=0)
    with pytest.raises(TelemetryError, match="1200 telemetry points could not be written"):
        writer.close()


def test_server_refuses_a_port_in_use_and_missing_secrets_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    base = [sys.executable, "-m", "runners.cli", "server", "--auth-db", f"sqlite:///{tmp_path}/a.db"]

    def run(extra_env, *args):
        return subprocess.run([*base, *args], env={**env, **extra_env}, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    assert "MLFLOW_FLASK_SERVER_SECRET_KEY" in _one_error_line(run({}))
    line = _one_error_line(run({"MLFLOW_FLASK_SERVER_SECRET_KEY": "k" * 32}))
    assert "set MLFLOW_AUTH_ADMIN_PASSWORD" in line
    secrets_set = {"MLFLOW_FLASK_SERVER_SECRET_KEY": "k" * 32, "MLFLOW_AUTH_ADMIN_PASSWORD": "p" * 16}
    assert "shorter than 12" in _one_error_line(run({**secrets_set, "MLFLOW_AUTH_ADMIN_PASSWORD": "short"}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_error_line(run(secrets_set, "--port", str(port)))
    assert f"cannot serve on 127.0.0.1:{port}" in line
    line = _one_error_line(run(secrets_set, "--backend-store-uri", "https://u:hunter2hunter2@example.com"))
    assert "is a server" in line and "hunter2" not in line
    assert not (tmp_path / "a.db").exists()  # nothing written
