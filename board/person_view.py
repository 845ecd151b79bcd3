"""The Calibration page for one person: their Brier score and its parts, their reliability diagram,
planning factor and impact ratio, over time and by category (`tracker.person_calibration`).

What a person said is what stood for them when the idea was decided (their latest
likelihood, hours and impact before the accepted outcome), so each idea they estimated
scores them once, whoever else estimated it.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from board.common import md_text
from tracker.intervals import describe_interval
from tracker.person_calibration import describe_person, person_summary


def render(rows: list[dict], person: str) -> None:
    s = person_summary(rows, person)
    lines = describe_person(s)
    n = s["decided"]
    st.caption(f"How well **{md_text(person)}**'s own estimates predicted what happened, over the "
               f"{n} decided idea{'' if n == 1 else 's'} they gave a likelihood for.")  # fmt: skip
    cols = st.columns(5)
    for col, (name, label, fmt, why) in zip(
        cols,
        [
            ("brier", "Brier score", ".3f", "mean (likelihood − outcome)²; 0.25 = always saying 50%"),
            ("reliability", "reliability", ".3f", "how far each bin's stated likelihood sits from what "
             "happened in it (lower is better)"),
            ("resolution", "resolution", ".3f", "how far the bins' outcomes sit from the hit rate: "
             "telling good ideas from bad ones (higher is better)"),
            ("planning_factor", "planning factor", ".2f", "actual ÷ their estimated hours (geometric mean)"),
            ("impact_ratio", "impact ratio", ".2f", "observed ÷ their estimated impact, on succeeded ideas"),
        ],
        strict=True,
    ):  # fmt: skip
        value = s[name]
        col.metric(label, format(value, fmt) if value == value else "—", help=why)
        interval = s.get(f"{name}_interval")
        col.caption(describe_interval(interval, fmt) if interval else f"n={s['decided']}")
    st.markdown(f"- {lines['brier']}\n- {lines['weight']}")

    mine = pd.DataFrame([r for r in rows if r["person"] == person])
    left, right = st.columns(2)
    rel = pd.DataFrame(s["reliability_bins"])
    left.altair_chart(reliability_chart(rel, "their likelihood (mean of bin)", 300), width="stretch")
    mine = mine.sort_values("decided_ms").reset_index(drop=True)
    mine["decided"] = pd.to_datetime(mine["decided_ms"], unit="ms")
    mine["running Brier"] = ((mine["likelihood"] - mine["succeeded"].astype(float)) ** 2).expanding().mean()
    right.altair_chart(
        alt.Chart(mine)
        .mark_line(point=True)
        .encode(
            x=alt.X("decided:T", title="decided", axis=alt.Axis(format="%Y-%m-%d %H:%M", labelAngle=0)),
            y=alt.Y("running Brier:Q", title="Brier score so far"),
            tooltip=["title", "likelihood", "verdict", "running Brier"],
        )
        .properties(height=300, title="Over time"),
        width="stretch",
    )
    st.markdown("**By category**")
    st.dataframe(pd.DataFrame(s["by_category"]), hide_index=True, width="stretch")
    st.dataframe(
        mine[["title", "category", "likelihood", "verdict", "estimated_hours", "actual_hours",
              "estimated_impact", "observed_impact"]],
        hide_index=True,
        width="stretch",
    )  # fmt: skip


def reliability_chart(rel: pd.DataFrame, x_title: str, height: int) -> alt.Chart:
    """Said vs. happened: each bin's mean likelihood against the fraction that succeeded, sized by
    its ideas, over the diagonal of perfect calibration (the team's and each person's page)."""
    diagonal = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(strokeDash=[4, 4], color="gray")
    points = (
        alt.Chart(rel)
        .mark_circle(color="#1f77b4")
        .encode(
            x=alt.X("predicted:Q", title=x_title, scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("observed:Q", title="fraction that succeeded", scale=alt.Scale(domain=[0, 1])),
            size=alt.Size("count:Q", title="ideas", legend=alt.Legend(format="d", tickMinStep=1)),
            tooltip=["bin", "predicted", "observed", "count"],
        )
    )
    return (diagonal.encode(x="x:Q", y="y:Q") + points).properties(height=height, title="Reliability diagram")
