"""The Launch page's job list: everything running in the project, and what this board launched.

"Running" is read from MLflow, so it holds every RUNNING stage run and sweep of the project
whoever started it (this board from any tab, another board, the CLI), each with its idea,
how long it has been going, its last train loss and a live curve (a sweep's: its running
trials' curves). The jobs this board server started (`board.jobs.launched`, shared by all
tabs) can be cancelled from here, and their finished ones stay listed with their outcome.

MLflow knows no process: a run whose process died stays RUNNING. Where this board started
the process and it is gone, the panel says so; for a run started elsewhere it says how long
nothing was logged once that passes `QUIET_S`. Either way it names the command that
continues the run. `render` is the body of the page's polling fragment.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from board import charts, data, jobs
from board.common import LIGHT_STYLE, md_text, read_or_stop, short
from tracker.keys import BEST_PREFIX, TRAIN_LOSS
from tracker.ladder import ladder
from tracker.queries import RunRow, get_run_row
from tracker.store import Store

# The page picks the fragment's rate when it renders (a full rerun to change it would flash the
# whole page): every second while anything runs, else every few seconds, to notice a new run.
POLL_S = 1.0
IDLE_POLL_S = 5.0
QUIET_S = 300  # a RUNNING run with no metric for this long may have lost its process


def duration(seconds: float) -> str:
    """`42 s`, `3 min 12 s`, `2 h 5 min`, `3 d 4 h`."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def busy(store: Store) -> bool:
    """Whether anything runs: a job of this board, or a RUNNING run that logged lately (one left
    RUNNING by a dead process would otherwise keep every Launch tab polling every second)."""
    live = read_or_stop("running runs", data.running, store.project, store.uri)
    recent = time.time() * 1000 - QUIET_S * 1000
    return any(j.alive for j in jobs.launched(store)) or any(item.last_logged > recent for item in live)


def render(store: Store, titles: dict[str, str]) -> None:
    """The running list and this board's finished jobs (the page's fragment)."""
    live = read_or_stop("running runs", data.running, store.project, store.uri)
    launched = jobs.launched(store)
    owner = {rid: j for j in launched if (rid := j.run_id())}
    trials: dict[str, list[jobs.Live]] = {}
    for item in live:
        if item.row.kind == "trial":
            trials.setdefault(item.row.parent_id, []).append(item)
    tops = [item for item in live if item.row.kind != "trial"]
    for item in list(tops):  # a board job that exited while the cached read still says RUNNING
        job = owner.get(item.row.id)
        if job is not None and not job.alive and not get_run_row(store, item.row.id).running:
            tops.remove(item)
    shown = {item.row.id for item in tops}
    starting = [j for j in launched if j.alive and j.run_id() not in shown]
    finished = [j for j in launched if not j.alive and j.run_id() not in shown]

    st.subheader(f"Running in project {md_text(store.project)}")
    for job in starting:
        _panel(store, titles, job=job)
    for item in tops:
        job = owner.get(item.row.id)
        _panel(store, titles, job=job, live=item, trials=trials.get(item.row.id, []))
    if not starting and not tops:
        st.caption("Nothing is running: launch a stage above, or `idealoop run STAGE --idea ID`.")
    st.subheader("Finished, launched from this board")
    for job in finished:
        _panel(store, titles, job=job)
    if not finished:
        st.caption("No finished job launched from this board yet.")


def _badge(light) -> str:
    color, icon = LIGHT_STYLE[light.color]
    return f":{color}-badge[{icon} {light.rung.label}: {light.verdict}]"


def _state(job: jobs.Job | None, run: RunRow | None) -> str:
    if job is None or job.returncode() is None:
        return "running" if run is None or run.running else run.status.lower()
    if job.cancelled:
        return "cancelled"
    code = job.returncode()
    return "done" if code == 0 else f"failed (exit {code})"


def _resume_hint(run: RunRow) -> str:
    if run.kind == "sweep":
        return f"`idealoop tune --resume {run.id}` finishes it"
    return f"`idealoop run {run.stage} --resume {run.id} --force` continues it"


def _panel(
    store: Store,
    titles: dict[str, str],
    *,
    job: jobs.Job | None = None,
    live: jobs.Live | None = None,
    trials: list[jobs.Live] = (),
) -> None:
    run = live.row if live else None
    if run is None and job is not None and job.run_id():
        run = read_or_stop("the job's run", data.run_row, store.project, store.uri, job.run_id())
    now = time.time()
    idea_id = run.idea_id if run else job.idea_id
    sweep = run.kind == "sweep" if run else job.stage == "tune"
    what = "sweep" if sweep else f"stage_{run.stage if run else job.stage}"
    started = run.start_time / 1000 if run else job.started
    ended = run.end_time / 1000 if run and not run.running and run.end_time else now
    loss = run.metrics.get(TRAIN_LOSS) if run else None
    origin = f"pid {job.pid}" if job else "started outside this board"
    with st.container(border=True):
        head, button = st.columns([6, 1])
        head.markdown(
            f"**{what}** for **{md_text(titles.get(idea_id, idea_id))}** — {_state(job, run)} "
            f"· {duration(ended - started)}"
            + (f" · last {TRAIN_LOSS} **{loss:.4g}**" if loss is not None else "")
            + f" · {origin}"
        )
        if job is not None and job.alive and button.button("Cancel", key=f"cancel_{job.pid}"):
            jobs.cancel(job)
            st.rerun(scope="fragment")
        if job is not None:
            st.code(job.cli, language="bash", wrap_lines=True)  # what ran, to rerun it from a terminal
        if run is None:
            if job.alive:
                st.caption("starting… " + md_text(job.last_message()))
            elif job.returncode() != 0 and not job.cancelled:
                st.code(job.stderr()[-2000:], language=None)  # refused before any run: the CLI's line
            return
        if run.running and job is not None and not job.alive:
            st.markdown(
                f":red-badge[:material/error: process gone] its process (pid {job.pid}) exited with code "
                f"{job.returncode()} but MLflow still says RUNNING: {_resume_hint(run)}"
            )
        elif run.running and job is None and now - _last_logged(live, trials) / 1000 > QUIET_S:
            quiet = duration(now - _last_logged(live, trials) / 1000)
            st.markdown(
                f":orange-badge[:material/schedule: nothing logged for {quiet}] its process may be gone "
                f"(this board did not start it); if so, {_resume_hint(run)}"
            )
        _status(run, job)
        _curve(store, run, trials)
        if not run.running and run.end_reason:
            st.caption(f"ended: {md_text(run.why_ended)}")
        st.page_link(
            "views/idea.py",
            label="open the idea: ladder, runs, curves",
            query_params={"id": idea_id, "run": run.id},
        )
        if job is not None and job.returncode() not in (None, 0) and not job.cancelled:
            st.code(job.stderr()[-2000:], language=None)


def _last_logged(live: jobs.Live, trials: list[jobs.Live]) -> int:
    """When the run last logged (ms): a sweep logs little itself, its running trials count too."""
    return max([live.last_logged, *(t.last_logged for t in trials)])


def _status(run: RunRow, job: jobs.Job | None) -> None:
    if run.kind == "sweep":  # a sweep run has no gate of its own: show its best trial's metric
        best = {k: v for k, v in run.metrics.items() if k.startswith(BEST_PREFIX)}
        summary = " · ".join(f"{md_text(k)} {v:.4g}" for k, v in best.items()) or "no trial reported yet"
        st.markdown(f"MLflow sweep run `{short(run.id)}` {run.status} · {summary}")
        if job is not None and job.alive:
            st.caption(md_text(job.last_message()))  # the sweep's progress line: trials and best so far
        return
    lights = [light for light in ladder([run]) if light.rung.stage == run.stage]
    st.markdown(" ".join(_badge(light) for light in lights) + f" · MLflow run `{short(run.id)}` {run.status}")


def _curve(store: Store, run: RunRow, trials: list[jobs.Live]) -> None:
    """The run's train loss (a sweep: each running trial's), re-read while it runs."""
    sources = [t.row for t in trials] if run.kind == "sweep" else [run]
    frames = []
    for row in sources:
        frame, _ = read_or_stop("a curve", data.live_curve, store.project, store.uri, row, TRAIN_LOSS)
        if not frame.empty:
            frames.append(frame.assign(series=row.name or short(row.id)))
    if not frames:
        if run.kind == "sweep" and run.running:
            st.caption(f"no running trial has logged {TRAIN_LOSS} yet")
        elif run.kind != "sweep":
            st.caption(f"no {TRAIN_LOSS} logged" + (" yet" if run.running else ""))
        return
    title = f"{TRAIN_LOSS} of the running trials" if run.kind == "sweep" else TRAIN_LOSS
    st.altair_chart(charts.live_chart(pd.concat(frames), title=title), width="stretch")
