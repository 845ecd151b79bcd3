"""The Idea page's Overview tab, apart from the runs table: estimates, revisions, ladder, timing.

The estimates and their revision history say what was predicted; the stage ladder
says how far the idea got (one traffic light per rung, linking the run behind it);
"where the time goes" splits the picked run's batches into waiting for data and
computing. The page (board/views/idea.py) puts these together with the outcome
panel and the runs table.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from board import data
from board.common import LIGHT_STYLE, md_text, short
from tracker import keys, queries
from tracker.ladder import ladder as ladder_of
from tracker.store import Store


def estimates(idea, revisions) -> None:
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


def ladder(rows: list[queries.RunRow], idea_id: str) -> None:
    st.subheader("Stage ladder")
    lights = ladder_of(rows)
    for col, light in zip(st.columns(len(lights)), lights, strict=True):
        color, icon = LIGHT_STYLE[light.color]
        col.markdown(f"**{light.rung.label}**")
        col.badge(light.verdict, icon=icon, color=color)
        if light.run_id:
            col.page_link(
                "views/idea.py",
                label=f"run {short(light.run_id)}",
                query_params={"id": idea_id, "run": light.run_id},
            )
            if light.detail and light.color == "red":
                col.caption(md_text(light.detail))
        else:
            col.caption(f"`{light.detail.replace('ID', short(idea_id))}`")


def timing(s: Store, run: queries.RunRow) -> None:
    st.subheader("Where the time goes")
    st.caption(f"run {run.name} · {short(run.id)}")
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
