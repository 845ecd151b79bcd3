"""Altair charts of a sweep: the score against each hyperparameter, and parallel coordinates.

Data in, chart out, no Streamlit and no MLflow (like `board/charts.py`). The frame is
one row per trial (`board.sweep_view.trials_frame`): the sampled hyperparameters as
columns, `score` (the trial's best target value), `best` (the sweep's best trial),
`name`, `ended`. These are what people open a sweep for: which values of which
setting scored well, and whether the good region is one corner of the space.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from tracker.run_config import short_value

BEST_COLOR = "#d62728"  # the best trial's mark, in every chart
ENDED_COLORS = {"completed": "#4c78a8", "stopped_by_asha": "#a0a0a0"}  # failed, killed: not scored


def is_numeric(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


def scatter_chart(frame: pd.DataFrame, key: str, *, target: str, kind: str = "") -> alt.LayerChart:
    """`score` over one hyperparameter, a point per trial (grey: stopped early); the best trial a
    red diamond, labelled. `kind` is the key's distribution: log x for `loguniform` (ticks at
    whole decades), one column per value for `choice`/`grid` and for text, else a linear x."""
    numeric = is_numeric(frame[key])
    if numeric and kind not in ("choice", "grid"):
        data = frame.assign(x=pd.to_numeric(frame[key]))
        whole = bool((data["x"] == data["x"].round()).all())
        if kind == "loguniform" and (data["x"] > 0).all():
            low, high = math.floor(math.log10(data["x"].min())), math.ceil(math.log10(data["x"].max()))
            scale = alt.Scale(type="log", domain=[10.0 ** (low - 0.1), 10.0 ** (high + 0.1)])  # off the edges
            axis = alt.Axis(format="~g", values=[10.0**k for k in range(low, high + 1)])
            x = alt.X("x:Q", title=f"{key} (log scale)", scale=scale, axis=axis)
        else:
            axis = alt.Axis(format="d", tickMinStep=1) if whole else alt.Axis(format="~g", tickCount=5)
            x = alt.X("x:Q", title=key, scale=alt.Scale(zero=False, nice=False, padding=12), axis=axis)
    else:
        data = frame.assign(x=frame[key].map(short_value))
        order = data.assign(n=pd.to_numeric(frame[key], errors="coerce")).sort_values(["n", "x"])["x"]
        x = alt.X("x:N", title=key, sort=list(dict.fromkeys(order)), axis=alt.Axis(labelAngle=0))
    y = alt.Y("score:Q", title=target, scale=alt.Scale(zero=False, nice=False, padding=12))
    tooltip = ["name:N", alt.Tooltip("score:Q", format=".4g", title=target), "ended:N"]
    colors = alt.Scale(domain=list(ENDED_COLORS), range=list(ENDED_COLORS.values()))
    points = (
        alt.Chart(data[~data["best"]])
        .mark_circle(size=80, opacity=0.85)
        .encode(x=x, y=y, color=alt.Color("ended:N", scale=colors, legend=None), tooltip=tooltip)
    )
    best = alt.Chart(data[data["best"]]).encode(x=x, y=y, tooltip=tooltip)
    star = best.mark_point(shape="diamond", size=180, filled=True, color=BEST_COLOR, opacity=1)
    label = best.mark_text(align="left", dx=9, dy=-9, color=BEST_COLOR, fontWeight="bold").encode(
        text=alt.value("best")
    )
    return alt.layer(points, star, label).properties(height=260, title=f"{target} by {key}")


def parallel_frame(frame: pd.DataFrame, axes: list[str], log_keys: set[str]) -> pd.DataFrame:
    """Long form for parallel coordinates: a row per (trial, axis), each axis scaled to 0-1.

    Numbers are scaled min-max (log10 for log-sampled keys), text by its sorted rank; an
    axis whose values are all equal sits at 0.5. `shown` is the raw value, short.
    """
    rows = []
    for axis in axes:
        column = frame[axis]
        if is_numeric(column):
            values = pd.to_numeric(column).astype(float)
            if axis in log_keys and (values > 0).all():
                values = values.map(math.log10)
        else:
            order = {v: i for i, v in enumerate(sorted(column.astype(str).unique()))}
            values = column.astype(str).map(order).astype(float)
        low, high = values.min(), values.max()
        spread = high - low
        for i, (value, raw) in enumerate(zip(values, column, strict=True)):
            rows.append(
                {
                    "id": frame["id"].iloc[i],
                    "name": frame["name"].iloc[i],
                    "score": frame["score"].iloc[i],
                    "best": bool(frame["best"].iloc[i]),
                    "axis": axis,
                    "position": (value - low) / spread if spread else 0.5,
                    "shown": short_value(raw),
                }
            )
    return pd.DataFrame(rows)


def parallel_chart(long: pd.DataFrame, axes: list[str], *, target: str, higher: bool) -> alt.LayerChart:
    """One line per trial across the axes (hyperparameters, then the score), coloured by the
    score (brighter = better, whichever way the metric goes); the best trial drawn thick, red."""
    x = alt.X("axis:N", sort=axes, title=None, axis=alt.Axis(orient="top", labelAngle=0, labelFontSize=12))
    y = alt.Y("position:Q", axis=None, scale=alt.Scale(domain=[-0.08, 1.08]))
    color = alt.Color(
        "score:Q",
        title=target,
        scale=alt.Scale(scheme="viridis", reverse=not higher),
        legend=alt.Legend(orient="right", format=".3g"),
    )
    tooltip = ["name:N", alt.Tooltip("score:Q", format=".4g", title=target), "axis:N", "shown:N"]
    lines = (
        alt.Chart(long[~long["best"]])
        .mark_line(strokeWidth=1.6, opacity=0.8)
        .encode(x=x, y=y, color=color, detail="id:N", tooltip=tooltip)
    )
    best = (
        alt.Chart(long[long["best"]])
        .mark_line(strokeWidth=3.5, color=BEST_COLOR)
        .encode(x=x, y=y, detail="id:N", tooltip=tooltip)
    )
    rules = alt.Chart(pd.DataFrame({"axis": axes})).mark_rule(color="#bbb").encode(x=x)
    by_axis = long.groupby("axis")["position"]
    top = long.loc[by_axis.idxmax()].assign(position=1.05)  # each axis' largest value, above it
    bottom = long.loc[by_axis.idxmin()].assign(position=-0.05)  # and its smallest, below it
    ticks = (
        alt.Chart(pd.concat([top, bottom]))
        .mark_text(fontSize=11, color="#555")
        .encode(x=x, y=y, text="shown:N")
    )
    return alt.layer(rules, lines, best, ticks).properties(height=300, title="parallel coordinates")
