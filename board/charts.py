"""Altair chart builders for the board: data in, chart out, no Streamlit and no MLflow.

Curves arrive already downsampled (min/max per bucket, `tracker.curves`), so a line
through them keeps every spike. Reference lines (the baseline's score, the project's
best) are dashed rules with a label, so a curve is always read against what it has
to beat.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

alt.data_transformers.disable_max_rows()  # curves are bounded by downsampling, not by Altair


def curves_chart(
    frame: pd.DataFrame, *, title: str = "", log_y: bool = False, rules: pd.DataFrame | None = None
) -> alt.LayerChart | alt.Chart:
    """Lines of `value` over `step`, one colour per `series`; optional rules (label, value)."""
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    lines = (
        alt.Chart(frame, title=title)
        .mark_line(strokeWidth=1.2, clip=True)
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("value:Q", title=None, scale=scale),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400)),
            tooltip=["series:N", "step:Q", alt.Tooltip("value:Q", format=".4g")],
        )
    )
    if rules is None or rules.empty:
        return lines.interactive()
    rule = (
        alt.Chart(rules)
        .mark_rule(strokeDash=[6, 4], color="#888")
        .encode(y="value:Q", tooltip=["label:N", alt.Tooltip("value:Q", format=".4g")])
    )
    text = (
        alt.Chart(rules)
        .mark_text(align="left", dx=4, dy=-6, color="#666", fontSize=11)
        .encode(y="value:Q", x=alt.value(0), text="label:N")
    )
    return alt.layer(lines, rule, text).interactive()


def heatmap_chart(cells: pd.DataFrame, *, title: str) -> alt.Chart:
    """A histogram over time: x = step, y = bin edges, colour = count (log)."""
    return (
        alt.Chart(cells, title=title)
        .mark_rect()
        .encode(
            x=alt.X("step:Q", title="step"),
            x2="step_end:Q",
            y=alt.Y("low:Q", title="value"),
            y2="high:Q",
            color=alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="viridis"), title="count"),
            tooltip=[
                "step:Q",
                alt.Tooltip("low:Q", format=".3g"),
                alt.Tooltip("high:Q", format=".3g"),
                "count:Q",
            ],
        )
        .properties(height=180)
    )


def confusion_chart(labels: list[str], matrix: list[list[float]]) -> alt.LayerChart:
    rows = [
        {"target": str(labels[i]), "prediction": str(labels[j]), "count": v}
        for i, row in enumerate(matrix)
        for j, v in enumerate(row)
    ]
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(
        x=alt.X("prediction:N", sort=[str(x) for x in labels]),
        y=alt.Y("target:N", sort=[str(x) for x in labels]),
    )
    cells = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None))
    text = base.mark_text(fontSize=11).encode(text="count:Q")
    return alt.layer(cells, text).properties(width=260, height=260, title="confusion matrix")


def live_chart(frame: pd.DataFrame, *, title: str = "", height: int = 230) -> alt.Chart:
    """A small chart of a running job's loss: `value` over `step`, one line per `series` (a sweep's
    trials), legend only when there is more than one; log y when the values span a decade or more."""
    several = frame["series"].nunique() > 1 if "series" in frame else False
    color = (
        alt.Color("series:N", title=None, legend=alt.Legend(orient="right", labelLimit=200))
        if several
        else alt.value("#1f77b4")
    )
    low, high = frame["value"].min(), frame["value"].max()
    log = bool(low > 0 and high / low >= 10)
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    return (
        alt.Chart(frame, title=title + (" (log)" if log else ""))
        .mark_line(strokeWidth=1.2, clip=True)
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("value:Q", title=None, scale=scale),
            color=color,
            tooltip=[*(["series:N"] if several else []), "step:Q", alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(height=height)  # the whole element: title and axes included
    )
