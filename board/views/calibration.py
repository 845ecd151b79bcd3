"""Calibration: how well the team predicts — likelihood, impact and time, over decided ideas.

A decided idea is one whose evidence-based proposal was accepted (`idealoop idea outcome
ID --accept`, or the Idea page). Its likelihood *before* the evidence is scored against
what happened: Brier score, a reliability diagram, predicted vs. observed impact, and the
planning factor (actual ÷ estimated hours, from hours a person logged), overall, per
category and over time. Every summary number shows its n and a 90% interval, and the page
says what the Ideas page's calibrated ranking applies of it (`tracker.calibration`). The
selector at the top switches to one person's own record (board/person_view.py; `?person=`).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from board import data, person_view
from board.common import read_or_stop, store
from tracker.calibration import describe
from tracker.intervals import describe_interval
from tracker.learning import planning_factor
from tracker.person_calibration import people_of

s = store()
st.title("Calibration")
person_rows = read_or_stop("each person's calibration", data.people_rows, s.project, s.uri)
people = people_of(person_rows)
TEAM = "the team"
if st.query_params.get("person") in people:  # a link to one person's view
    st.session_state.setdefault("person", st.query_params["person"])
whose = st.selectbox("Whose calibration", [TEAM, *people], key="person")
if whose != TEAM:
    person_view.render(person_rows, whose)
    st.stop()
st.caption("How well this team's estimates predicted what happened, from every decided idea.")
rows, summary = read_or_stop("calibration", data.calibration, s.project, s.uri)
if not summary["decided"]:
    st.info(
        "No decided ideas yet. When an idea has generalize/scale runs or sweep trials, accept its "
        "proposal on the Idea page (or `idealoop idea outcome ID --accept`)."
    )
    st.stop()

frame = pd.DataFrame(rows)
lines = describe(summary)
cols = st.columns(5)
cols[0].metric("decided ideas", summary["decided"], help="ideas whose verdict is succeeded or failed")
for col, (name, label, fmt, why) in zip(
    cols[1:],
    [
        ("hit_rate", "hit rate", ".2f", "fraction of decided ideas that succeeded"),
        ("brier", "Brier score", ".3f", "mean (likelihood − outcome)²; 0.25 = always saying 50%"),
        ("brier_calibrated", "Brier, calibrated", ".3f", "after the part of the recalibration the "
         "ranking switch applies (none below the minimum of decided ideas)"),
        ("planning_factor", "planning factor", ".2f", "geometric mean of actual ÷ estimated hours, "
         "over ideas whose hours a person logged"),
    ],
    strict=True,
):  # fmt: skip
    value = summary[name]
    col.metric(label, format(value, fmt) if value == value else "—", help=why)
    col.caption(describe_interval(summary[f"{name}_interval"], fmt))
# Two different n's on one row: a reader who sees "decided ideas 3" beside "planning factor, n=4" asks.
timed = summary["timed"]
st.caption(
    f"**decided ideas** ({summary['decided']}) counts the verdicts *succeeded* and *failed* only: the "
    f"n of the hit rate and the Brier scores. The **planning factor**'s n ({timed}) counts every idea "
    "with hours logged, *inconclusive* ones too: the time was spent whatever the verdict."
)
floor = summary["min_decided"]
st.markdown(
    f"**What the ranking switch applies** (nothing below {floor} ideas, then weight n ÷ (n + {floor})):\n"
    f"- {lines['planning_factor']}\n- {lines['likelihood']}"
)

st.subheader("Likelihood: said vs. happened")
rel = pd.DataFrame(summary["reliability"])
st.altair_chart(person_view.reliability_chart(rel, "stated likelihood (mean of bin)", 320), width="stretch")

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
    by_cat = (
        timed.groupby("category", dropna=False)
        .apply(lambda g: pd.Series({"planning factor": planning_factor(list(g["estimated_hours"]),
                                                                       list(g["actual_hours"])),
                                    "ideas": len(g)}), include_groups=False)
        .reset_index()
    )  # fmt: skip
    right.altair_chart(
        alt.Chart(by_cat)
        .mark_bar()
        .encode(
            x=alt.X("category:N", title="category"),
            y=alt.Y("planning factor:Q", title="actual ÷ estimated hours"),
            tooltip=["category", "ideas", "planning factor"],
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
