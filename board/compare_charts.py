"""Altair chart of the Compare page: one metric of several runs, on a chosen x axis.

Data in, chart out (like `board/charts.py`). Runs get distinct hues from a categorical
scheme (tableau10: no two runs a light and a dark shade of one colour), in the order
given, and short legend labels. The y scale is chosen per metric by the caller: log for
losses, linear zoomed to the data (and the reference lines) for scores such as accuracy,
whose differences live in the last few percent. Reference lines (the baseline's score)
are dashed rules with a label.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

SCHEME = "tableau10"
PAD = 0.05  # share of the data's range added above and below a zoomed linear axis


def y_domain(values: pd.Series, rules: pd.DataFrame | None, log_y: bool) -> list[float] | None:
    """The y range to draw: the finite values and the rules, padded; None lets Vega choose (log)."""
    finite = pd.to_numeric(values, errors="coerce")
    finite = finite[finite.notna() & (finite.abs() != float("inf"))]
    if rules is not None and not rules.empty:
        finite = pd.concat([finite, rules["value"].astype(float)])
    if log_y or finite.empty:
        return None
    low, high = float(finite.min()), float(finite.max())
    pad = (high - low) * PAD or abs(high) * PAD or 1.0
    return [low - pad, high + 2.5 * pad]  # room above the top line for a rule's label


def compare_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    order: list[str],
    log_y: bool,
    rules: pd.DataFrame | None = None,
) -> alt.LayerChart:
    """Lines of `value` over `x`, one hue per `series` (in `order`); `rules`: (label, value)."""
    domain = y_domain(frame["value"], rules, log_y)
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False, domain=domain, nice=False)
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(scheme=SCHEME, domain=order),
        legend=alt.Legend(
            orient="bottom",
            columns=2 if max(map(len, order), default=0) > 24 else 4,
            labelLimit=420,
            symbolStrokeWidth=3,
        ),
    )
    lines = (
        alt.Chart(frame, title=title)
        .mark_line(strokeWidth=1.6, clip=True)
        .encode(
            x=alt.X("x:Q", title=x_title, axis=alt.Axis(tickCount=10)),
            y=alt.Y("value:Q", title=None, scale=scale),
            color=color,
            tooltip=[
                "series:N",
                alt.Tooltip("x:Q", format=".4g", title=x_title),
                alt.Tooltip("value:Q", format=".4g"),
            ],
        )
    )
    layers = [lines]
    if rules is not None and not rules.empty:
        rule = (
            alt.Chart(rules)
            .mark_rule(strokeDash=[6, 4], color="#666", strokeWidth=1.3)
            .encode(y="value:Q", tooltip=["label:N", alt.Tooltip("value:Q", format=".4g")])
        )
        text = (
            alt.Chart(rules)
            .mark_text(align="left", dx=4, dy=-6, color="#444", fontSize=11)
            .encode(y="value:Q", x=alt.value(0), text="label:N")
        )
        layers += [rule, text]
    return alt.layer(*layers).properties(height=380).interactive(bind_y=False)
