"""The README's "Your own task" example, run as written: it can never rot silently."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from runners.stages.baseline import run_baseline
from runners.stages.config import BaselineConfig, GeneralizeConfig, ScaleConfig
from runners.stages.generalize import run_generalize
from runners.stages.scale import run_scale
from runners.tasks.base import ModelSpec, load_task
from tracker.runs import stage_run
from tracker.store import Target

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_task_code() -> str:
    """The first ```python block under the "## Your own task" heading."""
    text = README.read_text()
    section = text[text.index("## Your own task") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's 'Your own task' section has no python block"
    return match.group(1)


@pytest.fixture
def readme_task(tmp_path, monkeypatch):
    (tmp_path / "readme_task_example.py").write_text(readme_task_code())
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("readme_task_example", None)
    return "readme_task_example:make_task"


def test_the_example_is_under_60_lines():
    assert len(readme_task_code().strip().splitlines()) < 60


def test_the_example_runs_through_baseline_generalize_and_scale(store, make_idea, readme_task):
    task = load_task(readme_task, seed=0)
    assert task.build_model(ModelSpec()) is not None
    idea = make_idea()
    with stage_run(Target(store, idea), stage="baseline", task=readme_task) as run:
        base = run_baseline(BaselineConfig(task=readme_task), run, task=task)
    assert 0 < base["accuracy"] < 0.8  # a linear model cannot draw a circle
    cfg = dict(task=readme_task, epochs=3, hist_every=0, n_samples=16, lr=1e-2)
    with stage_run(Target(store, idea), stage="generalize", task=readme_task) as run:
        run_generalize(GeneralizeConfig(**cfg), run, task=task, progress=False)
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.generalize"] == "passed"
    assert got.data.metrics["val/accuracy"] > base["accuracy"]
    assert got.data.metrics["generalize/gap_to_baseline"] > 0
    artifacts = {f.path for f in store.client.list_artifacts(run.run_id, "samples")}
    assert "samples/epoch_0003.png" in artifacts  # the example's own renderer
    # scale turns on its batchnorm, dropout and augmentation: every ModelSpec knob is exercised
    with stage_run(Target(store, idea), stage="scale", task=readme_task) as run:
        run_scale(ScaleConfig(**cfg), run, task=task, progress=False)
    assert store.client.get_run(run.run_id).info.status == "FINISHED"
