"""Faults a stage run meets in the wild: an artifact store that is full or read-only.

The artifact store is a real tmpfs mounted for the test (root only, as CI runs; skipped,
saying so, elsewhere). The stage runs through the installed `idealoop` console script in its
own process, against a fresh SQLite store, exactly as a user would run it. The contract:
the run is FAILED, no gate on it says passed, the CLI prints one line and exits non-zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

IDEALOOP = str(Path(sys.executable).with_name("idealoop"))


@pytest.fixture
def tmpfs(tmp_path):
    mount = tmp_path / "artifacts"
    mount.mkdir()
    mounted = []

    def make(size_kb: int, *, free_kb: int | None = None, read_only: bool = False) -> Path:
        opts = f"size={size_kb}k" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mount)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); CI runs as root")
        mounted.append(mount)
        if free_kb is not None:  # fill it, then give back exactly free_kb
            filler = mount / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"x" * 4096):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)
            os.truncate(filler, max(0, filler.stat().st_size - free_kb * 1024))
        return mount

    yield make
    for m in mounted:
        subprocess.run(["umount", "-l", str(m)], check=False)


def _run_overfit(tmp_path: Path, cwd: Path) -> tuple[subprocess.CompletedProcess, object]:
    uri = f"sqlite:///{tmp_path}/mlflow.db"  # the database beside, the artifacts (./mlruns) on the tmpfs
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "IDEALOOP_PROJECT": "faults", "IDEALOOP_DEBUG": ""}
    env.pop("MLFLOW_RUN_ID", None)
    done = subprocess.run(
        [IDEALOOP, "run", "overfit", "--no-progress"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("faults")
    runs = client.search_runs([exp.experiment_id]) if exp else []
    return done, (runs[0] if runs else None)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("idealoop: error:")]


def test_a_full_artifact_store_fails_the_run_and_passes_no_gate(tmp_path, tmpfs):
    # Enough room for config.json, not for the histogram snapshots the writer stores later:
    # before the fix the run was FAILED yet tagged passed, and the CLI said "passed", exit 0.
    cwd = tmpfs(64, free_kb=16)
    done, run = _run_overfit(tmp_path, cwd)
    assert run is not None and run.info.status == "FAILED"
    gates = {k: v for k, v in run.data.tags.items() if k.startswith("idealoop.gate.")}
    assert gates and set(gates.values()) == {"failed"}
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = _error_lines(done.stderr)
    assert "No space left on device" in line and run.info.run_id in line
    assert "passed" not in done.stderr.splitlines()[-1]


def test_a_read_only_artifact_store_is_one_line_and_a_failed_run(tmp_path, tmpfs):
    cwd = tmpfs(64, read_only=True)
    done, run = _run_overfit(tmp_path, cwd)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = _error_lines(done.stderr)
    assert "Read-only file system" in line
    assert run is not None and run.info.status == "FAILED"
    assert all(v != "passed" for k, v in run.data.tags.items() if k.startswith("idealoop.gate."))
