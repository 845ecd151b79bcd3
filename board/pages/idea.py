"""Idea: one idea's estimates and revisions, its stage ladder, runs, curves, histograms, samples.

The page reads the idea from `?id=` (the Ideas page links here). Everything below
the estimates lives in one fragment that re-runs on its own every few seconds while
any of the idea's runs is going, so a running stage is watched without reloading the
app; once nothing runs, the fragment stops ticking.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from board import charts, data, outcome_panel, runs_table, sweep_view
from board.common import LIGHT_STYLE, md_text, read_or_stop, short, store
from tracker import artifacts, keys, queries
from tracker.ladder import ladder

REFRESH_S = 2.0  # seconds between refreshes while a run is going
PER_BATCH = (keys.TRAIN_LOSS, keys.VAL_LOSS_BATCH)
EPOCH_SKIP = {keys.EPOCH, keys.VAL_LOSS_BATCH}

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

# -- estimates and their history ----------------------------------------------------
cols = st.columns(5)
cols[0].metric("score", f"{idea.score:.4g}")
cols[1].metric("hours", f"{idea.hours:g}")
cols[2].metric("complexity", f"{idea.complexity}")
cols[3].metric("impact", f"{idea.impact:g}")
cols[4].metric("likelihood", f"{idea.likelihood:g}")
with st.expander(f"Revision history ({len(revisions)})"):
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "#": r.number,
                    "time": dt.datetime.fromtimestamp(r.time_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
                    if r.time_ms
                    else "-",
                    "source": r.source,
                    "author": r.author,
                    "changes": ", ".join(
                        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.changes.items()
                    ),
                    "note": r.note,
                }
                for r in revisions
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def _label(r: queries.RunRow) -> str:
    return f"{r.name} · {r.kind}/{r.stage} · {r.status.lower()} · {short(r.id)}"


def _ladder(rows: list[queries.RunRow]) -> None:
    st.subheader("Stage ladder")
    cols = st.columns(5)
    for col, light in zip(cols, ladder(rows), strict=True):
        color, icon = LIGHT_STYLE[light.color]
        col.markdown(f"**{light.rung.label}**")
        col.badge(light.verdict, icon=icon, color=color)
        if light.run_id:
            col.page_link(
                "pages/idea.py",
                label=f"run {short(light.run_id)}",
                query_params={"id": idea_id, "run": light.run_id},
            )
            if light.detail and light.color == "red":
                col.caption(md_text(light.detail))
        else:
            col.caption(f"`{light.detail.replace('ID', short(idea_id))}`")


def _runs_table(rows: list[queries.RunRow]) -> None:
    runs_table.render(rows, idea_id)


def _curves(run: queries.RunRow, all_rows: list[queries.RunRow], best_pool: list[queries.RunRow]) -> None:
    st.subheader("Curves")
    frames, logged = [], 0
    for key in PER_BATCH:
        if key in run.metrics:
            df, total = data.live_curve(s.project, s.uri, run, key)
            frames.append(df.assign(series=key))
            logged += total
    log_y = st.toggle("log scale", value=True, key="log_y")
    if frames:
        frame = pd.concat(frames)
        shown = len(frame)
        st.altair_chart(
            charts.curves_chart(frame, title="per batch", log_y=log_y and bool((frame["value"] > 0).all())),
            width="stretch",
        )
        st.caption(
            f"{shown:,} of {logged:,} logged points drawn (first, min, max and last of every bucket kept, "
            "so no spike is lost)"
        )
    else:
        st.info(f"This run has no per-batch `{keys.TRAIN_LOSS}` yet.")
    epoch_keys = sorted(k for k in run.metrics if k.startswith(keys.VAL_PREFIX) and k not in EPOCH_SKIP)
    if not epoch_keys:
        return
    cols = st.columns(min(3, len(epoch_keys)))
    for i, key in enumerate(epoch_keys):
        df, _ = data.live_curve(s.project, s.uri, run, key)
        rules = []
        base = queries.baseline_value(all_rows, key)
        if base:
            rules.append({"label": f"baseline {base[0]:.4g}", "value": base[0]})
        best = queries.project_best(best_pool, key)
        if best:
            rules.append({"label": f"project best {best[0]:.4g} ({short(best[1])})", "value": best[0]})
        cols[i % len(cols)].altair_chart(
            charts.curves_chart(df.assign(series=key), title=key, rules=pd.DataFrame(rules)),
            width="stretch",
        )


def _histograms(run: queries.RunRow) -> None:
    st.subheader("Histograms")
    for flag, detail in run.flags.items():
        st.warning(f"**{flag}**" + (f": {md_text(detail)}" if detail else ""), icon=":material/flag:")
    hists = data.histograms(s.project, s.uri, run.id, run.end_time)
    if not hists:
        st.caption("No histogram files (`histograms/step_*.json`) in this run.")
        return
    names = artifacts.tensor_names(hists)
    kinds = sorted({n.split("/", 1)[0] for n in names})
    kind = st.segmented_control("tensors", kinds, default=kinds[0], key="hist_kind") or kinds[0]
    chosen = [n for n in names if n.startswith(kind + "/")]
    cols = st.columns(2)
    for i, name in enumerate(chosen):
        with cols[i % 2]:
            cells = pd.DataFrame(artifacts.histogram_cells(hists, name))
            st.altair_chart(charts.heatmap_chart(cells, title=name), width="stretch")
            for flag, step in artifacts.flags_over_time(hists, name).items():
                st.caption(f":red[:material/flag:] **{flag}** from step {step}")


def _samples(run: queries.RunRow) -> None:
    st.subheader("Samples")
    epochs = data.sample_epochs(s.project, s.uri, run.id, run.end_time)
    if not epochs:
        st.caption("No samples (`samples/epoch_*.png`) in this run.")
        return
    epoch = (
        epochs[0] if len(epochs) == 1 else st.select_slider("epoch", epochs, value=epochs[-1], key="epoch")
    )
    found = data.samples(s.project, s.uri, run.id, epoch)
    left, right = st.columns(2)
    if found["grid"]:
        left.image(found["grid"], caption=f"inputs, predictions and targets, epoch {epoch}", width="stretch")
    if found["confusion"]:
        right.altair_chart(charts.confusion_chart(found["confusion"]["labels"], found["confusion"]["matrix"]))
    elif found["confusion_png"]:
        right.image(found["confusion_png"], caption="confusion matrix")


def _timing(run: queries.RunRow) -> None:
    st.subheader("Where the time goes")
    t = data.timing(s.project, s.uri, run.id)
    d, c = t[keys.TIME_DATA], t[keys.TIME_COMPUTE]
    if not d.count and not c.count:
        st.caption(f"No `{keys.TIME_DATA}` / `{keys.TIME_COMPUTE}` in this run.")
        return
    cols = st.columns(3)
    total = d.total + c.total
    cols[0].metric("waiting for data", f"{d.total / total:.0%}" if total else "—", help=f"{d.total:.3g} s")
    cols[1].metric("computing", f"{c.total / total:.0%}" if total else "—", help=f"{c.total:.3g} s")
    thr = t[keys.THROUGHPUT]
    cols[2].metric("throughput", f"{thr.mean:,.0f} samples/s" if thr.count else "—")
    if total:
        st.progress(d.total / total, text=f"data {d.total / total:.0%} · compute {c.total / total:.0%}")
    if total and d.total / total > 0.3:
        st.warning(
            "More than 30% of the time is spent waiting for data: the input pipeline is the bottleneck."
        )


def _evidence() -> None:
    _, _, rows = read_or_stop("the idea's runs", data.idea, s.project, s.uri, idea_id)
    was_live = st.session_state.get("live", False)
    live = any(r.running for r in rows)
    st.session_state["live"] = live
    if was_live and not live:
        st.rerun(scope="app")  # the last run ended: stop ticking, refresh everything once
    if live:
        st.caption(
            f":orange[:material/autorenew:] runs are going — this part refreshes every {REFRESH_S:g} s"
        )
    _ladder(rows)
    _runs_table(rows)
    sweep_view.render(rows)
    plottable = [r for r in rows if r.kind in ("stage", "trial")]
    if not plottable:
        return
    by_id = {r.id: r for r in plottable}
    wanted_run = st.query_params.get("run")
    newest_first = list(reversed(plottable))
    fallback = next((r for r in newest_first if r.running), None) or next(
        (r for r in newest_first if r.kind == "stage"), newest_first[0]
    )
    st.session_state["run_pick"] = wanted_run if wanted_run in by_id else fallback.id
    order = [r.id for r in newest_first]
    run_id = st.selectbox(
        "Run",
        order,
        format_func=lambda i: _label(by_id[i]),
        key="run_pick",
        on_change=lambda: st.query_params.update(run=st.session_state["run_pick"]),
    )
    run = by_id[run_id]
    project_rows, _ = data.project_runs(s.project, s.uri)
    _curves(run, project_rows, [r for r in project_rows if r.kind in ("stage", "trial")])
    _histograms(run)
    _samples(run)
    _timing(run)


outcome_panel.render(s, idea_id)

live_now = any(r.running for r in runs)
st.session_state.setdefault("live", live_now)
st.fragment(_evidence, run_every=REFRESH_S if live_now else None)()
