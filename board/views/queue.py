"""Queue: what runs tonight, in what order, and the morning report of the last night.

Three parts, top to bottom: the current (or last) session in one line; the queued items in
the order the driver takes them (explicit priority, then the idea's score per estimated
GPU-hour), each movable up or down or removable; a form to queue an idea's stage or sweep
(checked by `idealoop queue add` itself, `board.queue_add`); then the report of the newest
session: every item's fate, the gates its runs passed or its sweep's best trial, failures
with their reason and log tail, hours used against idle, and the estimate updates that
wait on the Idea pages. The queue itself runs from the command line (`idealoop queue start`).
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from board import queue_add
from board.common import first_line, md_text, read_or_stop, store, wrote
from runners.stages import LADDER
from runners.tasks.base import BUILTIN_TASKS
from tracker import queue_items, queue_report
from tracker.ideas import list_ideas

s = store()
st.title("Queue")
st.caption("Ranked items run as Ray jobs until a deadline: `idealoop queue start --until 07:00`.")


@st.cache_data(ttl=3, show_spinner=False)
def rows(project: str, uri: str) -> list[queue_report.QueueRow]:
    return queue_report.queue_rows(s)


@st.cache_data(ttl=3, show_spinner=False)
def report(project: str, uri: str) -> queue_report.Report:
    return queue_report.build_report(s)


def when(ms: int) -> str:
    return time.strftime("%a %H:%M", time.localtime(ms / 1000)) if ms else "-"


night = read_or_stop("the queue's sessions", report, s.project, s.uri)
if night.session is not None and night.session.state == "running":
    sess = night.session
    ago = (time.time() * 1000 - sess.heartbeat_ms) / 1000
    st.info(
        f"Running since {when(sess.started_ms)} until {when(sess.until_ms)}; driver {md_text(sess.driver)}, "
        f"last seen {ago:.0f} s ago. Stop it with `idealoop queue stop`."
    )

st.subheader("Queued, in the order they will run")
queued = read_or_stop("the queue", rows, s.project, s.uri)
if not queued:
    st.write("Nothing queued. Add an idea's stage, sweep or whole climb below.")
else:
    frame = pd.DataFrame(
        [
            {
                "#": n,
                "idea": r.title,
                "runs": f"{r.item.what} ({r.item.stage})" if r.item.what == "sweep" else r.item.what,
                "task": r.item.task,
                "CPUs": r.item.held[0],
                "GPUs": r.item.held[1],
                "minutes": round(r.minutes, 2),
                "estimate from": r.minutes_from,
                "order by": f"priority {r.item.priority:g}"
                if r.item.priority is not None
                else f"{r.rank_value:.3g} score/GPU-h",
                "id": r.item.id[:8],
            }
            for n, r in enumerate(queued, 1)
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    labels = {
        r.item.id: f"#{n} {r.title} — {r.item.what} {r.item.task} ({r.item.id[:8]})"
        for n, r in enumerate(queued, 1)
    }
    pick = st.selectbox("Item", list(labels), format_func=labels.get, key="queue_pick")
    up, down, remove = st.columns(3)
    try:
        if up.button("Move up", key="queue_up"):
            queue_report.move(s, pick, 1)
            wrote()
            st.rerun()
        if down.button("Move down", key="queue_down"):
            queue_report.move(s, pick, -1)
            wrote()
            st.rerun()
        if remove.button("Remove", key="queue_remove"):
            queue_items.remove_item(s, pick)
            wrote()
            st.rerun()
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        st.error(first_line(exc))

st.subheader("Add to the queue")
ideas = read_or_stop("ideas", list_ideas, s)
titles = {i.id: i.title for i in ideas}
if not ideas:
    st.write("No ideas yet: add one on the Ideas page, or run `idealoop demo`.")
else:
    wanted = st.query_params.get("id")
    ids = list(titles)
    at = ids.index(wanted) if wanted in ids else 0
    with st.form("queue_add"):
        idea_id = st.selectbox("Idea", ids, index=at, format_func=titles.get)
        kinds = [stage.name for stage in LADDER] + ["sweep", "climb"]
        kind = st.selectbox("Run", kinds, index=kinds.index("generalize"))
        a, b, c, d = st.columns(4)
        task = a.selectbox("Task", BUILTIN_TASKS)
        cpus = b.number_input("CPUs", min_value=0.1, value=1.0, step=0.5)
        gpus = c.number_input("GPUs", min_value=0.0, value=0.0, step=0.25)
        minutes = d.number_input("Estimated minutes (0: from history)", min_value=0.0, value=0.0)
        space = st.text_input("Sweep: space file", "examples/space.yaml")
        overrides = st.text_area("Config overrides, key=value per line", "")
        submitted = st.form_submit_button("Add")
    if submitted:
        pairs = [p.strip() for p in overrides.splitlines() if p.strip()]
        what = {"sweep": {"sweep": space}, "climb": {"climb": "generalize"}}.get(kind, {"stage": kind})
        cmd = queue_add.add_command(
            s, idea_id, **what, task=task, overrides=pairs, cpus=cpus, gpus=gpus, minutes=minutes or None
        )  # fmt: skip
        with st.spinner("Checking and queueing…"):
            ok, said = queue_add.add(cmd)
        if ok:
            wrote()
            st.success(f"Queued {said[:8]}.")
        else:
            st.error(said)

st.subheader("The last night")
if night.session is None:
    st.write("No session yet.")
    st.stop()
sess = night.session
use = night.usage
st.write(
    f"Session {sess.id[:8]}: **{sess.state}**{' (' + md_text(sess.reason) + ')' if sess.reason else ''}, "
    f"{when(sess.started_ms)} to {when(sess.ended_ms)} (deadline {when(sess.until_ms)})."
)
m1, m2, m3, m4 = st.columns(4)
m1.metric("GPU-hours used", f"{use.get('gpu_used', 0):.2f}")
m2.metric("GPU-hours idle", f"{use.get('gpu_idle', 0):.2f}")
m3.metric("CPU-hours used", f"{use.get('cpu_used', 0):.2f}")
m4.metric("CPU-hours idle", f"{use.get('cpu_idle', 0):.2f}")
fates = pd.DataFrame(
    [
        {
            "fate": f.item.state,
            "idea": f.title,
            "runs": f"{f.item.what} {f.item.task}",
            "minutes": round(((f.item.ended_ms or f.item.started_ms) - f.item.started_ms) / 60_000, 2)
            if f.item.started_ms
            else None,
            "gates": ", ".join(f"{k} {v}" for r in f.runs for k, v in r.gates.items()),
            "best trial": next((r.best_trial[:8] for r in f.runs if r.best_trial), ""),
            "why": "" if f.item.state == "done" else f.item.reason,
            "id": f.item.id[:8],
        }
        for f in night.fates
    ]
)
st.dataframe(fates, hide_index=True, width="stretch")
for f in night.fates:
    if f.item.state == "failed" and f.log_tail:
        with st.expander(f"Log tail of {f.item.id[:8]} ({f.title})"):
            st.code(f.log_tail)
if night.proposals:
    st.markdown("**Estimate updates waiting** (accept them on the Idea page):")
    for p in night.proposals:
        change = ", ".join(f"{k} {a:.3g} → {b:.3g}" for k, (a, b) in p["changes"].items())
        st.page_link(
            "views/idea.py",
            label=f"{titles.get(p['idea'], p['idea'][:8])}: {p['verdict']}, {change}",
            query_params={"id": p["idea"]},
        )
