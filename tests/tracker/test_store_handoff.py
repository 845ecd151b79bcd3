"""A run's `Target` crosses process boundaries whole: in a Ray trial's `TrialSetup` and in a
data-parallel rank's `WorkerSpec`. The user gave a relative SQLite path and an id prefix; the
process that unpickles them runs in another working directory, with MLFLOW_TRACKING_URI and
IDEALOOP_PROJECT pointing elsewhere, and still opens the same store and the same idea."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from runners.stages.config import ScaleConfig
from runners.stages.parallel import WorkerSpec
from runners.sweeps.trainable import TrialSetup
from tracker.ideas import target_for
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[2]
# What the other process does with what it was handed: open the store each names, find the idea.
CHILD = """
import json, pickle, sys
seen = []
for handed in pickle.load(sys.stdin.buffer):
    store, idea = handed.target.store, handed.target.idea_id
    run = store.client.get_run(idea)
    seen.append([store.uri, store.project, run.info.run_id, run.info.experiment_id])
print(json.dumps(seen))
"""


def test_the_target_reaches_other_processes_absolute_and_resolved(
    store, make_idea, tracking_dir, tmp_path, monkeypatch
):
    idea = make_idea()
    monkeypatch.chdir(tracking_dir.parent)
    # The boundary, as `idealoop tune --tracking-uri sqlite:///DIR/mlflow.db --idea PREFIX` meets it.
    user = Store.resolve(uri=f"sqlite:///{tracking_dir.name}/mlflow.db", project=store.project)
    assert user.uri == store.uri  # made absolute at once
    target = target_for(user, idea[:8])
    handed = [
        TrialSetup(target=target, sweep_id="s" * 32, stage="generalize", base={}),
        WorkerSpec(2, 0, ScaleConfig(processes=2), target, "r" * 32, "out.pkl"),
    ]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": "sqlite:///decoy.db", "IDEALOOP_PROJECT": "decoy"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], input=pickle.dumps(handed), cwd=elsewhere, env=env, capture_output=True
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    # The full id, in the same experiment of the same file: a relative URI would have opened
    # (and created) a database here; a re-read environment, decoy.db.
    expected = [store.uri, store.project, idea, store.experiment_id]
    assert json.loads(out.stdout) == [expected, expected]
    assert not list(elsewhere.iterdir())
