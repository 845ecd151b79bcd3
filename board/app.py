"""The idea board: a Streamlit multipage app over one idealoop project.

Run with `idealoop board` (binds 127.0.0.1 unless told otherwise). This entry
script only declares the pages; each page is a short script in `board/views/` that
reads and writes through `tracker/` and renders. The store is `board.common.store()`:
MLFLOW_TRACKING_URI and IDEALOOP_PROJECT, which `idealoop board` sets to its resolved store.

The Ideas page is served at `/` and at `/ideas`. Streamlit (1.67) serves the default page
only at the root: its `url_path` is reserved but does not route, so `/ideas` said "Page not
found". A second, hidden page runs the same script under `ideas`; links to
`views/ideas.py` resolve to the first page registered with it, the visible one at `/`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

# `streamlit run board/app.py` puts board/ on sys.path, not the repo root the pages import from.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tracker.records import author  # noqa: E402 - after the path fix above

PAGES = Path(__file__).resolve().parent / "views"
IDEAS = PAGES / "ideas.py"

st.set_page_config(page_title="idealoop", page_icon=":material/lightbulb:", layout="wide")
# Who this browser tab speaks for on every page (estimates, comments, the Calibration page's
# default person): `?me=` once, else what the CLI would record (tracker.records.author).
if "me" not in st.session_state:
    st.session_state["me"] = st.query_params.get("me") or author(
        None, os.environ.get("MLFLOW_TRACKING_URI", "")
    )
st.sidebar.text_input("You are", key="me", help="your name on the estimates and comments you give here")
navigation = st.navigation(
    [
        # served at `/`; its url_path only has to be unique (see the module docstring)
        st.Page(IDEAS, title="Ideas", icon=":material/lightbulb:", url_path="ranking", default=True),
        st.Page(PAGES / "idea.py", title="Idea", icon=":material/science:", url_path="idea"),
        st.Page(PAGES / "launch.py", title="Launch", icon=":material/rocket_launch:", url_path="launch"),
        st.Page(PAGES / "compare.py", title="Compare", icon=":material/monitoring:", url_path="compare"),
        st.Page(PAGES / "queue.py", title="Queue", icon=":material/schedule:", url_path="queue"),
        st.Page(
            PAGES / "calibration.py", title="Calibration", icon=":material/target:", url_path="calibration"
        ),
        st.Page(IDEAS, title="Ideas", icon=":material/lightbulb:", url_path="ideas", visibility="hidden"),
    ]
)
navigation.run()
