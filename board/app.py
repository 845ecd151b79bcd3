"""The idea board's entry page: ideas ranked by score, with estimates and linked runs.

Run with `idealoop board` (binds 127.0.0.1). The page is thin: it reads through
`tracker/` and renders. The store comes from MLFLOW_TRACKING_URI and
IDEALOOP_PROJECT, as everywhere else in idealoop.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tracker.estimates import score_breakdown
from tracker.ideas import list_ideas
from tracker.store import Store

st.set_page_config(page_title="idealoop · ideas", page_icon="💡", layout="wide")


@st.cache_data(ttl=5, show_spinner=False)
def load_ideas(project: str, uri: str) -> pd.DataFrame:
    ideas = list_ideas(Store(project=project, uri=uri))
    rows = []
    for rank, i in enumerate(ideas, 1):
        b = score_breakdown(i.hours, i.complexity, i.impact, i.likelihood)
        rows.append(
            {
                "rank": rank,
                "title": i.title,
                "score": i.score,
                "expected gain": b["expected_gain"],
                "hours": i.hours,
                "complexity": i.complexity,
                "impact": i.impact,
                "likelihood": i.likelihood,
                "status": i.status,
                "category": i.category,
                "runs": len(i.run_ids),
                "run ids": ", ".join(i.run_ids),
                "id": i.id,
            }
        )
    return pd.DataFrame(rows)


store = Store()
st.title("💡 Ideas")
st.caption(
    f"Project **{store.project}** · store `{store.uri}` · ranked by expected gain per effective hour "
    "(likelihood × impact ÷ (hours × complexity tax))"
)

try:
    table = load_ideas(store.project, store.uri)
except Exception as exc:  # noqa: BLE001 - one clear message instead of a traceback
    st.error(f"Cannot read ideas from {store.uri}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    st.stop()

if table.empty:
    st.info(
        "No ideas yet. Add one with `idealoop idea add --title ... --hours 1 --complexity 1 "
        "--impact 0.01 --likelihood 0.5`, or run `idealoop demo`."
    )
    st.stop()

statuses = sorted(table["status"].unique())
chosen = st.multiselect("Status", statuses, default=statuses)
shown = table[table["status"].isin(chosen)]

st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    column_config={
        "score": st.column_config.NumberColumn(format="%.4g", help="expected gain per effective hour"),
        "expected gain": st.column_config.NumberColumn(format="%.4g", help="likelihood × impact"),
        "likelihood": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
        "impact": st.column_config.NumberColumn(format="%.4g"),
        "hours": st.column_config.NumberColumn(format="%g"),
        "runs": st.column_config.NumberColumn(help="MLflow runs made for this idea"),
    },
)
st.caption(f"{len(shown)} of {len(table)} ideas · {int(table['runs'].sum())} linked runs")
