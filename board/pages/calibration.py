"""Calibration: how well the team predicts — likelihood, impact and time, over decided ideas.

A decided idea is one whose evidence-based proposal was accepted (`idealoop idea outcome
ID --accept`, or the Idea page). Its likelihood *before* the evidence is scored against
what happened: Brier score, a reliability diagram, predicted vs. observed impact, and the
planning factor (actual ÷ estimated hours), overall, per category and over time.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from board import data
from board.common import read_or_stop, store

s = store()
st.title("Calibration")
st.caption("How well this team's estimates predicted what happened, from every decided idea.")
rows, summary = read_or_stop("calibration", data.calibration, s.project, s.uri)
if not summary["decided"]:
    st.info(
        "No decided ideas yet. When an idea has generalize/scale runs or sweep trials, accept its "
        "proposal on the Idea page (or `idealoop idea outcome ID --accept`)."
    )
    st.stop()

frame = pd.DataFrame(rows)
cols = st.columns(4)
cols[0].metric("decided ideas", summary["decided"])
cols[1].metric(
    "Brier score", f"{summary['brier']:.3f}", help="mean (likelihood − outcome)²; 0.25 = coin flip"
)
cols[2].metric("Brier, calibrated", f"{summary['brier_calibrated']:.3f}",
               help="after the recalibration the ranking switch applies")  # fmt: skip
factor = summary["planning_factor"]
cols[3].metric(
    "planning factor", f"{factor:.2f}" if factor == factor else "—", help="actual ÷ estimated hours"
)

st.subheader("Likelihood: said vs. happened")
rel = pd.DataFrame(summary["reliability"])
diagonal = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(strokeDash=[4, 4], color="gray")
points = (
    alt.Chart(rel)
    .mark_circle(color="#1f77b4")
    .encode(
        x=alt.X("predicted:Q", title="stated likelihood (mean of bin)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("observed:Q", title="fraction that succeeded", scale=alt.Scale(domain=[0, 1])),
        size=alt.Size("count:Q", title="ideas", legend=alt.Legend(format="d", tickMinStep=1)),
        tooltip=["bin", "predicted", "observed", "count"],
    )
)
st.altair_chart(
    (diagonal.encode(x="x:Q", y="y:Q") + points).properties(height=320, title="Reliability diagram"),
    width="stretch",
)

left, right = st.columns(2)
impact = frame.dropna(subset=["estimated_impact", "observed_impact"])
if not impact.empty:
    lo = float(min(impact["estimated_impact"].min(), impact["observed_impact"].min(), 0))
    hi = float(max(impact["estimated_impact"].max(), impact["observed_impact"].max()))
    line = alt.Chart(pd.DataFrame({"x": [lo, hi], "y": [lo, hi]})).mark_line(strokeDash=[4, 4], color="gray")
    dots = (
        alt.Chart(impact)
        .mark_circle(size=80)
        .encode(
            x=alt.X("estimated_impact:Q", title="estimated impact"),
            y=alt.Y("observed_impact:Q", title="observed impact"),
            color=alt.Color("verdict:N"),
            tooltip=["title", "category", "estimated_impact", "observed_impact", "verdict"],
        )
    )
    left.altair_chart(
        (line.encode(x="x:Q", y="y:Q") + dots).properties(height=300, title="Impact: estimated vs observed"),
        width="stretch",
    )
timed = frame.dropna(subset=["estimated_hours", "actual_hours"])
if not timed.empty:
    by_cat = timed.groupby("category", dropna=False)[["estimated_hours", "actual_hours"]].sum().reset_index()
    by_cat["planning factor"] = by_cat["actual_hours"] / by_cat["estimated_hours"]
    right.altair_chart(
        alt.Chart(by_cat)
        .mark_bar()
        .encode(
            x=alt.X("category:N", title="category"),
            y=alt.Y("planning factor:Q", title="actual ÷ estimated hours"),
            tooltip=["category", "estimated_hours", "actual_hours", "planning factor"],
        )
        .properties(height=300, title="Planning factor per category"),
        width="stretch",
    )

st.subheader("Over time")
frame = frame.sort_values("decided_ms").reset_index(drop=True)
frame["decided"] = pd.to_datetime(frame["decided_ms"], unit="ms")
frame["sq_error"] = (frame["likelihood"] - frame["succeeded"].astype(float)) ** 2
frame["running Brier"] = frame["sq_error"].expanding().mean()
st.altair_chart(
    alt.Chart(frame)
    .mark_line(point=True)
    .encode(
        x=alt.X("decided:T", title="decided", axis=alt.Axis(format="%Y-%m-%d %H:%M", labelAngle=0)),
        y=alt.Y("running Brier:Q", title="Brier score so far"),
        tooltip=["title", "likelihood", "verdict", "running Brier"],
    )
    .properties(height=260),
    width="stretch",
)
st.dataframe(
    frame[
        [
            "title",
            "category",
            "likelihood",
            "verdict",
            "estimated_impact",
            "observed_impact",
            "estimated_hours",
            "actual_hours",
            "turnaround_hours",
        ]
    ],  # fmt: skip
    hide_index=True,
    width="stretch",
)
