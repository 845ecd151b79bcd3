"""tracker/curve_axes.py: a curve's epoch and time axes, pure and on a real store."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.entities import Metric

from tracker.curve_axes import epochs_at, read_axis_curve


def test_epochs_interpolate_between_epoch_points_from_step_zero():
    # epoch e ends at step 10e - 1 (no epoch 0 logged): step 0 is epoch 0, step 9 epoch 1
    got = epochs_at(np.array([0, 9, 14, 19, 29]), np.array([9, 19]), np.array([1, 2]))
    assert got == pytest.approx([0, 1, 1.5, 2, 3])  # past the last epoch: its slope continues


def test_epochs_with_epoch_zero_logged_and_none_at_all():
    assert epochs_at(np.array([0, 50]), np.array([0, 100]), np.array([0, 1])) == pytest.approx([0, 0.5])
    assert epochs_at(np.array([0, 5]), np.array([0]), np.array([0])) == pytest.approx([0, 0])
    assert epochs_at(np.array([0, 5]), np.array([]), np.array([])) is None


def test_batch_sizes_line_up_by_epoch(store):
    """Two runs, 10 and 20 steps an epoch: by step their curves misalign, by epoch they match."""
    client = store.client
    read = {}
    for per in (10, 20):
        run = client.create_run(store.experiment_id, start_time=1_000_000)
        run_id = run.info.run_id
        metrics = [Metric("train/loss", 1.0 / (s + 1), 1_000_000 + 500 * s, s) for s in range(2 * per)]
        # as the trainer logs it: epoch 0 at step 0, epoch e at the step count after e epochs
        metrics += [Metric("epoch", e, 1_000_000 + 500 * e * per, e * per) for e in (0, 1, 2)]
        client.log_batch(run_id, metrics=metrics)
        read[per] = read_axis_curve(store, run_id, "train/loss", start_time_ms=1_000_000)
    # batch s of a run with `per` steps an epoch is epoch s / per: the same data seen in both runs
    assert read[10].epochs == pytest.approx(np.arange(20) / 10)
    assert read[20].epochs == pytest.approx(np.arange(40) / 20)
    assert read[10].epochs[5] == read[20].epochs[10] == pytest.approx(0.5)
    assert read[10].seconds[:3] == pytest.approx([0, 0.5, 1.0])  # timestamps from the run's start
    assert read[20].total_points == 40 and list(read[20].steps) == list(range(40))


def test_a_run_without_epochs_has_no_epoch_axis_and_a_long_curve_is_downsampled(store):
    run_id = store.client.create_run(store.experiment_id, start_time=0).info.run_id
    points = [Metric("train/loss", float(s % 7), 10 * s, s) for s in range(5000)]
    for i in range(0, len(points), 1000):
        store.client.log_batch(run_id, metrics=points[i : i + 1000])
    c = read_axis_curve(store, run_id, "train/loss", start_time_ms=0, max_points=400)
    assert c.epochs is None and c.total_points == 5000 and len(c.steps) <= 400
    # each kept point keeps its own timestamp (10 ms a step), not its neighbour's
    assert c.seconds == pytest.approx(c.steps * 0.01)
