"""Ideas: the ranked list, why each idea ranks where it does, and forms to add and edit.

The ranking answers "what to do next?": decided ideas (succeeded, failed) leave it unless
the "Include decided ideas" toggle brings them back, and the calibrated ranking applies only
as much calibration as the decided ideas support (`tracker.calibration`), saying so with n
and intervals in its caption.

Values typed into the forms are checked by `tracker.estimates` — the very bounds the
CLI uses — so a bad value shows the same one-line error and nothing is written.
Edits go through `tracker.ideas.update_idea`, which appends a revision holding only
the fields that changed: two people editing the same idea at once both land.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from board import data, people_panel, project_panel
from board.common import md_text, read_or_stop, store, wrote
from tracker.calibration import describe
from tracker.checklist import CHECKLIST
from tracker.estimates import (
    BOUNDS,
    COMPLEXITY_TAX,
    DECIDED,
    FIELDS,
    STATUSES,
    EstimateError,
    Estimates,
    check_field,
)
from tracker.ideas import add_idea, update_idea
from tracker.learning import MIN_CALIBRATION_HISTORY
from tracker.redaction import redact_uri

BLANK = "(blank idea)"
TEMPLATES = {t[0]: t for t in CHECKLIST}  # the standard checklist: title -> (title, category, ...)
# What the table shows, in this order, sized to fit 1400 px with the sidebar open; the title is
# the link to the idea's page. The frame keeps id, expected gain, ... for "Why this rank".
COLUMNS = ["rank", "link", "score", "hours", "complexity", "impact", "likelihood", "status", "category",
           "runs"]  # fmt: skip

s = store()
st.title("Ideas")
st.caption(
    f"Project **{md_text(s.project)}** · store `{redact_uri(s.uri)}` · ranked by expected gain per "
    f"effective hour: likelihood × impact ÷ (hours × (1 + {COMPLEXITY_TAX} × (complexity − 1)))"
)
left, right = st.columns(2)
calibrated = left.toggle(
    "Rank with the team's calibration",
    key="calibrated",
    help="Hours × the planning factor (actual ÷ estimated hours) and likelihoods recalibrated to the "
    f"team's hit rate, both learned from decided ideas (Calibration page): none of it below "
    f"{MIN_CALIBRATION_HISTORY} decided ideas, then shrunk towards the stated estimates with weight "
    f"n ÷ (n + {MIN_CALIBRATION_HISTORY}). Stored estimates do not change.",
)
decided_too = right.toggle(
    "Include decided ideas",
    key="decided_too",
    help="Succeeded and failed ideas have their answer, so they leave the ranking of what to do next; "
    "this brings them back.",
)
weighted = st.toggle(
    "Weight people by their calibration",
    key="weighted",
    help="Each person's likelihood counts by their record (their log-odds slope on decided ideas, "
    f"from {MIN_CALIBRATION_HISTORY} of them on): over-confident voices less, careful ones more.",
)
table = read_or_stop("ideas", data.ideas_frame, s.project, s.uri, calibrated, weighted)
if calibrated:
    _, summary = read_or_stop("calibration", data.calibration, s.project, s.uri)
    lines = describe(summary)
    st.caption(f"Calibrated from {lines['decided']}:  \n{lines['planning_factor']}  \n{lines['likelihood']}")
# The ranking answers "what next?": decided ideas leave it (and its rank numbers) unless asked for.
ranked = table if decided_too else table[~table["status"].isin(DECIDED)]
ranked = ranked.assign(rank=range(1, len(ranked) + 1))
hidden = len(table) - len(ranked)
if "flash" in st.session_state:  # the outcome of the write that triggered this rerun
    st.success(st.session_state.pop("flash"))
    if st.session_state.pop("clear_add", False):
        for f in ("title", "category", "description", *FIELDS):
            st.session_state[f"add_{f}"] = ""
        st.session_state["template"] = BLANK
        st.session_state["add_open"] = False

if table.empty:
    st.info(
        "No ideas yet. Add one below, or from a shell: `idealoop idea add --title ... --hours 1 "
        "--complexity 1 --impact 0.01 --likelihood 0.5`, or run `idealoop demo`."
    )
elif ranked.empty:
    st.info(f"Every idea is decided ({hidden}): turn on **Include decided ideas** to see them.")
else:
    left, right = st.columns(2)
    statuses = sorted(ranked["status"].unique())
    chosen_status = left.multiselect("Status", statuses, default=statuses)
    categories = sorted(ranked["category"].unique())
    chosen_cat = right.multiselect("Category", categories, default=categories)
    shown = ranked[ranked["status"].isin(chosen_status) & ranked["category"].isin(chosen_cat)]
    st.dataframe(
        shown.drop(columns=["description"]),
        hide_index=True,
        width="stretch",
        column_order=COLUMNS,
        column_config={
            "rank": st.column_config.NumberColumn("#", width=40),
            "link": st.column_config.LinkColumn(
                "title", display_text=r"#(.*)$", width=300, help="opens the idea's page"
            ),
            "score": st.column_config.NumberColumn(
                format="%.4g", width=80, help="expected gain per effective hour"
            ),
            "hours": st.column_config.NumberColumn(format="%g", width=60),
            "complexity": st.column_config.NumberColumn("cx", width=40, help="complexity added, 1-5"),
            "impact": st.column_config.NumberColumn(format="%.4g", width=70),
            "likelihood": st.column_config.ProgressColumn(
                "p", min_value=0.0, max_value=1.0, format="%.2f", width=90, help="likelihood"
            ),
            "status": st.column_config.TextColumn(width=90),
            "category": st.column_config.TextColumn(width=100),
            "runs": st.column_config.NumberColumn(width=50, help="MLflow runs made for this idea"),
        },
    )
    decided_note = f" · {hidden} decided not ranked" if hidden else ""
    st.caption(f"{len(shown)} of {len(ranked)} ideas{decided_note} · {int(ranked['runs'].sum())} linked runs")
    people_panel.disagreements(ranked)

    # -- why this rank -------------------------------------------------------------
    st.subheader("Why this rank")
    ids = list(ranked["id"])
    labels = {r.id: f"#{r.rank} · {r.title}" for r in ranked.itertuples()}
    picked = st.selectbox("Idea", ids, format_func=labels.get, key="picked")
    row = ranked[ranked["id"] == picked].iloc[0]
    factor = 1 + COMPLEXITY_TAX * (row["complexity"] - 1)
    lines = [
        f"- **expected gain** = likelihood {row['likelihood']:g} × impact {row['impact']:g} "
        f"= **{row['expected gain']:.4g}**",
        f"- **effective hours** = {row['hours']:g} h × complexity tax {factor:g} "
        f"(complexity {row['complexity']}) = **{row['effective hours']:.4g} h**",
        f"- **score** = {row['expected gain']:.4g} ÷ {row['effective hours']:.4g} = **{row['score']:.4g}** "
        f"→ rank **{row['rank']}** of {len(ranked)}",
    ]
    if row["rank"] > 1:
        above = ranked[ranked["rank"] == row["rank"] - 1].iloc[0]
        gain = above["expected gain"] / row["expected gain"] if row["expected gain"] else float("inf")
        cost = row["effective hours"] / above["effective hours"]
        lines.append(
            f"- below **{md_text(above['title'])}** (score {above['score']:.4g}): it expects "
            f"{gain:.2g}× the gain at {1 / cost:.2g}× the cost"
        )
    st.markdown("\n".join(lines))
    st.page_link(
        "views/idea.py",
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


with st.expander(
    ":material/add: Add an idea", expanded=table.empty or st.session_state.get("add_open", False)
):
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
if not ranked.empty:
    with st.expander(":material/edit: Edit the idea picked above"):
        row = ranked[ranked["id"] == picked].iloc[0]
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

# -- the finish line: target, progress, weak classes (their buttons prefill the Add form above) --
project_panel.render(s, ranked)
