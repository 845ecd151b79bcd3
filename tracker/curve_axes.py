"""Curves on other x axes than the step: epochs and time, so unlike runs line up.

Two runs with different batch sizes take different numbers of steps per epoch: drawn by
step, their curves misalign although they saw the same data. Drawn by epoch they line
up; drawn by time, what a run costs shows. MLflow stores each point with its step and
its wall-clock timestamp, and every epoch-logging run logs `epoch` (1-based; 0 before
training) at the step that ends it, so:

- epoch of a step: linear interpolation between the `epoch` points (from step 0 = epoch 0
  when the run did not log epoch 0), extended past the last one at its slope (a running
  run's current epoch). A run without `epoch` points (overfit) has no epoch axis.
- time of a point: its timestamp, in seconds since the run started (or since its first
  point, when that is earlier: hand-made or imported runs).

Curves are downsampled as `tracker.curves.read_curve` does (every spike kept); the axes
are computed for the points kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker import keys
from tracker.curves import DISPLAY_POINTS, minmax_downsample, raw_query, read_points
from tracker.sql_metrics import sql_backend
from tracker.store import Store


@dataclass(frozen=True)
class AxisCurve:
    """One metric of one run with three x axes; `epochs` is None when the run logs no epochs."""

    steps: np.ndarray
    values: np.ndarray
    seconds: np.ndarray
    epochs: np.ndarray | None
    total_points: int


def epochs_at(steps: np.ndarray, epoch_steps: np.ndarray, epoch_values: np.ndarray) -> np.ndarray | None:
    """Fractional epoch at each step, from the run's `epoch` points (step, epoch). Pure.

    None when there are no epoch points. With one point (epoch e at step s) the slope is
    e/s from step 0; beyond the last point, the last slope continues.
    """
    steps = np.asarray(steps, dtype=float)
    at = np.asarray(epoch_steps, dtype=float)
    ep = np.asarray(epoch_values, dtype=float)
    if len(at) == 0:
        return None
    order = np.argsort(at, kind="stable")
    at, ep = at[order], ep[order]
    if at[0] > 0:  # training starts at epoch 0, step 0
        at, ep = np.concatenate([[0.0], at]), np.concatenate([[0.0], ep])
    if len(at) == 1:  # only epoch 0 so far
        return np.zeros_like(steps)
    out = np.interp(steps, at, ep)
    slope = (ep[-1] - ep[-2]) / (at[-1] - at[-2]) if at[-1] > at[-2] else 0.0
    beyond = steps > at[-1]
    out[beyond] = ep[-1] + (steps[beyond] - at[-1]) * slope
    return out


def timed_points(store: Store, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (step, value, timestamp ms) of one metric, ordered by step then time."""
    backend = sql_backend(store.client)
    if backend is not None:
        with backend.ManagedSessionMaker() as session:
            rows = raw_query(
                session,
                "SELECT step, value, is_nan, timestamp FROM metrics WHERE run_uuid = {p} AND key = {p}",
                (run_id, key),
            )
        table = np.fromiter(
            rows, dtype=[("step", "i8"), ("value", "f8"), ("nan", "?"), ("ts", "i8")], count=len(rows)
        )
        table.sort(order=["step", "ts"], kind="stable")
        return table["step"].copy(), np.where(table["nan"], np.nan, table["value"]), table["ts"].copy()
    history = sorted(store.client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    return (
        np.array([m.step for m in history], dtype=np.int64),
        np.array([m.value for m in history], dtype=float),
        np.array([m.timestamp for m in history], dtype=np.int64),
    )


def read_axis_curve(
    store: Store, run_id: str, key: str, start_time_ms: int, max_points: int = DISPLAY_POINTS
) -> AxisCurve:
    """One metric of one run, downsampled, with its step, epoch and seconds-since-start axes."""
    steps, values, stamps = timed_points(store, run_id, key)
    kept_steps, kept_values = minmax_downsample(steps, values, max_points)
    # Each kept point's timestamp: steps are unique per key (tracker/resume.py), sorted.
    kept_stamps = stamps[np.searchsorted(steps, kept_steps)] if len(steps) else stamps
    origin = min(start_time_ms, int(stamps.min())) if len(stamps) else start_time_ms
    epoch_steps, epoch_values = (
        read_points(store, run_id, keys.EPOCH) if key != keys.EPOCH else (steps, values)
    )
    return AxisCurve(
        steps=kept_steps,
        values=kept_values,
        seconds=(kept_stamps - origin) / 1000.0,
        epochs=epochs_at(kept_steps, epoch_steps, epoch_values),
        total_points=len(steps),
    )
