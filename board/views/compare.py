"""Compare: pick runs from any ideas and see one metric's curves and the final results side by side.

Runs come from `?runs=id1,id2` (links elsewhere on the board) or the picker; with
neither, the two most recent finished runs are shown, so the page is never empty
when there is something to compare. Each run is named by what sets it apart (its
differing config, `board/compare_frames.py`), in its own hue. The y scale is chosen per
metric (log for losses, linear zoomed to the data for scores) and the log toggle is
remembered per metric, so accuracy never inherits a loss's log axis. x is the step, the
epoch (runs with different batch sizes line up) or the time since each run started.
The baseline's score, where the runs' ideas have one, is a dashed line.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from board import compare_charts, compare_frames, data
from board.common import md_text, read_or_stop, short, store
from tracker import queries
from tracker.keys import EPOCH, TRAIN_LOSS

X_AXES = {"step": "step", EPOCH: EPOCH, "time": "time"}  # column -> label of the x control

s = store()
st.title("Compare runs")
all_rows, titles = read_or_stop("runs", data.project_runs, s.project, s.uri)
rows = [r for r in all_rows if r.kind in ("stage", "trial")]
if not rows:
    st.info(
        "No stage runs yet. Run one with `idealoop run overfit --idea ID` (or the Launch page), "
        "or `idealoop demo`."
    )
    st.stop()
by_id = {r.id: r for r in rows}


def _pick_label(run_id: str) -> str:
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
    format_func=_pick_label,
    key="compare_pick",
    on_change=lambda: st.query_params.update(runs=",".join(st.session_state["compare_pick"])),
)
if not chosen:
    st.info("Pick two or more runs to compare.")
    st.stop()
picked = [by_id[i] for i in chosen]
labels = compare_frames.legend_labels(picked)

metric_keys = sorted({k for r in picked for k in r.metrics})
default_key = TRAIN_LOSS if TRAIN_LOSS in metric_keys else metric_keys[0] if metric_keys else None
if default_key is None:
    st.info("These runs have no metrics yet.")
    st.stop()
left, middle, right = st.columns([3, 2, 1], vertical_alignment="bottom")
key = left.selectbox("Metric", metric_keys, index=metric_keys.index(default_key), key="compare_key")
axis = (
    middle.segmented_control("x axis", list(X_AXES), format_func=X_AXES.get, default="step", key="compare_x")
    or "step"
)
# One toggle per metric (its key names the metric): switching metrics never carries the scale over.
log_y = right.toggle("log scale", value=queries.lower_is_better(key, picked), key=f"compare_log:{key}")

frames, no_epochs = [], []
for r in picked:
    df, _ = data.axis_curve(s.project, s.uri, r, key)
    if axis == EPOCH and df[EPOCH].isna().all():
        no_epochs.append(labels[r.id])
        continue
    frames.append(df.assign(series=labels[r.id], x=df[axis]))
frame = pd.concat(frames) if frames else pd.DataFrame(columns=["x", "value", "series"])
unit, x_title = 1.0, X_AXES[axis]
if axis == "time" and not frame.empty:
    span = float(frame["x"].max())
    unit, x_title = (
        (3600.0, "hours") if span > 7200 else (60.0, "minutes") if span > 120 else (1.0, "seconds")
    )
    x_title += " since the run started"
frame = frame.assign(x=frame["x"] / unit)

rules = []
ideas = list(dict.fromkeys(r.idea_id for r in picked))
for idea in ideas:
    base = queries.baseline_value([r for r in all_rows if r.idea_id == idea], key)
    if base:
        who = f" ({titles.get(idea, short(idea))})" if len(ideas) > 1 else ""
        rules.append({"label": f"baseline {base[0]:.4g}{who}", "value": base[0]})
if not rules and (base := queries.baseline_value(all_rows, key)):
    rules.append({"label": f"project baseline {base[0]:.4g}", "value": base[0]})

if frame.empty:
    st.info(f"None of these runs logged `{key}`" + (" with epochs." if no_epochs else "."))
else:
    log_ok = log_y and bool((frame["value"] > 0).all())
    if log_y and not log_ok:
        st.caption("Log scale needs positive values: drawn linear.")
    order = [labels[r.id] for r in picked if labels[r.id] in set(frame["series"])]
    chart = compare_charts.compare_chart(
        frame, title=key, x_title=x_title, order=order, log_y=log_ok, rules=pd.DataFrame(rules)
    )
    st.altair_chart(chart, width="stretch")
if no_epochs:
    st.caption(f"Not drawn by epoch (they log no `{EPOCH}`): " + ", ".join(md_text(n) for n in no_epochs))

st.subheader("Final metrics")
final, shared = compare_frames.final_table(picked, labels, titles)
numeric = [c for c in final.columns if pd.api.types.is_float_dtype(final[c])]
st.dataframe(
    final.style.format("{:.4g}", subset=numeric, na_rep=""),
    hide_index=True,
    width="stretch",
    column_config={"run": st.column_config.TextColumn(width="medium")},
)
if shared:
    st.caption(f"Same in all: {md_text(shared)}")
