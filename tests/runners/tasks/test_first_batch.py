"""Loading names the real problem; the first batch's cheap checks catch a broken task at once;
the regression kind has metrics, a baseline and a predicted-vs-true plot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from runners.tasks import kinds
from runners.tasks.base import Task, TaskError, load_task
from runners.tasks.first_batch import TaskCheckError, preflight, shape_problem

BROKEN = "tests.runners.tasks.broken_tasks"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("as_dict", "as_dict() returned a dict, not a runners.tasks.base.Task"),
        (
            "unknown_kind",
            "unknown kind 'regresion'; known: classification, segmentation, image2image, regression",
        ),
    ],
)
def test_loading_names_the_real_problem(name, says):
    # Before: a dict holding every part was reported as "lacks train, val, test, build_model, loss",
    # and an unknown kind was accepted silently.
    with pytest.raises(TaskError) as err:
        load_task(f"{BROKEN}:{name}")
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("missing_metric", "target metric 'rmse' is not among the metrics the task computes (mse, mae, r2)"),
        (
            "wide_output",
            "outputs (8, 3) float32, targets (8, 1) float32: kind regression needs outputs of the",
        ),
        (
            "default_kind",
            "kind classification needs outputs (N, C >= 2) and integer targets (N,); a regression?",
        ),
    ],
)
def test_preflight_catches_each_mistake_in_one_line(name, says):
    with pytest.raises(TaskCheckError) as err:
        preflight(load_task(f"{BROKEN}:{name}"))
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_correct_regression_task_passes_and_gets_the_kinds_defaults():
    task = load_task(f"{BROKEN}:regression")
    preflight(task)  # raises on any problem
    assert (task.target_metric, task.higher_is_better) == ("mse", False)


def test_loss_that_is_not_a_scalar_and_a_broadcast_in_a_custom_kind_are_errors():
    task = load_task(f"{BROKEN}:regression")
    task.loss = lambda out, y: (out - y) ** 2  # forgot the reduction
    with pytest.raises(TaskCheckError, match=r"the loss returned shape \(8, 1\), not a scalar"):
        preflight(task)
    out, y = torch.zeros(4, 3), torch.zeros(4)
    seg = Task("s", *[load_task(f"{BROKEN}:regression").train] * 3, None, None, kind="segmentation")
    assert "kind segmentation needs" in shape_problem(seg, out, y.long())


def test_regression_metrics_and_ridge_baseline_by_hand():
    out, y = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [3.0]])
    m = kinds.regression_metrics(out, y)
    # errors 0, -1, 1: mse 2/3, mae 2/3; y mean 7/3, total sum of squares 8/3 -> r2 = 1 - 2/(8/3)
    assert m["mse"] == pytest.approx(2 / 3) and m["mae"] == pytest.approx(2 / 3)
    assert m["r2"] == pytest.approx(1 - 2 / (8 / 3))
    task = load_task(f"{BROKEN}:regression")
    base = kinds.baseline_fn(task)(task, 0)
    assert base["r2"] > 0.9  # the data is linear: ridge nearly solves it
    img = kinds.samples_fn(task)(task.val.x, task.val.y + 0.1, task.val.y)
    assert img.size == (360, 360)
    # every dot is near the diagonal y = x: blue pixels lie close to it (a transposed plot would not)
    rows, cols = (np.asarray(img) == (0, 110, 200)).all(-1).nonzero()
    assert len(rows) and np.abs(cols - (360 - rows)).max() < 40


def test_working_directory_is_importable_as_python_m_would(tmp_path, monkeypatch):
    (tmp_path / "mytask_cwd18.py").write_text(
        "from tests.runners.tasks.broken_tasks import regression\n\ndef make_task(seed=0):\n"
        "    return regression(seed)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    assert load_task("mytask_cwd18:make_task").kind == "regression"
