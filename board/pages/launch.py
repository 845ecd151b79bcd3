"""Launch: run a stage or a sweep for an idea from the board, watch it, cancel it.

The stage runs in a background process (`board.jobs`), so this page stays
responsive; the jobs of this browser session are kept in `st.session_state`. The
watch panel is a fragment that re-reads the job and its MLflow run every second
while anything runs. The run the stage creates is nested under the idea, so it also
appears on the idea's page.
"""

from __future__ import annotations

import time

import streamlit as st

from board import data, jobs
from board.common import LIGHT_STYLE, md_text, read_or_stop, short, store
from runners.tasks.base import BUILTIN_TASKS
from tracker.keys import BEST_PREFIX, TRAIN_LOSS
from tracker.ladder import ladder
from tracker.store import Target

POLL_S = 1.0

s = store()
st.title("Launch a stage or a sweep")
ideas = read_or_stop("ideas", data.ideas_frame, s.project, s.uri)
if ideas.empty:
    st.info("No ideas yet: add one on the Ideas page, or run `idealoop demo`.")
    st.stop()
titles = dict(zip(ideas["id"], ideas["title"], strict=True))
ids = list(ideas["id"])
wanted = st.query_params.get("id")

with st.form("launch"):
    idea_id = st.selectbox(
        "Idea", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=lambda i: titles[i]
    )
    stages = list(jobs.STAGES)
    wanted_stage = st.query_params.get("stage", "overfit")  # deep link: /launch?id=ID&stage=NAME
    stage = st.selectbox(
        "Stage",
        stages,
        index=stages.index(wanted_stage) if wanted_stage in stages else 0,
        format_func=lambda k: jobs.STAGES[k][0],
    )
    task = st.selectbox(
        "Task",
        BUILTIN_TASKS,
        accept_new_options=True,
        help="a built-in task, or type your own as package.module:function",
    )
    overrides = st.text_input(
        "Config overrides (optional)", placeholder="lr=3e-4, few_samples=8", help="KEY=VALUE, comma-separated"
    )
    with st.expander("Sweep settings (used when the stage is *sweep*)"):
        space = st.text_input("Search space file", value=jobs.DEFAULT_SPACE, help="YAML: key → distribution")
        samples = st.number_input("Configs to sample", min_value=1, max_value=256, value=8)
        iterations = st.number_input(
            "Epochs per trial at most", min_value=0, max_value=1000, value=0, help="0: the stage's own epochs"
        )
    go = st.form_submit_button("Launch", type="primary")
st.caption(
    "The stages of `idealoop run --help`, climbed in order: baseline → overfit → generalize → scale; "
    "a sweep (`idealoop tune`) runs the idea's variants as concurrent trials."
)
if go:
    try:
        job = jobs.launch(
            stage,
            Target(s, idea_id),  # a full id: the selectbox lists the store's own ideas
            overrides=jobs.parse_overrides(overrides),
            task=task or "",
            space=space,
            samples=int(samples),
            iterations=int(iterations),
        )
    except jobs.LaunchError as exc:
        st.error(str(exc))
    else:
        st.session_state.setdefault("jobs", []).insert(0, job)

session_jobs: list[jobs.Job] = st.session_state.get("jobs", [])


def _badge(light) -> str:
    color, icon = LIGHT_STYLE[light.color]
    return f":{color}-badge[{icon} {light.rung.label}: {light.verdict}]"


def _job_panel(job: jobs.Job, i: int) -> None:
    code = job.returncode()
    run_id = job.run_id()
    run = data.run_row(s.project, s.uri, run_id) if run_id else None
    if code is None:
        state = "running"
    elif job.cancelled:
        state = "cancelled"
    else:
        state = "done" if code == 0 else f"failed (exit {code})"
    with st.container(border=True):
        head, button = st.columns([5, 1])
        what = "sweep" if job.stage == "tune" else f"stage_{job.stage}"
        head.markdown(
            f"**{what}** for **{md_text(titles.get(job.idea_id, job.idea_id))}** — {state} "
            f"· {time.time() - job.started:.0f} s · pid {job.pid}"
        )
        if code is None and button.button("Cancel", key=f"cancel_{job.pid}"):
            jobs.cancel(job)
            st.rerun(scope="fragment")
        if run is None:
            st.caption("starting… " + md_text(job.last_message()))
            return
        if job.stage == "tune":  # a sweep run has no gate of its own: show its best trial's metric
            best = {k: v for k, v in run.metrics.items() if k.startswith(BEST_PREFIX)}
            summary = " · ".join(f"{md_text(k)} {v:.4g}" for k, v in best.items()) or "no trial reported yet"
            st.markdown(f"MLflow sweep run `{short(run.id)}` {run.status} · {summary}")
        else:
            lights = [light for light in ladder([run]) if light.rung.stage == run.stage]
            loss = run.metrics.get(TRAIN_LOSS)
            st.markdown(
                " ".join(_badge(light) for light in lights)
                + f" · MLflow run `{short(run.id)}` {run.status}"
                + (f" · last {TRAIN_LOSS} {loss:.4g}" if loss is not None else "")
            )
        if job.stage == "tune" and code is None:
            st.caption(md_text(job.last_message()))  # the sweep's progress line: trials and best so far
        if not run.running and run.end_reason:
            st.caption(f"ended: {md_text(run.why_ended)}")
        st.page_link(
            "pages/idea.py",
            label="open the idea: ladder, runs, curves",
            query_params={"id": job.idea_id, "run": run.id},
        )
        if code not in (None, 0) and not job.cancelled:
            st.code(job.stderr()[-2000:], language=None)


def _jobs() -> None:
    if not session_jobs:
        st.caption("Nothing launched from this session yet.")
        return
    for i, job in enumerate(session_jobs):
        _job_panel(job, i)
    if st.session_state.get("jobs_live") and not any(j.alive for j in session_jobs):
        st.session_state["jobs_live"] = False
        st.rerun(scope="app")  # all done: one last full render, then stop polling


any_alive = any(j.alive for j in session_jobs)
st.session_state["jobs_live"] = any_alive or st.session_state.get("jobs_live", False)
st.subheader("Launched from this session")
st.fragment(_jobs, run_every=POLL_S if any_alive else None)()
