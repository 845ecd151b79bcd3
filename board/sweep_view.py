"""The Idea page's sweep view: what each sweep's trials scored against what they were given.

For every sweep of the idea that has trials: the best trial named (with its config and
score), the target score against each sampled hyperparameter (a scatter per key, log x
for keys sampled log-uniformly, the best trial marked), and parallel coordinates over
all sampled keys and the score. The sampled keys and their distributions come from the
sweep's `sweep.space` param; each trial's values from its `trial.<key>` params; its
score from `best/<target>` (docs/telemetry.md). Everything is in the idea's run rows
already: no extra reads.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from board import sweep_charts
from board.common import md_text, short
from tracker import keys, queries
from tracker.run_config import config_label, short_value

SCATTERS_PER_ROW = 3


def sampled_space(sweep: queries.RunRow) -> dict[str, str]:
    """Sampled key -> distribution kind (`loguniform`, `choice` ...), from the sweep's space param;
    fixed values in the space are not sampled and are left out."""
    try:
        space = json.loads(sweep.params.get(f"{keys.SWEEP_PARAM_PREFIX}space", "{}"))
    except json.JSONDecodeError:
        return {}
    if not isinstance(space, dict):
        return {}
    return {k: next(iter(v)) for k, v in space.items() if isinstance(v, dict) and len(v) == 1}


def trials_frame(
    sweep: queries.RunRow, rows: list[queries.RunRow], target: str, higher: bool
) -> tuple[pd.DataFrame, list[str]]:
    """One row per scored trial of the sweep (id, name, ended, score, best, each sampled key),
    and the sampled keys that vary among them. Trials with no score yet are left out."""
    space = sampled_space(sweep)
    trials = [r for r in rows if r.kind == "trial" and r.parent_id == sweep.id]
    best = queries.best_trial(sweep, trials, target, higher)
    table = []
    for t in trials:
        score = queries.best_score(t, target)
        if score is None:
            continue
        config = t.config
        table.append(
            {
                "id": t.id,
                "name": t.name,
                "ended": t.end_reason or t.status.lower(),
                "score": score,
                "best": best is not None and t.id == best.id,
                **{k: config.get(k) for k in space},
            }
        )
    frame = pd.DataFrame(table)
    varying = [k for k in space if not frame.empty and frame[k].notna().all() and frame[k].nunique() > 1]
    return frame, varying


def render(rows: list[queries.RunRow]) -> None:
    """A section per sweep of the idea that has scored trials; nothing when there is none."""
    sweeps = [r for r in rows if r.kind == "sweep"]
    judged = queries.judged_by(rows)
    if not sweeps or judged is None:
        return
    target, higher = judged
    for sweep in sweeps:
        _one_sweep(sweep, rows, target, higher)


def _one_sweep(sweep: queries.RunRow, rows: list[queries.RunRow], target: str, higher: bool) -> None:
    frame, varying = trials_frame(sweep, rows, target, higher)
    st.subheader(f"Sweep {sweep.name}")
    if frame.empty:
        st.caption("No trial has a score yet.")
        return
    direction = "higher" if higher else "lower"
    winner = frame[frame["best"]]
    if not winner.empty:
        w = winner.iloc[0]
        config = config_label({k: w[k] for k in varying}, varying, max_len=120)
        st.markdown(
            f"**Best trial:** {md_text(w['name'])} — {target} **{short_value(w['score'])}** "
            f"({direction} is better) · run `{short(w['id'])}`"
            + (f" · {md_text(config)}" if config and config != w["name"] else "")
        )
    st.caption(
        f"{len(frame)} scored trials: each point is a trial's best {target} "
        "(blue: ran to the end, grey: stopped early by ASHA, red diamond: the best trial)."
    )
    if not varying:
        st.caption("The trials share every sampled value: nothing to plot against.")
        return
    space = sampled_space(sweep)
    log_keys = {k for k, kind in space.items() if kind == "loguniform"}
    cols = st.columns(min(SCATTERS_PER_ROW, len(varying)))
    for i, key in enumerate(varying):
        chart = sweep_charts.scatter_chart(frame, key, target=target, kind=space.get(key, ""))
        cols[i % len(cols)].altair_chart(chart, width="stretch")
    if len(varying) >= 2:
        axes = [*varying, "score"]
        long = sweep_charts.parallel_frame(frame, axes, log_keys)
        long["axis"] = long["axis"].replace({"score": target})
        chart = sweep_charts.parallel_chart(long, [*varying, target], target=target, higher=higher)
        st.altair_chart(chart, width="stretch")
