"""Altair chart builders for the board: data in, chart out, no Streamlit and no MLflow.

Curves arrive already downsampled (min/max per bucket, `tracker.curves`), so a line
through them keeps every spike. The Idea page's charts are built to be read at a
glance: per-batch loss tall, train and val in two fixed contrasting colours, a log
axis fitted to the data, sub-stages split by a rule and their loss gates dashed;
epoch metrics on an epoch axis zoomed to the data, with the baseline's score and the
project's best as dashed rules named in the legend (so close values never print over
each other); every class of a per-class metric in one chart; a confusion matrix with
every class named and every count written. Streamlit fits a chart's *whole* height
(titles, axes, legend) into the height by default; these fit only the width.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from tracker import keys

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


# Train and val always in the same two contrasting colours (fixed domain: they never swap).
PAIR_DOMAIN = ["train", "val"]
PAIR_RANGE = ["#1f77b4", "#ff7f0e"]  # blue, orange
REF_COLOURS = {"baseline": "#7f7f7f", "project best": "#2ca02c"}
GATE_COLOUR = "#d62728"
BATCH_HEIGHT, BIG_HEIGHT, SMALL_HEIGHT = 320, 300, 200
# Streamlit's default autosize ("fit") makes the height cover titles, axes and legends too: a
# small chart with a two-line legend was left with no plot at all. Only the width is fitted.
FIT_X = alt.AutoSizeParams(type="fit-x", contains="padding")


def log_domain(values: pd.Series | list[float]) -> list[float] | None:
    """[min, max] of the positive finite values: a log axis fitted to the data, not to 1e-4."""
    v = pd.Series(values, dtype=float)
    v = v[(v > 0) & v.map(math.isfinite)]
    if v.empty:
        return None
    lo, hi = float(v.min()), float(v.max())
    return [lo, hi] if hi > lo else [lo / 1.5, hi * 1.5]


def batch_chart(
    frame: pd.DataFrame,
    *,
    x_title: str = "step",
    y_title: str = "loss",
    log_y: bool = True,
    spans: pd.DataFrame | None = None,
    gates: pd.DataFrame | None = None,
    height: int = BATCH_HEIGHT,
    behind: tuple[list, pd.Series] = ((), pd.Series(dtype=float)),  # layers drawn first, their y values
) -> alt.LayerChart:
    """Per-batch train and val loss: frame (x, value, smooth, series in PAIR_DOMAIN).

    Where `smooth` differs from `value` the raw curve is drawn faint behind it. `spans`
    (label, start, end) mark sub-stages (a rule where each later one starts, its label on
    top); `gates` (label, start, end, value) are dashed loss thresholds over their span.
    """
    gates = gates if gates is not None else pd.DataFrame(columns=["label", "start", "end", "value"])
    smoothed = not frame["smooth"].equals(frame["value"])
    ys = pd.concat([frame["value"], frame["smooth"], gates["value"], behind[1]])
    domain = log_domain(ys) if log_y else None
    scale = (
        alt.Scale(type="log", domain=domain, nice=False)
        if domain
        else alt.Scale(zero=False, nice=False, padding=8)
    )
    x = alt.X("x:Q", title=x_title, scale=alt.Scale(nice=False, zero=False))
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=PAIR_DOMAIN, range=PAIR_RANGE),
        legend=alt.Legend(orient="top-right", labelFontSize=13, symbolStrokeWidth=3, symbolOpacity=1),
    )
    detail = {"detail": "phase:N"} if "phase" in frame else {}  # no line joins one phase to the next
    tip = ["series:N", alt.Tooltip("x:Q", title=x_title, format=".4g"), alt.Tooltip("value:Q", format=".4g")]
    raw = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1, clip=True, opacity=0.25 if smoothed else 1.0)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=f"{y_title} (log)" if domain else y_title, scale=scale),
            color=colour,
            tooltip=tip,
            **detail,
        )
    )
    layers: list = [*behind[0], raw]  # e.g. the seeds' band (board/seed_bands.py)
    if smoothed:
        layers.append(
            alt.Chart(frame)
            .mark_line(strokeWidth=2, clip=True)
            .encode(x=x, y=alt.Y("smooth:Q", scale=scale), color=colour, tooltip=tip, **detail)
        )
    if spans is not None and len(spans) > 1:
        later = spans.iloc[1:]
        layers.append(alt.Chart(later).mark_rule(color="#333", strokeWidth=1.5).encode(x="start:Q"))
    if spans is not None and not spans.empty:
        layers.append(
            alt.Chart(spans)
            .mark_text(align="left", baseline="top", dx=6, dy=6, fontSize=13, fontWeight="bold", color="#333")
            .encode(x="start:Q", y=alt.value(0), text="label:N")
        )
    if not gates.empty:
        layers.append(
            alt.Chart(gates)
            .mark_rule(strokeDash=[6, 4], strokeWidth=1.5, color=GATE_COLOUR)
            .encode(
                x="start:Q", x2="end:Q", y="value:Q", tooltip=["label:N", alt.Tooltip("value:Q", format="g")]
            )
        )
        layers.append(
            alt.Chart(gates)
            .mark_text(align="right", baseline="bottom", dx=-4, dy=-3, fontSize=12, color=GATE_COLOUR)
            .encode(x="end:Q", y="value:Q", text="label:N")
        )
    return alt.layer(*layers).properties(height=height, autosize=FIT_X).interactive()


def epoch_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    rules: pd.DataFrame | None = None,
    height: int = SMALL_HEIGHT,
    colour: str = PAIR_RANGE[0],
    x_title: str = keys.EPOCH,
    subtitle: str = "",
    behind: list = (),  # layers drawn before the line, e.g. the seeds' band
) -> alt.LayerChart:
    """One epoch metric (frame: epoch, value) on an epoch axis, zoomed to the data.

    `rules` (role in REF_COLOURS, label, value) are dashed reference lines named in the
    legend, so close values never print their labels over each other.
    """
    y = alt.Y(
        "value:Q",
        title=None,
        scale=alt.Scale(zero=False, nice=False, padding=10),
        axis=alt.Axis(format=".3~g"),
    )
    x = alt.X("epoch:Q", title=x_title, axis=_epoch_axis(x_title), scale=alt.Scale(nice=False))
    line = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=30, filled=True, color=colour), strokeWidth=2, color=colour)
        .encode(x=x, y=y, tooltip=[alt.Tooltip("epoch:Q", format="d"), alt.Tooltip("value:Q", format=".4g")])
    )
    layers: list = [*behind, line]
    if rules is not None and not rules.empty:
        labels = list(rules["label"])
        layers.append(
            alt.Chart(rules)
            .mark_rule(strokeDash=[6, 4], strokeWidth=1.5)
            .encode(
                y="value:Q",
                color=alt.Color(
                    "label:N",
                    title=None,
                    scale=alt.Scale(domain=labels, range=[REF_COLOURS[r] for r in rules["role"]]),
                    legend=alt.Legend(
                        orient="bottom", direction="vertical", labelLimit=500, labelFontSize=12
                    ),
                ),
                tooltip=["label:N", alt.Tooltip("value:Q", format=".4g")],
            )
        )
    return (
        alt.layer(*layers)
        .properties(title=_title(title, subtitle), height=height, autosize=FIT_X)
        .interactive()
    )


def per_class_chart(
    frame: pd.DataFrame, *, title: str, height: int = BIG_HEIGHT, legend: str = "class"
) -> alt.Chart:
    """Every class (or a task's slice: `legend="slice"`) of one per-class metric in one chart
    (frame: epoch, class, value)."""
    n = frame["class"].nunique()
    classes = sorted(frame["class"].unique(), key=_natural)
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=20), strokeWidth=1.6)
        .encode(
            x=alt.X(
                "epoch:Q",
                title=keys.EPOCH,
                axis=alt.Axis(tickMinStep=1, format="d"),
                scale=alt.Scale(nice=False),
            ),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False, nice=False, padding=10)),
            color=alt.Color(
                "class:N",
                sort=classes,
                scale=alt.Scale(scheme="tableau10" if n <= 10 else "tableau20"),
                legend=alt.Legend(title=legend, columns=1 if n <= 12 else 2, labelFontSize=12),
            ),
            tooltip=["class:N", alt.Tooltip("epoch:Q", format="d"), alt.Tooltip("value:Q", format=".4g")],
        )
        .properties(title=_title(title), height=height, autosize=FIT_X)
        .interactive()
    )


def heatmap_chart(cells: pd.DataFrame, *, title: str, subtitle: str = "") -> alt.Chart:
    """A histogram over time: x = step, y = bin edges, colour = count (log)."""
    return (
        alt.Chart(cells, title=_title(title, subtitle))
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
        .properties(height=220, autosize=FIT_X)
    )


def confusion_chart(labels: list[str], matrix: list[list[float]]) -> alt.LayerChart:
    """Rows = true class, columns = predicted; every class named on both axes, every count
    written in its cell in black or white, whichever reads on the cell's blue."""
    names = [str(x) for x in labels]
    top = max((v for row in matrix for v in row), default=0) or 1
    frame = pd.DataFrame(
        [
            {"true": names[i], "predicted": names[j], "count": v, "ink": "white" if v > top / 2 else "#222"}
            for i, row in enumerate(matrix)
            for j, v in enumerate(row)
        ]
    )
    n = len(names)
    side = min(640, max(220, 48 * n))
    font = 14 if n <= 12 else 11 if n <= 20 else 9
    axis = {"labelFontSize": font, "titleFontSize": 13, "labelAngle": 0}
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=names, title="predicted", axis=alt.Axis(orient="top", **axis)),
        y=alt.Y("true:N", sort=names, title="true", axis=alt.Axis(**axis)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["true:N", "predicted:N", "count:Q"],
    )
    layers = [cells]
    if n <= 30:  # past that the numbers cannot fit a cell; the tooltip still has them
        layers.append(
            base.mark_text(fontSize=font).encode(
                text="count:Q",  # a value, not a second colour scale (that would clash with the cells')
                color=alt.condition(alt.datum.ink == "white", alt.value("white"), alt.value("#222")),
            )
        )
    return alt.layer(*layers).properties(
        width=side, height=side, title=_title("confusion matrix"), autosize=alt.AutoSizeParams(type="pad")
    )


def _title(text: str, subtitle: str = "") -> alt.TitleParams:
    return alt.TitleParams(
        text, subtitle=subtitle or alt.Undefined, fontSize=15, anchor="start", subtitleFontSize=12
    )


def _epoch_axis(x_title: str) -> alt.Axis:
    return alt.Axis(tickMinStep=1, format="d") if x_title == keys.EPOCH else alt.Axis()


def _natural(name: str) -> tuple:
    """Class names in natural order: 2 before 10."""
    return (0, int(name), "") if str(name).isdigit() else (1, 0, str(name))


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
