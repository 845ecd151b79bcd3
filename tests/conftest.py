"""Shared fixtures: a real SQLite MLflow store in a temp dir, one per test session.

Creating a SQLite store runs MLflow's migrations (~1.5 s), so the session shares
one database and each test gets its own project (= MLflow experiment), which
isolates ideas and runs just as well.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
if os.environ.get("PYTEST_XDIST_WORKER"):  # `pytest -n 2` on 2 cores: a torch thread per worker,
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # not two each fighting for both cores
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# The queue's warm servers (runners/queue/warm_server.py) of this test process: its own folder
# (short: a Unix socket path has ~107 bytes), stopped when the session ends.
os.environ.setdefault("IDEALOOP_WARM_DIR", f"/tmp/iw-{os.getpid()}-{uuid.uuid4().hex[:6]}")  # made on use
os.environ.setdefault("IDEALOOP_WARM_IDLE_S", "120")


@pytest.fixture(scope="session")
def tracking_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="session")
def tracking_uri(tracking_dir):
    return f"sqlite:///{tracking_dir}/mlflow.db"


@pytest.fixture
def store(tracking_uri, tracking_dir, monkeypatch):
    """A fresh project in the session's real SQLite store; env points the CLI at it too."""
    from tracker.store import Store

    project = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("IDEALOOP_PROJECT", project)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tracking_dir)  # MLflow puts artifacts under ./mlruns
    return Store(project=project, uri=tracking_uri)


@pytest.fixture(scope="session")
def postgres_uri():
    """A fresh PostgreSQL database for this test session (tests/db.py), dropped at its end."""
    from tests.db import fresh_database

    with fresh_database("postgresql") as uri:
        yield uri


@pytest.fixture(scope="session")
def mariadb_uri():
    """A fresh MariaDB (MySQL) database for this test session (tests/db.py), dropped at its end."""
    from tests.db import fresh_database

    with fresh_database("mariadb") as uri:
        yield uri


DATABASES = ("sqlite", "postgresql", "mariadb")


@pytest.fixture(params=DATABASES)
def db_store(request, tracking_uri, tracking_dir, monkeypatch):
    """`store` on each database in turn: a fresh project in the session's SQLite store, its
    PostgreSQL database or its MariaDB one (those are made on first use, once a session)."""
    from tracker.store import Store

    uri = {"sqlite": tracking_uri, "postgresql": "postgres_uri", "mariadb": "mariadb_uri"}[request.param]
    if request.param != "sqlite":
        uri = request.getfixturevalue(uri)
    project = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("IDEALOOP_PROJECT", project)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tracking_dir)  # artifacts under ./mlruns, as for `store`
    return Store(project=project, uri=uri)


@pytest.fixture
def make_idea(store):
    from tracker.estimates import Estimates
    from tracker.ideas import add_idea

    def make(title="idea", hours=1, complexity=1, impact=0.01, likelihood=0.5, **kw):
        est = Estimates.parse(hours=hours, complexity=complexity, impact=impact, likelihood=likelihood)
        return add_idea(store, title, est, **kw)

    return make


@pytest.fixture
def doubled(store):
    """`doubled(run_id[, in_store])`: the run's metric keys holding two values at one step,
    {key: [steps]} (in the test's `store` unless another is given)."""
    from collections import Counter

    def find(run_id: str, in_store=None) -> dict[str, list[int]]:
        client = (in_store or store).client
        out = {}
        for key in client.get_run(run_id).data.metrics:
            counts = Counter(m.step for m in client.get_metric_history(run_id, key))
            twice = sorted(s for s, n in counts.items() if n > 1)
            if twice:
                out[key] = twice
        return out

    return find


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` skip, saying why, where torch sees no CUDA device (CI, a laptop)."""
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU: torch.cuda.is_available() is False here")
    for item in gpu:
        item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """How many generated hostile inputs ran through the CLI (tests.runners.cli.test_hostile_input.py)."""
    import sys

    module = sys.modules.get("tests.runners.cli.test_hostile_input")
    tried = getattr(module, "TRIED", None)
    if tried:
        cases = ", ".join(f"{k} {v}" for k, v in sorted(tried.items()))
        terminalreporter.write_line(f"hostile inputs tried: {sum(tried.values())} ({cases})")


@pytest.fixture(autouse=True, scope="session")
def _ray_logs_follow_the_session_stderr():
    """Ray's driver log handler writes to the sys.stderr of the moment Ray was first imported. Under
    pytest that can be one test's `capsys` stream, closed when that test ends: every later Ray log
    line is then a "--- Logging error ---" traceback in another test's captured output. Import Ray
    now, while sys.stderr is pytest's session-long capture."""
    import ray  # noqa: F401

    yield


@pytest.fixture(autouse=True, scope="session")
def _warm_servers_end_with_the_session():
    """No warm server of this session outlives it (they would idle out, but hold ~0.5 GB meanwhile)."""
    yield
    from runners.queue.warm_server import stop_server

    folder = os.environ["IDEALOOP_WARM_DIR"]
    for lock in glob.glob(os.path.join(folder, "*.sock.lock")):
        stop_server(lock[: -len(".lock")])
    if os.path.basename(folder).startswith("iw-"):
        shutil.rmtree(folder, ignore_errors=True)
