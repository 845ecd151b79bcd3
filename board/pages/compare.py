"""Compare: pick runs from any ideas and see their curves and final metrics side by side.

Runs come from `?runs=id1,id2` (links elsewhere on the board) or the picker; with
neither, the two most recent finished runs are shown, so the page is never empty
when there is something to compare.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from board import charts, data
from board.common import read_or_stop, short, store
from tracker import queries
from tracker.keys import HIST_PREFIX, TRAIN_LOSS

s = store()
st.title("Compare runs")
rows, titles = read_or_stop("runs", data.project_runs, s.project, s.uri)
rows = [r for r in rows if r.kind in ("stage", "trial")]
if not rows:
    st.info(
        "No stage runs yet. Run one with `idealoop run overfit --idea ID` (or the Launch page), "
        "or `idealoop demo`."
    )
    st.stop()
by_id = {r.id: r for r in rows}


def _label(run_id: str) -> str:
    r = by_id[run_id]
    return f"{titles.get(r.idea_id, '?')} · {r.name} · {r.status.lower()} · {short(r.id)}"


from_url = [i for i in st.query_params.get("runs", "").split(",") if i in by_id]
if not from_url and "compare_pick" not in st.session_state:
    from_url = [r.id for r in rows if not r.running][:2]
if from_url:
    st.session_state["compare_pick"] = from_url
chosen = st.multiselect(
    "Runs",
    list(by_id),
    format_func=_label,
    key="compare_pick",
    on_change=lambda: st.query_params.update(runs=",".join(st.session_state["compare_pick"])),
)
if not chosen:
    st.info("Pick two or more runs to compare.")
    st.stop()
picked = [by_id[i] for i in chosen]

keys = sorted({k for r in picked for k in r.metrics})
default_key = TRAIN_LOSS if TRAIN_LOSS in keys else keys[0] if keys else None
if default_key is None:
    st.info("These runs have no metrics yet.")
    st.stop()
left, right = st.columns([3, 1])
key = left.selectbox("Metric", keys, index=keys.index(default_key), key="compare_key")
log_y = right.toggle("log scale", value=queries.lower_is_better(key), key="compare_log")

frames = []
for r in picked:
    df, total = data.live_curve(s.project, s.uri, r, key)
    frames.append(df.assign(series=_label(r.id)))
frame = pd.concat(frames) if frames else pd.DataFrame(columns=["step", "value", "series"])
if frame.empty:
    st.info(f"None of these runs logged `{key}`.")
else:
    log_ok = log_y and bool((frame["value"] > 0).all())
    st.altair_chart(charts.curves_chart(frame, title=key, log_y=log_ok), width="stretch")

st.subheader("Final metrics")
table = {
    _label(r.id): {
        "idea": titles.get(r.idea_id, ""),
        "stage": r.stage,
        "status": r.status,
        "why it ended": r.why_ended,
        "gates": " ".join(f"{k}={v}" for k, v in r.gates.items()),
        **{k: f"{r.metrics[k]:.5g}" if k in r.metrics else "" for k in keys if not k.startswith(HIST_PREFIX)},
    }
    for r in picked
}
final = pd.DataFrame(table)
st.dataframe(final, width="stretch", height=35 * (len(final) + 1) + 3)
