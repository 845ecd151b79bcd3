"""Shaping a run's curves for the Idea page: smoothing, steps as epochs, overfit phases.

Pure functions (frames and numbers in, frames and numbers out; no Streamlit, no
MLflow), so what the charts are given can be tested without a page:

- `ema`: TensorBoard's debiased exponential moving average, for the smoothing slider;
- `epoch_knots` / `step_to_epoch`: the `epoch` metric is logged once per epoch at the
  global step of the epoch's end, so those (step, epoch) pairs place any step on an
  epoch axis (linear within an epoch; past the last logged epoch, at the last epoch's
  pace), even when epochs differ in length;
- `overfit_phases`: stage_overfit trains one run through two sub-stages (1 sample,
  then a few); `overfit_one/steps` ends the first, and each has its own loss gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tracker import keys

# stage_overfit's params (OverfitConfig fields, logged as run params by the stage):
ONE_THRESHOLD, FEW_THRESHOLD, FEW_SAMPLES = "one_threshold", "few_threshold", "few_samples"


def ema(values: np.ndarray | pd.Series, weight: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing); weight 0 = unchanged."""
    v = np.asarray(values, dtype=float)
    if weight <= 0 or len(v) == 0:
        return v.copy()
    out = np.empty_like(v)
    last, n = 0.0, 0
    for i, x in enumerate(v):
        if not np.isfinite(x):  # a NaN/inf point stays visible and does not poison what follows
            out[i] = x
            continue
        n += 1
        last = last * weight + (1 - weight) * x
        out[i] = last / (1 - weight**n)
    return out


def epoch_knots(epochs: pd.DataFrame) -> np.ndarray | None:
    """(step, epoch) pairs from the `epoch` curve, with epoch 0 at step -1 when it was not
    logged; None when no epoch has ended yet (no scale from steps to epochs)."""
    if epochs is None or epochs.empty or not (epochs["value"] > 0).any():
        return None
    knots = epochs[["step", "value"]].sort_values("step").drop_duplicates("value").to_numpy(dtype=float)
    if knots[0, 1] > 0:  # no epoch 0 logged: training started at step 0, so epoch 0 "ended" at -1
        knots = np.vstack([[-1.0, 0.0], knots])
    return knots


def step_to_epoch(steps: np.ndarray | pd.Series, knots: np.ndarray) -> np.ndarray:
    """Each step as a (fractional) epoch: linear between logged epoch ends, extrapolated at the
    pace of the first / last epoch before / after them."""
    s = np.asarray(steps, dtype=float)
    xs, ys = knots[:, 0], knots[:, 1]
    out = np.interp(s, xs, ys)
    if len(xs) >= 2:
        lo = (ys[1] - ys[0]) / (xs[1] - xs[0])
        hi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        out = np.where(s < xs[0], ys[0] + (s - xs[0]) * lo, out)
        out = np.where(s > xs[-1], ys[-1] + (s - xs[-1]) * hi, out)
    return out


@dataclass(frozen=True)
class Phase:
    """One sub-stage of an overfit run: where it starts and ends (steps) and its loss gate."""

    label: str
    start: float
    end: float
    threshold: float | None


def _number(params: dict[str, str], name: str) -> float | None:
    try:
        return float(params[name])
    except (KeyError, TypeError, ValueError):
        return None


def overfit_phases(metrics: dict[str, float], params: dict[str, str], last_step: float) -> list[Phase]:
    """The 1-sample and few-sample phases of an overfit run, as far as it got.

    The first phase ran steps [0, overfit_one/steps); the second starts there and ran
    overfit_few/steps more (or is still going, up to `last_step`). Without
    `overfit_one/steps` the run is still in its first phase.
    """
    few = _number(params, FEW_SAMPLES)
    few_label = f"{few:g} samples" if few is not None else "few samples"
    one_steps = metrics.get(keys.OVERFIT_ONE_STEPS)
    if one_steps is None:
        return [Phase("1 sample", 0, max(last_step, 0), _number(params, ONE_THRESHOLD))]
    few_steps = metrics.get(keys.OVERFIT_FEW_STEPS)
    end = one_steps + few_steps - 1 if few_steps is not None else max(last_step, one_steps)
    return [
        Phase("1 sample", 0, one_steps - 1, _number(params, ONE_THRESHOLD)),
        Phase(few_label, one_steps, end, _number(params, FEW_THRESHOLD)),
    ]


def phase_frames(phases: list[Phase], to_x=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(phases: label, start, end) and (gates: label, start, end, value) for the chart; `to_x`
    maps steps to the chart's x (identity by default)."""
    f = to_x or (lambda v: v)
    spans = pd.DataFrame(
        [{"label": p.label, "start": f(p.start), "end": f(p.end)} for p in phases],
        columns=["label", "start", "end"],
    )
    gates = pd.DataFrame(
        [
            {
                "label": f"{p.label}: gate < {p.threshold:g}",
                "start": f(p.start),
                "end": f(p.end),
                "value": p.threshold,
            }  # fmt: skip
            for p in phases
            if p.threshold is not None
        ],
        columns=["label", "start", "end", "value"],
    )
    return spans, gates
