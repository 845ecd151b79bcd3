"""The Idea page's "What the evidence says" section: verdict, proposed estimates, accept.

Reads `tracker.outcomes.assess` (evidence → verdict → proposal; nothing written) and
shows the proposal beside the current estimates with the reasons behind each number.
Accepting calls `tracker.outcomes.accept`, which appends a revision with source
`evidence` linking the runs; nothing is overwritten. The hours estimate changes only with
hours typed into "Hours actually spent"; otherwise the proposal keeps it and says why.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from board import data
from board.common import first_line, md_text, short, wrote
from tracker.outcomes import accept
from tracker.store import Store


def render(s: Store, idea_id: str) -> None:
    st.subheader("What the evidence says")
    left, mid, right = st.columns(3)
    reference = left.selectbox(
        "Compare with", ["best", "baseline"], key=f"ref_{idea_id}",
        format_func=lambda r: {"best": "the project's best other run", "baseline": "the non-DL baseline"}[r],
    )  # fmt: skip
    threshold = mid.number_input("Smallest gain that counts", value=0.0, format="%.4f", key=f"thr_{idea_id}")
    hours_text = right.text_input(
        "Hours actually spent",
        placeholder="none logged: the estimate is kept",
        key=f"h_{idea_id}",
        help="Hours a person spent implementing the idea. Only these change the hours estimate and "
        "the planning factor: how long the runs took is compute, not implementation time.",
    )
    try:
        hours = float(hours_text) if hours_text.strip() else None
        if hours is not None and not hours > 0:
            raise ValueError
    except ValueError:
        st.error(f"hours={hours_text!r} is not a positive number")
        return
    try:
        a = data.assessment(s.project, s.uri, idea_id, reference, float(threshold), hours)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        st.error(f"Cannot judge this idea: {first_line(exc)}")
        return
    ev = a.evidence
    if a.proposal is None:
        missing = (
            "finished generalize/scale runs or sweep trials"
            if ev.best is None
            else f"a {reference} reference"
        )
        st.info(f"Nothing to judge yet: this idea has no {missing}.")
        return
    v, p, cur = a.verdict, a.proposal, a.current
    colour = {"succeeded": "green", "failed": "red"}.get(v.verdict, "orange")
    st.badge(v.verdict, color=colour)
    st.markdown(
        f"Best val **{md_text(ev.target)}** {ev.best:.4g} (run `{short(ev.best_run)}`) vs "
        f"{md_text(ev.reference_kind)} {ev.reference:.4g} (run `{short(ev.reference_run)}`): "
        f"gain **{v.impact:+.4g}**, needed {v.margin:.4g} (seed noise {v.noise:.3g}, "
        f"{len(ev.run_values)} run{'' if len(ev.run_values) == 1 else 's'})."
    )
    rows = [{"estimate": "likelihood", "now": f"{cur['likelihood']:.3g}", "proposed": f"{p.likelihood:.3g}",
             "why": p.reasons["likelihood"]}]  # fmt: skip
    if p.impact is not None:
        rows.append({"estimate": "impact", "now": f"{cur['impact']:.4g}", "proposed": f"{p.impact:.4g}",
                     "why": p.reasons["impact"]})  # fmt: skip
    rows.append({"estimate": "hours", "now": f"{cur['hours']:g}",
                 "proposed": f"{p.hours:g}" if p.hours is not None else f"{cur['hours']:g} (kept)",
                 "why": p.reasons["hours"]})  # fmt: skip
    rows.append({"estimate": "status", "now": cur["status"], "proposed": p.status, "why": v.verdict})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if st.button("Accept these estimates", key=f"accept_{idea_id}", type="primary"):
        try:
            number = accept(s, idea_id, a)
        except Exception as exc:  # noqa: BLE001
            st.error(f"Not written: {first_line(exc)}")
            return
        wrote()
        st.session_state["outcome_flash"] = f"Accepted: revision #{number} (source evidence)."
        st.rerun()
    if "outcome_flash" in st.session_state:
        st.success(st.session_state.pop("outcome_flash"))
