"""The Ideas page's finish line: the project's target, progress toward it, and weak classes as idea seeds.

- **Target**: the best result so far against the target (`tracker.project`), the remaining
  gap, a chart of the project's best per day with the target as a line, and the ideas whose
  impact estimate covers the gap; a form sets a new target revision (checked as the CLI's
  `idealoop project target` checks it).
- **Weak spots**: the weakest classes of the project's best trained run (`tracker.weak`),
  each with a "Turn into an idea" button that prefills the Add form below it (title,
  category, description, impact) and opens it.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from board import data
from board.common import LIVE_TTL_S, first_line, md_text, read_or_stop, short, wrote
from runners.tasks.base import BUILTIN_TASKS, TaskError, target_direction
from tracker import project, weak
from tracker.store import Store


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def target_history(project_name: str, uri: str) -> list[project.ProjectTarget]:
    return project.target_history(Store(project=project_name, uri=uri))


@st.cache_data(ttl=30, show_spinner=False)
def weak_of_run(project_name: str, uri: str, run_id: str, end_time: int) -> tuple[str, list[weak.Weak]]:
    return weak.weak_of_run(Store(project=project_name, uri=uri), run_id)


def progress_chart(points: list[dict], target: project.ProjectTarget) -> alt.LayerChart:
    """The project's best per day (a step line), each day's best (dots), the target (a red rule)."""
    frame = pd.DataFrame(points)
    frame["day"] = pd.to_datetime(frame["day"])
    y = alt.Y("best:Q", title=f"val {target.metric}", scale=alt.Scale(zero=False))
    best = (
        alt.Chart(frame)
        .mark_line(interpolate="step-after", point=True)
        .encode(x=alt.X("day:T", title="day"), y=y, tooltip=["day:T", "best:Q", "day_best:Q"])
    )
    days = alt.Chart(frame).mark_point(color="gray", opacity=0.6).encode(x="day:T", y="day_best:Q")
    rule = alt.Chart(pd.DataFrame({"target": [target.value]})).mark_rule(color="red", strokeDash=[6, 3])
    return (best + days + rule.encode(y="target:Q")).properties(height=220)


def _set_target_form(s: Store, current: project.ProjectTarget | None) -> None:
    with st.form("target"):
        c1, c2, c3 = st.columns(3)
        task = c1.text_input("Task", value=current.task if current else BUILTIN_TASKS[0], key="target_task")
        metric = c2.text_input("Metric", value=current.metric if current else "accuracy", key="target_metric")
        value = c3.text_input("Value", value=f"{current.value:g}" if current else "", key="target_value")
        if st.form_submit_button("Set target"):
            try:
                higher = target_direction(task, metric)
                new = project.set_target(
                    s, task=task, metric=metric, value=float(value), higher_is_better=higher
                )
            except (TaskError, ValueError) as exc:
                st.error(first_line(exc))
            else:
                wrote()
                st.session_state["flash"] = f"Target set: {new.describe()} (revision {new.revision})."
                st.rerun()


def target_section(s: Store, ideas: pd.DataFrame) -> None:
    st.subheader("Target")
    history = read_or_stop("the project's target", target_history, s.project, s.uri)
    current = history[-1] if history else None
    if current is None:
        st.caption(
            "No target yet: the score that is sufficient for this project (`idealoop project target`)."
        )
        _set_target_form(s, None)
        return
    rows, _ = read_or_stop("runs", data.project_runs, s.project, s.uri)
    best = project.best_so_far(rows, current)
    remaining = project.gap(best[0] if best else None, current)
    c1, c2, c3 = st.columns(3)
    arrow = "≥" if current.higher_is_better else "≤"
    c1.metric(f"target · {current.task} · val {current.metric}", f"{arrow} {current.value:g}",
              help=f"revision {current.revision}, set by {current.author or '?'}")  # fmt: skip
    if best is None:
        c2.metric("best so far", "—", help="no run on this task has the metric yet")
        c3.metric("remaining gap", "—")
    else:
        c2.metric("best so far", f"{best[0]:.4g}", help=f"run {short(best[1].id)} ({best[1].name})")
        c3.metric("remaining gap", "reached" if remaining <= 0 else f"{remaining:.4g}")
        points = project.progress(rows, current)
        st.altair_chart(progress_chart(points, current), width="stretch")
    reach = ideas[[project.covers_gap(i, remaining) for i in ideas["impact"]]] if len(ideas) else ideas
    if len(reach):
        names = ", ".join(md_text(t) for t in reach["title"])
        st.markdown(f":material/flag: **Would reach the target if they pay off** (impact ≥ gap): {names}")
    with st.expander("Change the target · history"):
        _set_target_form(s, current)
        st.dataframe(pd.DataFrame([t.__dict__ for t in reversed(history)]), hide_index=True)


def _seed_add_form(seed: dict) -> None:
    st.session_state.update(
        add_title=seed["title"], add_category=seed["category"], add_description=seed["description"],
        add_impact=f"{seed['impact']:g}", add_hours="", add_complexity="", add_likelihood="",
        add_open=True, template="(blank idea)",
    )  # fmt: skip


def weak_section(s: Store) -> None:
    history = read_or_stop("the project's target", target_history, s.project, s.uri)
    if not history:
        return
    current = history[-1]
    rows, _ = read_or_stop("runs", data.project_runs, s.project, s.uri)
    found = weak.source_run(rows, current)
    if found is None:
        return
    run = found[1]
    source, weakest = read_or_stop("weak classes", weak_of_run, s.project, s.uri, run.id, run.end_time)
    st.subheader("Weak spots")
    st.caption(
        f"From run {short(run.id)} ({md_text(run.name)}, {current.metric} {found[0]:.4g}), its {source}. "
        "Impact = the target's gain if the class rose to the mean, weighted by its share of the data."
    )
    if not weakest:
        st.caption("No class falls below the mean.")
        return
    for i, w in enumerate(weakest):
        c1, c2 = st.columns([4, 1])
        support = f", {w.support} samples" if w.support else ""
        c1.markdown(
            f"**class {md_text(w.name)}** · {w.metric} {w.value:.3f} vs mean {w.mean:.3f} · "
            f"{w.share:.1%} of val{support} · impact ≈ **{w.gain:.4f}** {current.metric}"
        )
        c2.button("Turn into an idea", key=f"weak_{i}", on_click=_seed_add_form,
                  args=(weak.idea_seed(w, current.metric),))  # fmt: skip


def render(s: Store, ideas: pd.DataFrame) -> None:
    target_section(s, ideas)
    weak_section(s)
