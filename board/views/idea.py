"""Idea: one idea's runs as curves first, then its estimates, ladder, histograms and samples.

The page reads the idea from `?id=` (the Ideas page links here) and the run from
`?run=`. Under the idea's title: the run picker and the run's range-check flags, then
four tabs (the open one is `?tab=`, and only it is computed): Curves (board/idea_curves.py),
Overview (estimates and revisions, each person's estimates and the comments
(board/people_panel.py), what the evidence says, the stage ladder, the runs table, where the
time goes), Histograms and Samples (board/idea_artifacts.py).
Everything under the title lives in one fragment that re-runs on its own every few
seconds while any of the idea's runs is going, so a running stage is watched without
reloading the app; once nothing runs, the fragment stops ticking.
"""

from __future__ import annotations

import streamlit as st

from board import (
    data,
    idea_artifacts,
    idea_curves,
    idea_overview,
    outcome_panel,
    people_panel,
    runs_table,
    sweep_view,
)
from board.common import md_text, read_or_stop, short, store
from tracker import queries
from tracker.store import Store

REFRESH_S = 2.0  # seconds between refreshes while a run is going
TABS = ["Curves", "Overview", "Histograms", "Samples"]

s = store()
ideas = read_or_stop("ideas", data.ideas_frame, s.project, s.uri)
if ideas.empty:
    st.title("Idea")
    st.info("No ideas yet: add one on the Ideas page, or run `idealoop demo`.")
    st.stop()

ids = list(ideas["id"])
wanted = st.query_params.get("id", ids[0])
if wanted not in ids:
    st.error(f"No idea {wanted!r} in project {s.project!r}; pick one below.")
    wanted = ids[0]
titles = dict(zip(ideas["id"], ideas["title"], strict=True))
st.session_state["idea_pick"] = wanted  # the URL decides; picking below rewrites the URL


def _picked_idea() -> None:
    st.query_params.update(id=st.session_state["idea_pick"])
    st.query_params.pop("run", None)


idea_id = st.sidebar.selectbox(
    "Idea", ids, format_func=lambda i: titles[i], key="idea_pick", on_change=_picked_idea
)

idea, revisions, runs = read_or_stop("the idea", data.idea, s.project, s.uri, idea_id)
st.title(md_text(idea.title))
st.caption(
    f"status **{md_text(idea.status)}** · category **{md_text(idea.category or '—')}** · id `{idea.id}`"
)
if idea.description:
    st.text(idea.description)


def _label(r: queries.RunRow) -> str:
    return f"{r.name} · {r.kind}/{r.stage} · {r.status.lower()} · {short(r.id)}"


def _runs_table(rows: list[queries.RunRow]) -> None:
    runs_table.render(rows, idea_id)


def _pick_run(rows: list[queries.RunRow]) -> queries.RunRow | None:
    """The run the Curves, Histograms and Samples tabs show: `?run=`, else the running one,
    else the newest stage run."""
    plottable = [r for r in rows if r.kind in ("stage", "trial")]
    if not plottable:
        return None
    by_id = {r.id: r for r in plottable}
    wanted_run = st.query_params.get("run")
    newest_first = list(reversed(plottable))
    fallback = next((r for r in newest_first if r.running), None) or next(
        (r for r in newest_first if r.kind == "stage"), newest_first[0]
    )
    st.session_state["run_pick"] = wanted_run if wanted_run in by_id else fallback.id
    run_id = st.selectbox(
        "Run",
        [r.id for r in newest_first],
        format_func=lambda i: _label(by_id[i]),
        key="run_pick",
        on_change=lambda: st.query_params.update(run=st.session_state["run_pick"]),
    )
    return by_id[run_id]


def _overview(found, revs, rows: list[queries.RunRow], run: queries.RunRow | None) -> None:
    if not people_panel.hidden(found):  # the pooled numbers would anchor a first estimate
        idea_overview.estimates(found, revs)
    people_panel.render(s, found, data.comments(s.project, s.uri, idea_id))
    outcome_panel.render(s, idea_id)
    idea_overview.ladder(rows, idea_id)
    _runs_table(rows)
    sweep_view.render(rows)
    if run is not None:
        idea_overview.timing(s, run)


def _evidence() -> None:
    found, revs, rows = read_or_stop("the idea's runs", data.idea, s.project, s.uri, idea_id)
    was_live = st.session_state.get("live", False)
    live = any(r.running for r in rows)
    st.session_state["live"] = live
    if was_live and not live:
        st.rerun(scope="app")  # the last run ended: stop ticking, refresh everything once
    if live:
        st.caption(
            f":orange[:material/autorenew:] runs are going — this part refreshes every {REFRESH_S:g} s"
        )
    run = _pick_run(rows)
    if run is not None:
        idea_artifacts.flags(run)
    tabs = st.tabs(TABS, key="tab", bind="query-params", default=TABS[0] if run else "Overview")
    curves, overview, hists, samples = tabs
    if overview.open is not False:
        with overview:
            _overview(found, revs, rows, run)
    for tab, show in (
        (curves, _curves),
        (hists, idea_artifacts.histograms),
        (samples, idea_artifacts.samples),
    ):
        if tab.open is not False:
            with tab:
                if run is None:
                    st.info("Nothing to show yet: this idea has no stage runs or trials (see Overview).")
                else:
                    show(s, run)


def _curves(at: Store, run: queries.RunRow) -> None:
    project_rows, _ = data.project_runs(at.project, at.uri)
    idea_curves.render(at, run, project_rows)


live_now = any(r.running for r in runs)
st.session_state.setdefault("live", live_now)
st.fragment(_evidence, run_every=REFRESH_S if live_now else None)()
