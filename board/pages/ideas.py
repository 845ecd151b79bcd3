"""Ideas: the ranked list, why each idea ranks where it does, and forms to add and edit.

Values typed into the forms are checked by `tracker.estimates` — the very bounds the
CLI uses — so a bad value shows the same one-line error and nothing is written.
Edits go through `tracker.ideas.update_idea`, which appends a revision holding only
the fields that changed: two people editing the same idea at once both land.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from board import data
from board.common import md_text, read_or_stop, store, wrote
from tracker.checklist import CHECKLIST
from tracker.estimates import BOUNDS, COMPLEXITY_TAX, FIELDS, STATUSES, EstimateError, Estimates, check_field
from tracker.ideas import add_idea, update_idea
from tracker.store import redact_uri

BLANK = "(blank idea)"
TEMPLATES = {t[0]: t for t in CHECKLIST}  # the standard checklist: title -> (title, category, ...)

s = store()
st.title("Ideas")
st.caption(
    f"Project **{md_text(s.project)}** · store `{redact_uri(s.uri)}` · ranked by expected gain per "
    f"effective hour: likelihood × impact ÷ (hours × (1 + {COMPLEXITY_TAX} × (complexity − 1)))"
)
calibrated = st.toggle(
    "Rank with the team's calibration",
    key="calibrated",
    help="Hours × the planning factor (actual ÷ estimated hours) and likelihoods recalibrated to the "
    "team's hit rate, both learned from decided ideas (Calibration page). Stored estimates do not change.",
)
table = read_or_stop("ideas", data.ideas_frame, s.project, s.uri, calibrated)
if calibrated:
    _, summary = read_or_stop("calibration", data.calibration, s.project, s.uri)
    factor = summary["planning_factor"] if summary["planning_factor"] == summary["planning_factor"] else 1.0
    w, base = summary["calibration"]["weight"], summary["calibration"]["base_rate"]
    st.caption(
        f"Calibrated from {summary['decided']} decided ideas: hours × {factor:.2f}, "
        f"likelihood → {w:.2f} × stated + {1 - w:.2f} × {base:.2f}"
    )
if "flash" in st.session_state:  # the outcome of the write that triggered this rerun
    st.success(st.session_state.pop("flash"))
    if st.session_state.pop("clear_add", False):
        for f in ("title", "category", "description", *FIELDS):
            st.session_state[f"add_{f}"] = ""
        st.session_state["template"] = BLANK

if table.empty:
    st.info(
        "No ideas yet. Add one below, or from a shell: `idealoop idea add --title ... --hours 1 "
        "--complexity 1 --impact 0.01 --likelihood 0.5`, or run `idealoop demo`."
    )
else:
    left, right = st.columns(2)
    statuses = sorted(table["status"].unique())
    chosen_status = left.multiselect("Status", statuses, default=statuses)
    categories = sorted(table["category"].unique())
    chosen_cat = right.multiselect("Category", categories, default=categories)
    shown = table[table["status"].isin(chosen_status) & table["category"].isin(chosen_cat)]
    st.dataframe(
        shown.drop(columns=["description"]),
        hide_index=True,
        width="stretch",
        column_config={
            "title": st.column_config.TextColumn(width="large"),
            "score": st.column_config.NumberColumn(format="%.4g", help="expected gain per effective hour"),
            "expected gain": st.column_config.NumberColumn(format="%.4g", help="likelihood × impact"),
            "effective hours": st.column_config.NumberColumn(format="%.3g", help="hours × complexity tax"),
            "likelihood": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
            "impact": st.column_config.NumberColumn(format="%.4g"),
            "hours": st.column_config.NumberColumn(format="%g"),
            "runs": st.column_config.NumberColumn(help="MLflow runs made for this idea"),
            "open": st.column_config.LinkColumn(display_text="open ↗", help="the idea's page"),
        },
    )
    st.caption(f"{len(shown)} of {len(table)} ideas · {int(table['runs'].sum())} linked runs")

    # -- why this rank -------------------------------------------------------------
    st.subheader("Why this rank")
    ids = list(table["id"])
    labels = {r.id: f"#{r.rank} · {r.title}" for r in table.itertuples()}
    picked = st.selectbox("Idea", ids, format_func=labels.get, key="picked")
    row = table[table["id"] == picked].iloc[0]
    factor = 1 + COMPLEXITY_TAX * (row["complexity"] - 1)
    lines = [
        f"- **expected gain** = likelihood {row['likelihood']:g} × impact {row['impact']:g} "
        f"= **{row['expected gain']:.4g}**",
        f"- **effective hours** = {row['hours']:g} h × complexity tax {factor:g} "
        f"(complexity {row['complexity']}) = **{row['effective hours']:.4g} h**",
        f"- **score** = {row['expected gain']:.4g} ÷ {row['effective hours']:.4g} = **{row['score']:.4g}** "
        f"→ rank **{row['rank']}** of {len(table)}",
    ]
    if row["rank"] > 1:
        above = table[table["rank"] == row["rank"] - 1].iloc[0]
        gain = above["expected gain"] / row["expected gain"] if row["expected gain"] else float("inf")
        cost = row["effective hours"] / above["effective hours"]
        lines.append(
            f"- below **{md_text(above['title'])}** (score {above['score']:.4g}): it expects "
            f"{gain:.2g}× the gain at {1 / cost:.2g}× the cost"
        )
    st.markdown("\n".join(lines))
    st.page_link(
        "pages/idea.py",
        label="Open its page: ladder, runs, curves",
        icon=":material/science:",
        query_params={"id": picked},
    )

# -- add -------------------------------------------------------------------------


def _apply_template() -> None:
    name = st.session_state["template"]
    if name == BLANK:
        return
    title, category, hours, cx, impact, p, desc = TEMPLATES[name]
    st.session_state.update(
        add_title=title,
        add_category=category,
        add_description=desc,
        add_hours=str(hours),
        add_complexity=str(cx),
        add_impact=str(impact),
        add_likelihood=str(p),
    )


with st.expander(":material/add: Add an idea", expanded=table.empty):
    st.selectbox(
        "Start from the standard checklist",
        [BLANK, *TEMPLATES],
        key="template",
        on_change=_apply_template,
        help="baseline, optimizer/hyper-parameters/initialization, evaluation, data for weak categories, "
        "domain-specific layers, bigger model, curriculum/extra supervision",
    )
    with st.form("add", clear_on_submit=False):
        title = st.text_input("Title", key="add_title")
        c1, c2 = st.columns(2)
        category = c1.text_input("Category", key="add_category")
        description = c2.text_input("Description", key="add_description")
        cols = st.columns(4)
        raw = {
            f: cols[i].text_input(f"{f} {BOUNDS[f].describe()}", key=f"add_{f}") for i, f in enumerate(FIELDS)
        }
        if st.form_submit_button("Add idea", type="primary"):
            try:
                est = Estimates.parse(**raw)
                new_id = add_idea(s, title, est, category=category, description=description, source="board")
            except EstimateError as exc:
                st.error(str(exc))
            else:
                wrote()
                st.session_state.update(flash=f"Added idea {new_id} (score {est.score:.4g}).", clear_add=True)
                st.rerun()

# -- edit ------------------------------------------------------------------------
if not table.empty:
    with st.expander(":material/edit: Edit the idea picked above"):
        row = table[table["id"] == picked].iloc[0]
        if st.session_state.get("edit_for") != picked:  # load the picked idea's values into the form
            st.session_state.update(
                edit_for=picked,
                edit_title=row["title"],
                edit_category=row["category"],
                edit_description=row["description"],
                edit_status=row["status"],
                edit_note="",
                edit_loaded={f: row[f] for f in ("title", "category", "description", "status", *FIELDS)},
                **{f"edit_{f}": f"{row[f]:g}" for f in FIELDS},
            )
        with st.form("edit"):
            e_title = st.text_input("Title", key="edit_title")
            c1, c2, c3 = st.columns(3)
            e_category = c1.text_input("Category", key="edit_category")
            e_status = c2.selectbox("Status", STATUSES, key="edit_status")
            e_note = c3.text_input("Why (kept with the revision)", key="edit_note")
            e_description = st.text_input("Description", key="edit_description")
            cols = st.columns(4)
            e_raw = {
                f: cols[i].text_input(f"{f} {BOUNDS[f].describe()}", key=f"edit_{f}")
                for i, f in enumerate(FIELDS)
            }
            if st.form_submit_button("Save revision", type="primary"):
                # Only what this editor changed since the form was loaded: a concurrent editor's
                # changes to other fields survive (comparing with the store now would undo them).
                loaded = st.session_state["edit_loaded"]
                edited = lambda name, value: value if value != loaded[name] else None  # noqa: E731
                try:
                    checked = {f: check_field(f, v) for f, v in e_raw.items()}
                    changes = {
                        f: v for f, v in checked.items() if pd.isna(loaded[f]) or v != float(loaded[f])
                    }
                    update_idea(
                        s,
                        picked,
                        changes=changes,
                        status=edited("status", e_status),
                        title=edited("title", e_title),
                        category=edited("category", e_category),
                        description=edited("description", e_description),
                        source="board",
                        note=e_note,
                    )
                except EstimateError as exc:
                    st.error(str(exc))
                else:
                    wrote()
                    st.session_state.pop("edit_for", None)  # reload the form from the store
                    st.session_state["flash"] = f"Saved a revision of {row['title']!r}."
                    st.rerun()
