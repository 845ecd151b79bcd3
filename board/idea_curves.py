"""The Idea page's Curves tab: what a researcher opens a run for.

Top to bottom: the run's final numbers (values logged once — a baseline's scores, the
overfit gates' losses and steps — as numbers, never as one-point charts); the
per-batch train and val loss, tall, smoothed on request, by step or by epoch, with an
overfit run's two sub-stages split and their loss gates drawn; then the epoch metrics
on an epoch axis, zoomed to the data: the target metric and val loss first and larger,
every class of a per-class metric in one chart, the rest small. Reference lines are
the baseline's score and the project's best, named in each chart's legend.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from board import charts, data, seed_bands
from board.common import short
from board.curve_prep import (
    FEW_THRESHOLD,
    ONE_THRESHOLD,
    ema,
    epoch_knots,
    overfit_phases,
    phase_frames,
    step_to_epoch,
)
from tracker import keys, queries
from tracker.store import Store

BATCH_SERIES = ((keys.TRAIN_LOSS, "train"), (keys.VAL_LOSS_BATCH, "val"))
# Values a stage logs once, at its end: shown as numbers.
RESULT_KEYS = (
    keys.OVERFIT_ONE_LOSS, keys.OVERFIT_ONE_STEPS, keys.OVERFIT_FEW_LOSS, keys.OVERFIT_FEW_STEPS,
    keys.GENERALIZE_VAL_LOSS_START, keys.GENERALIZE_VAL_LOSS_BEST, keys.GAP_TO_BASELINE, keys.SCALE_REFERENCE,
)  # fmt: skip
RESULT_PREFIXES = (keys.BASELINE_PREFIX, keys.BEST_PREFIX)
COUNTS = (keys.OVERFIT_ONE_STEPS, keys.OVERFIT_FEW_STEPS)  # shown as whole numbers
GATES = {
    keys.OVERFIT_ONE_LOSS: ("overfit_one", ONE_THRESHOLD),
    keys.OVERFIT_FEW_LOSS: ("overfit_few", FEW_THRESHOLD),
}
PER_ROW = 5  # numbers per row
SMOOTH_DEFAULT = 0.6  # TensorBoard's default EMA weight


def render(s: Store, run: queries.RunRow, project_rows: list[queries.RunRow]) -> None:
    knots = None
    if keys.EPOCH in run.metrics:
        knots = epoch_knots(data.live_curve(s.project, s.uri, run, keys.EPOCH)[0])
    params = run.params if run.stage == "overfit" else {}  # RunRow carries the params
    curves, once = epoch_metrics(s, run, knots)
    numbers = results(run, once)
    if numbers:
        _numbers(numbers, run, params)
    _per_batch(s, run, knots, params)
    _epochs(s, run, curves, knots, project_rows)


def is_epoch_key(key: str) -> bool:
    """A run-level metric of the full val pass (or the learning rate), logged once per epoch."""
    if key == keys.TRAIN_LR:
        return True
    return key.startswith(keys.VAL_PREFIX) and key != keys.VAL_LOSS_BATCH and not data.is_per_class(key)


def epoch_metrics(s: Store, run: queries.RunRow, knots) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Epoch metrics with more than one value as frames (epoch, value); the others as numbers."""
    curves, once = {}, {}
    for key in sorted(k for k in run.metrics if is_epoch_key(k)):
        df, total = data.live_curve(s.project, s.uri, run, key)
        if total <= 1 or df["value"].nunique() <= 1:  # one value, or a constant (the lr of a plain Adam)
            once[key] = run.metrics[key]
            continue
        x = step_to_epoch(df["step"], knots) if knots is not None else df["step"]
        curves[key] = pd.DataFrame({keys.EPOCH: x, "value": df["value"]})
    return curves, once


def results(run: queries.RunRow, once: dict[str, float]) -> dict[str, float]:
    """The numbers to show: stage results (in the stage's order), then one-value epoch metrics
    that a baseline/ key of the run does not already say."""
    found = [k for k in run.metrics if k in RESULT_KEYS or k.startswith(RESULT_PREFIXES)]
    order = sorted(found, key=lambda k: (RESULT_KEYS.index(k) if k in RESULT_KEYS else len(RESULT_KEYS), k))
    out = {k: run.metrics[k] for k in order}
    for key, value in once.items():
        if queries.baseline_key(key) not in out:
            out[key] = value
    return out


def _numbers(numbers: dict[str, float], run: queries.RunRow, params: dict[str, str]) -> None:
    items = list(numbers.items())
    for i in range(0, len(items), PER_ROW):
        cols = st.columns(PER_ROW)
        for col, (key, value) in zip(cols, items[i : i + PER_ROW], strict=False):
            shown = f"{value:,.0f}" if key in COUNTS else f"{value:.4g}"
            spread = run.metrics.get(f"{keys.BEST_STD_PREFIX}{key[len(keys.BEST_PREFIX) :]}")
            gate, threshold = GATES.get(key, ("", ""))
            verdict = run.gates.get(gate, "")
            if gate and threshold in params and verdict:
                colour = "green" if verdict == "passed" else "red" if verdict == "failed" else "gray"
                col.metric(key, shown, delta=f"{verdict}: gate < {float(params[threshold]):g}",
                           delta_color=colour, delta_arrow="off")  # fmt: skip
            elif key.startswith(keys.BEST_PREFIX) and spread is not None:  # the mean over seeds, ± their std
                col.metric(
                    key,
                    shown,
                    delta=f"± {spread:.2g} (std across seeds)",
                    delta_color="off",
                    delta_arrow="off",
                )
            else:
                col.metric(key, shown)


def _per_batch(s: Store, run: queries.RunRow, knots, params: dict[str, str]) -> None:
    frames, logged = [], 0
    for key, series in BATCH_SERIES:
        if key in run.metrics:
            df, total = data.live_curve(s.project, s.uri, run, key)
            frames.append(df.assign(series=series))
            logged += total
    if not frames:
        if run.stage == "baseline":
            st.caption("A baseline is fitted once: it has the numbers above, no training curves.")
        else:
            st.info(f"This run has no per-batch `{keys.TRAIN_LOSS}` yet.")
        return
    frame = pd.concat(frames, ignore_index=True).sort_values(["series", "step"])
    left, mid, right = st.columns([1, 1.3, 2.2], vertical_alignment="bottom")
    log_y = left.toggle("log scale", value=True, key="log_y")
    by = mid.segmented_control(
        "x axis", ["step", keys.EPOCH], default="step", key="batch_x", disabled=knots is None,
        help=None if knots is not None else "no epoch has ended in this run yet",
    )  # fmt: skip
    by = by if by == keys.EPOCH and knots is not None else "step"
    weight = right.slider("smoothing (EMA)", 0.0, 0.99, SMOOTH_DEFAULT, 0.01, key="smooth")
    to_x = (lambda v: step_to_epoch(pd.Series(v), knots)) if by == keys.EPOCH else None
    frame["x"] = to_x(frame["step"]) if to_x else frame["step"]
    frame["phase"] = 0
    spans = gates = None
    if run.stage == "overfit":
        phases = overfit_phases(run.metrics, params, float(frame["step"].max()))
        spans, gates = phase_frames(phases, to_x)
        for i, p in enumerate(phases[1:], 1):  # smoothing starts afresh with each phase
            frame.loc[frame["step"] >= p.start, "phase"] = i
    groups = frame.groupby(["series", "phase"], sort=False)["value"]
    frame["smooth"] = groups.transform(lambda v: ema(v, weight))
    log_ok = log_y and bool((frame["value"] > 0).all())
    bands = seed_bands.batch_bands(s, run, to_x)
    colours = dict(zip(charts.PAIR_DOMAIN, charts.PAIR_RANGE, strict=True))
    behind = [seed_bands.band_layer(b, "x", colours[series]) for series, b in bands.items()]
    band_ys = pd.concat([pd.concat([b["lo"], b["hi"]]) for b in bands.values()] or [pd.Series(dtype=float)])
    log_ok = log_ok and bool((band_ys > 0).all())
    chart = charts.batch_chart(
        frame, x_title=by, y_title="loss per batch", log_y=log_ok, spans=spans, gates=gates,
        behind=(behind, band_ys),
    )  # fmt: skip
    st.altair_chart(chart, width="stretch")
    smooth_note = f"; smoothed (EMA {weight:g}), raw drawn faint" if weight > 0 else ""
    st.caption(
        f"{len(frame):,} of {logged:,} logged points drawn (first, min, max and last of every bucket kept, "
        f"so no spike is lost){smooth_note}. val = one random val batch after each step."
        + (
            f" Lines: the mean of {run.params.get('seeds', 'the')} seeds; shaded: the lowest to highest seed."
            if bands
            else ""
        )
    )


def _target_key(run: queries.RunRow, curves: dict[str, pd.DataFrame]) -> str | None:
    if run.target and f"{keys.VAL_PREFIX}{run.target}" in curves:
        return f"{keys.VAL_PREFIX}{run.target}"
    if keys.VAL_ACCURACY in curves:
        return keys.VAL_ACCURACY
    return next((k for k in curves if not queries.lower_is_better(k)), None)


def reference_rules(run: queries.RunRow, key: str, project_rows: list[queries.RunRow]) -> pd.DataFrame:
    """(role, label, value) of the baseline's score and the project's best for one metric."""
    rules = []
    base = queries.baseline_value(project_rows, key)
    if base:
        rules.append({"role": "baseline", "label": f"baseline {base[0]:.4g}", "value": base[0]})
    pool = [r for r in project_rows if r.kind in ("stage", "trial")]
    best = queries.project_best(pool, key)
    if best:
        who = "this run" if best[1] == run.id else f"run {short(best[1])}"
        rules.append(
            {"role": "project best", "label": f"project best {best[0]:.4g} ({who})", "value": best[0]}
        )
    return pd.DataFrame(rules, columns=["role", "label", "value"])


def after_start(frame: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """The trained epochs and the value before training (epoch 0), when at least two epochs
    trained: an untrained model's accuracy (0.1) would squash the band that matters (0.90-0.95)."""
    trained = frame[frame[keys.EPOCH] > 0]
    if len(trained) < 2 or len(trained) == len(frame):
        return frame, None
    return trained, float(frame.loc[frame[keys.EPOCH] <= 0, "value"].iloc[-1])


def _trained(rows: pd.DataFrame) -> pd.DataFrame:
    """The trained epochs of per-class rows, when two or more: epoch 0 would squash the band."""
    trained = rows[rows[keys.EPOCH] > 0]
    return trained if trained[keys.EPOCH].nunique() >= 2 else rows


def _epochs(s, run, curves: dict[str, pd.DataFrame], knots, project_rows) -> None:
    per_class = data.per_class(s.project, s.uri, run)
    if not curves and per_class.empty:
        return
    x_title = keys.EPOCH if knots is not None else "step"

    def draw(where, key: str, height: int) -> None:
        frame, start = after_start(curves[key])
        rules = reference_rules(run, key, project_rows) if key.startswith(keys.VAL_PREFIX) else None
        std = seed_bands.epoch_std(s, run, key, knots)
        behind = (
            []
            if std is None
            else [seed_bands.band_layer(seed_bands.epoch_band(frame, std), keys.EPOCH, charts.PAIR_RANGE[0])]
        )
        notes = [f"before training (epoch 0): {start:.4g}"] if start is not None else []
        notes += [f"mean of {run.params.get('seeds', 'several')} seeds, shaded ± 1 std"] if behind else []
        chart = charts.epoch_chart(
            frame, title=key, rules=rules, height=height, x_title=x_title,
            subtitle="; ".join(notes), behind=behind,
        )  # fmt: skip
        where.altair_chart(chart, width="stretch")

    st.subheader("Per epoch")
    first = [k for k in (_target_key(run, curves), keys.VAL_LOSS) if k in curves]
    if first:
        cols = st.columns(2)
        for col, key in zip(cols, first, strict=False):
            draw(col, key, charts.BIG_HEIGHT)
    is_slice = per_class["metric"].str.startswith(keys.SLICE_PREFIX)
    for metric, rows in per_class[~is_slice].groupby("metric", sort=True):
        st.altair_chart(charts.per_class_chart(_trained(rows), title=f"{keys.VAL_PREFIX}{metric} per class"),
                        width="stretch")  # fmt: skip
    # The task's slices (Task.slices): one small chart per metric; a slice's share of the val data
    # is the same every epoch, no curve to read.
    sliced = per_class[is_slice & (per_class["metric"] != keys.SLICE_PREFIX + keys.SLICE_SHARE)]
    cols = st.columns(3) if len(sliced) else []
    for i, (metric, rows) in enumerate(sliced.groupby("metric", sort=True)):
        title = f"{keys.VAL_PREFIX}{metric.removeprefix(keys.SLICE_PREFIX)} per slice"
        chart = charts.per_class_chart(
            _trained(rows), title=title, height=charts.SMALL_HEIGHT, legend="slice"
        )
        cols[i % 3].altair_chart(chart, width="stretch")
    rest = [k for k in curves if k not in first]
    if rest:
        cols = st.columns(3)
        for i, key in enumerate(rest):
            draw(cols[i % 3], key, charts.SMALL_HEIGHT)
