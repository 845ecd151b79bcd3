"""The project's target (history kept), progress per day, the gap; weak classes by hand."""

from __future__ import annotations

import pytest

from tracker import project, weak
from tracker.queries import RunRow

DAY = 86_400_000


def run(id, value, day, *, task="digits", kind="stage", stage="generalize"):
    return RunRow(id=id, name=id, kind=kind, stage=stage, status="FINISHED", task=task,
                  end_time=day * DAY + 1000, metrics={"best/accuracy": value})  # fmt: skip


def test_target_revisions_are_kept_and_the_newest_is_the_target(store):
    assert project.current_target(store) is None
    project.set_target(store, task="digits", metric="accuracy", value=0.97, higher_is_better=True)
    project.set_target(store, task="digits", metric="accuracy", value=0.99, higher_is_better=True)
    history = project.target_history(store)
    assert [(t.revision, t.value) for t in history] == [(1, 0.97), (2, 0.99)]
    assert project.current_target(store).value == 0.99  # a tag overwritten in place would lose 0.97
    with pytest.raises(project.TargetError):
        project.set_target(store, task="digits", metric="accuracy", value=float("nan"), higher_is_better=True)


def test_progress_is_the_best_up_to_each_day_and_other_tasks_do_not_count():
    target = project.ProjectTarget("digits", "accuracy", 0.99, True)
    rows = [
        run("a", 0.90, 3),
        run("b", 0.95, 3),
        run("c", 0.93, 5),
        run("d", 0.97, 6),
        run("x", 1.0, 6, task="shapes"),
    ]
    points = project.progress(rows, target)
    assert [(p["day_best"], p["best"]) for p in points] == [(0.95, 0.95), (0.93, 0.95), (0.97, 0.97)]
    value, best = project.best_so_far(rows, target)
    assert (value, best.id) == (0.97, "d")
    assert project.gap(value, target) == pytest.approx(0.02)
    assert (
        project.covers_gap(0.03, 0.02)
        and not project.covers_gap(0.01, 0.02)
        and not project.covers_gap(1, -0.01)
    )


def test_a_lower_is_better_target_measures_its_gap_downwards():
    target = project.ProjectTarget("denoise", "l1", 0.05, False)
    rows = [RunRow(id="a", name="a", kind="stage", stage="scale", status="FINISHED", task="denoise",
                   metrics={"best/l1": 0.056})]  # fmt: skip
    value, _ = project.best_so_far(rows, target)
    assert project.gap(value, target) == pytest.approx(0.006)


def test_weak_classes_match_the_confusion_matrix_by_hand():
    # rows are true classes: class a 8/10 right, b 17/20 right, c 10/10 right
    matrix = [[8, 1, 1], [1, 17, 2], [0, 0, 10]]
    found = weak.from_confusion(["a", "b", "c"], matrix)
    mean = (0.8 + 0.85 + 1.0) / 3
    assert [w.name for w in found] == ["a", "b"]  # c is above the mean
    a, b = found
    assert (a.value, a.share, a.support) == (0.8, 0.25, 10) and a.mean == pytest.approx(mean)
    assert a.gain == pytest.approx(0.25 * (mean - 0.8)) and b.gain == pytest.approx(0.5 * (mean - 0.85))
    seed = weak.idea_seed(a, "accuracy")
    assert seed["title"].startswith("Improve class a (recall 0.80") and seed["impact"] == round(a.gain, 4)


def test_weak_classes_from_per_class_rows_use_the_last_epoch():
    rows = [{"epoch": 1, "metric": "val/iou", "class": "circle", "value": 0.1},
            {"epoch": 2, "metric": "val/iou", "class": "circle", "value": 0.5},
            {"epoch": 2, "metric": "val/iou", "class": "square", "value": 0.9}]  # fmt: skip
    (w,) = weak.from_per_class(rows)
    assert (w.name, w.metric, w.value, w.gain) == ("circle", "iou", 0.5, pytest.approx(0.2 / 2))
