"""Warm starts of queue items (runners/queue/warm.py, warm_server.py): real client processes, a
real server forking real children, a real SQLite store; what an item sees and leaves must be what
`python -m runners.cli` would have given it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from runners.queue import warm_server as ws
from tracker.queue_items import add_item
from tracker.store import TAG_END_REASON, TAG_QUEUE_ITEM

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def warm_dir(monkeypatch):
    """A folder of this test's own for the server (a short path: Unix sockets), stopped after."""
    folder = tempfile.mkdtemp(prefix="iwt-", dir="/tmp")
    monkeypatch.setenv("IDEALOOP_WARM_DIR", folder)
    monkeypatch.setenv("IDEALOOP_WARM_IDLE_S", "60")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    yield Path(folder)
    ws.stop_server()
    shutil.rmtree(folder, ignore_errors=True)


def warm(*args: str, env: dict | None = None, cwd=None, **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "runners.queue.warm", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120, **kw)


def server_log(folder: Path) -> str:
    return "".join(p.read_text() for p in folder.glob("*.log"))


def test_an_item_runs_forked_by_the_server_with_its_own_streams_status_env_and_folder(
    store, make_idea, warm_dir, tmp_path
):
    idea = make_idea("warm")
    cold = subprocess.run(
        [sys.executable, "-m", "runners.cli", "idea", "list"], capture_output=True, text=True, timeout=120
    )
    first = warm("idea", "list")
    assert first.returncode == 0, first.stderr
    assert first.stdout == cold.stdout and idea in first.stdout
    assert "cold start" not in first.stderr  # the first item waits for the server it starts
    log = server_log(warm_dir)
    assert "idealoop warm server" in log and "idealoop idea list" in log  # forked by the server
    assert ws.server_alive()

    # Exit status and stderr come through; the same server serves another store, another folder.
    missing = warm("idea", "show", "nope")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("idealoop: error: no idea 'nope'")
    other = tmp_path / "elsewhere"
    other.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    fresh = warm("idea", "add", "--title", "here", "--hours", "1", "--complexity", "1", "--impact", "0.01",
                 "--likelihood", "0.5", "--create", env=env, cwd=other)  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    assert (other / "mlflow.db").exists()  # the client's folder, not the server's
    assert fresh.stdout.strip() not in warm("idea", "list").stdout  # nor the first store
    assert server_log(warm_dir).count("idealoop warm server") == 1  # one server served them all


def test_sigterm_to_an_item_ends_its_run_killed_and_sigkill_stops_its_child(store, make_idea, warm_dir):
    idea = make_idea("long")

    def long_item() -> str:
        return add_item(store, idea_id=idea, what="generalize", stage="generalize", task="digits",
                        overrides={"epochs": "400"}, space={}, sweep={}, cpus=1, gpus=0, minutes=None,
                        priority=None)  # fmt: skip

    for signum, want_code in ((signal.SIGTERM, 130), (signal.SIGKILL, -signal.SIGKILL)):
        item = long_item()
        proc = subprocess.Popen(
            [sys.executable, "-m", "runners.queue.warm", "queue", "exec", item],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        run = wait_for_run(store, item)
        os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == want_code, err
        status, reason = wait_for_end(store, run)
        assert (status, reason) == ("KILLED", "killed"), (signum, err)
        child = child_pid(warm_dir, item)  # the process that ran it, from the server's log
        end = time.monotonic() + 40
        while Path(f"/proc/{child}").exists() and time.monotonic() < end:
            time.sleep(0.2)
        assert not Path(f"/proc/{child}").exists(), f"child {child} of a {signum!r}-ed item still runs"


def child_pid(folder: Path, item: str) -> int:
    lines = [ln for ln in server_log(folder).splitlines() if ln.endswith(f"queue exec {item}")]
    assert len(lines) == 1, lines
    return int(lines[0].split()[1].rstrip(":"))


def wait_for_run(store, item: str, timeout_s: float = 90.0) -> str:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        runs = store.client.search_runs([store.experiment_id], f"tags.`{TAG_QUEUE_ITEM}` = '{item}'")
        if runs and store.client.get_metric_history(runs[0].info.run_id, "train/loss"):
            return runs[0].info.run_id
        time.sleep(0.2)
    raise AssertionError(f"no training run for item {item} within {timeout_s} s")


def wait_for_end(store, run_id: str, timeout_s: float = 60.0) -> tuple[str, str | None]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        run = store.client.get_run(run_id)
        if run.info.status != "RUNNING":
            return run.info.status, run.data.tags.get(TAG_END_REASON)
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still RUNNING after {timeout_s} s")


def test_without_a_usable_server_the_item_runs_the_ordinary_way(store, make_idea, warm_dir, monkeypatch):
    idea = make_idea("cold")
    os.chmod(warm_dir, 0o755)  # not private: no server may listen there
    got = warm("idea", "list")
    assert got.returncode == 0 and idea in got.stdout
    assert "cold start" in got.stderr
    assert not list(warm_dir.glob("*.sock"))
    os.chmod(warm_dir, 0o700)
    monkeypatch.setenv("IDEALOOP_WARM", "0")  # switched off: no note, no server
    got = warm("idea", "list")
    assert got.returncode == 0 and idea in got.stdout and got.stderr == ""
    assert not list(warm_dir.glob("*.log"))


def test_an_idle_server_ends_and_removes_its_socket(warm_dir, monkeypatch):
    monkeypatch.setenv("IDEALOOP_WARM_IDLE_S", "2")
    server = [sys.executable, "-m", "runners.queue.warm_server"]
    proc = subprocess.Popen(server, stdout=subprocess.PIPE, text=True)
    assert "idealoop warm server" in proc.stdout.readline()  # ready: preloaded and listening
    sock = Path(ws.socket_path())
    assert sock.exists() and ws.server_alive()
    assert proc.wait(timeout=60) == 0
    assert not sock.exists() and not ws.server_alive()
    assert ws.stop_server() is False  # nothing to stop


@pytest.mark.gpu
def test_warm_items_train_on_cuda_in_children_of_a_server_that_never_touched_it(store, make_idea, warm_dir):
    # CUDA cannot be initialised again in a child forked after its parent did: two items in a row
    # (the first may start the server, the second is surely warm) both train on the GPU.
    idea = make_idea("cuda warm")
    for _ in range(2):
        item = add_item(store, idea_id=idea, what="generalize", stage="generalize", task="digits",
                        overrides={"device": "cuda", "epochs": "1", "hist_every": "0"}, space={}, sweep={},
                        cpus=1, gpus=1, minutes=None, priority=None)  # fmt: skip
        got = warm("queue", "exec", item)
        assert got.returncode == 0, got.stderr
        run = store.client.get_run(got.stdout.strip().splitlines()[-1])
        assert run.info.status == "FINISHED" and run.data.params["device_resolved"] == "cuda"
    assert len([ln for ln in server_log(warm_dir).splitlines() if "queue exec" in ln]) == 2


def test_a_reinstalled_package_gets_a_new_server_not_one_with_the_old_code_in_memory(tmp_path, monkeypatch):
    pkg = tmp_path / "preloaded_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = ws.install_stamp(["preloaded_pkg", "no_such_package_here"])
    assert "preloaded_pkg" in before and "no_such_package_here:-" in before
    assert "preloaded_pkg" not in sys.modules  # found, not imported
    os.utime(pkg / "__init__.py", ns=(0, time.time_ns() + 10**9))  # `pip install -U` rewrote it
    assert ws.install_stamp(["preloaded_pkg", "no_such_package_here"]) != before
    monkeypatch.setattr(ws, "PRELOAD", (*ws.PRELOAD, "preloaded_pkg"))
    first = ws.socket_path()
    os.utime(pkg / "__init__.py", ns=(0, time.time_ns() + 2 * 10**9))
    assert ws.socket_path() != first
