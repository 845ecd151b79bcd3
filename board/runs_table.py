"""The Idea page's runs table: every run of the idea, in tree order, with what set it apart.

Beside each run's kind and stage, the table shows its best target score (`best/<target>`,
else the final `val/<target>`) and then the config keys that differ between the idea's runs
(`tracker.run_config.ordered_keys`: the settings that tell one run from another; the ones
all runs share are listed once, under the table), before status and why it ended, so they
are in view at 1400 px. A sweep's row names its best trial; that trial's row carries a ★
and a tinted background, so the winner of a sweep is found without reading the numbers.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from tracker import queries
from tracker.run_config import config_label, differing_keys, shared_settings, short_value

STAR = "★"
BEST_TINT = "background-color: rgba(255, 196, 0, 0.18)"  # the best trials' rows
RUN_WIDTH = (
    310  # px: a nested trial's name of four sampled values (lr=0.0281 width=256 depth=3 batch_size=128)
)
MAX_CONFIG_COLUMNS = 6  # differing keys shown as columns; the rest go into one "other config" column


def render(rows: list[queries.RunRow], idea_id: str) -> None:
    st.subheader("Runs")
    if not rows:
        st.info(
            f"No runs for this idea yet. Start with `idealoop run overfit --idea {idea_id}` "
            "or the Launch page."
        )
        return
    table, best_ids = runs_frame(rows)
    styled = table.style.apply(lambda r: [BEST_TINT if r["id"] in best_ids else ""] * len(r), axis=1).format(
        precision=4, na_rep=""
    )
    # The config columns come right after the score, and the run names take what a trial's name
    # needs (`lr=2.2e-4 width=64 depth=1 batch_size=32`), not "large": at 1400 px the columns that
    # tell the runs apart are in view without scrolling sideways; status, why it ended, the sweep's
    # best trial (also marked ★ on its row) and the rest follow.
    wide = {"run": st.column_config.TextColumn(width=RUN_WIDTH), STAR: st.column_config.TextColumn(width=32)}
    if "best trial" in table:
        wide["best trial"] = st.column_config.TextColumn(width="medium")
    st.dataframe(styled, hide_index=True, width="stretch", column_config=wide)
    shared = shared_settings(r.config for r in rows if r.kind in ("stage", "trial"))
    if shared:
        st.caption(f"Same in every run: {shared}")


def runs_frame(rows: list[queries.RunRow]) -> tuple[pd.DataFrame, set[str]]:
    """The table (one row per run, tree order) and the ids of the sweeps' best trials."""
    judged = queries.judged_by(rows)
    target, higher = judged if judged else ("", True)
    trained = [r for r in rows if r.kind in ("stage", "trial")]
    differ = differing_keys(r.config for r in trained)
    columns, extra = differ[:MAX_CONFIG_COLUMNS], differ[MAX_CONFIG_COLUMNS:]
    best_of_sweep = {}
    for sweep in (r for r in rows if r.kind == "sweep"):
        best = queries.best_trial(sweep, rows, target, higher) if target else None
        if best is not None:
            best_of_sweep[sweep.id] = best
    best_ids = {b.id for b in best_of_sweep.values()}
    score_column = f"best {target}" if target else "best"
    table = []
    for depth, r in queries.runs_tree(rows):
        config = r.config if r.kind != "sweep" else {}
        line = {
            STAR: STAR if r.id in best_ids else "",
            "run": ("    " * (depth - 1) + "└─ " if depth else "") + r.name,
            "kind": r.kind,
            "stage": r.stage,
            score_column: _score(r, target),
            **{k: short_value(config[k]) if k in config else "" for k in columns},
        }
        if extra:
            line["other config"] = config_label(config, extra, max_len=80)
        line.update(
            {
                "best trial": _best_trial_text(best_of_sweep[r.id], target) if r.id in best_of_sweep else "",
                "status": r.status,
                "why it ended": r.why_ended,
                "gates": " ".join(f"{k}={v}" for k, v in r.gates.items()),
                "flags": ", ".join(r.flags),
                "started": dt.datetime.fromtimestamp(r.start_time / 1000).strftime("%m-%d %H:%M:%S"),
                "id": r.id,
            }
        )
        table.append(line)
    frame = pd.DataFrame(table)
    if not best_of_sweep:
        frame = frame.drop(columns=["best trial"])
    if not target:
        frame = frame.drop(columns=[score_column])
    return frame, best_ids


def _score(row: queries.RunRow, target: str) -> str:
    score = queries.best_score(row, target) if target else None
    return f"{score:.4g}" if score is not None else ""


def _best_trial_text(best: queries.RunRow, target: str) -> str:
    score = queries.best_score(best, target)
    return f"{best.name}" + (f" ({target} {score:.4g})" if score is not None else "")
