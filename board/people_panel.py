"""The Idea page's people: each person's estimates, the spread and the pool; the comment thread.

Who is speaking is the sidebar's "You are" (`me`): the board's default is the same
`tracker.records.author` the CLI uses, changeable per browser tab. A person's estimate is
a revision by them (`tracker.ideas.update_idea(author=...)`): it replaces their own earlier
numbers, nobody else's. "Hide the others' numbers until I've entered mine" hides every
number that could anchor them — the other people's, the spread, the pool and the score —
until they have given their own. Comments are shown as typed, inert: every Markdown and
HTML character escaped, line breaks kept.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from board.common import md_text, wrote
from tracker.comments import add_comment
from tracker.estimates import BOUNDS, FIELDS, EstimateError, check_field
from tracker.ideas import update_idea
from tracker.pooling import DISAGREEMENT_FLAG, spreads
from tracker.store import Store

HIDE_KEY = "hide_others"  # session key of the "hide until I've entered mine" switch


def me() -> str:
    """The person this browser tab speaks for (the sidebar's "You are", board/app.py)."""
    return st.session_state.get("me", "").strip()


def hidden(idea) -> bool:
    """Are the others' numbers hidden from me on this idea (switch on, no estimate of mine yet)?"""
    return bool(st.session_state.get(HIDE_KEY, False)) and me() not in idea.people


def inert(text: str) -> str:
    """A comment for `st.markdown`: shown as typed (no links, HTML or formatting), lines kept."""
    return "  \n".join(md_text(line) for line in text.splitlines())


def render(s: Store, idea, comments: list) -> None:
    st.subheader("People")
    left, right = st.columns([3, 2], gap="large")
    with left:
        _estimates(s, idea)
    with right:
        _comments(s, idea, comments)


def _estimates(s: Store, idea) -> None:
    st.toggle(
        "Hide the others' numbers until I've entered mine",
        key=HIDE_KEY,
        help="Anchoring is the known failure of group estimates: give yours before you see theirs.",
    )
    if hidden(idea):
        st.info(f"Give your estimate first, **{md_text(me() or '?')}**: the other people's numbers, "
                "the spread and the pooled estimate are hidden until you do.")  # fmt: skip
    elif len(idea.people) < 2:
        who = ", ".join(md_text(p) for p in idea.people) or "nobody"
        st.caption(f"Estimated by {who} so far: add yours below, the pool then combines them.")
    else:
        by_field = {f: {p: v[f] for p, v in idea.people.items() if f in v} for f in FIELDS}
        rows = [
            {"person": p, **{f: f"{v[f]:g}" if f in v else "" for f in FIELDS}}
            for p, v in idea.people.items()
        ]
        spread = spreads(by_field)
        rows.append({"person": "spread", **{f: spread[f].describe(f) if f in spread else "" for f in FIELDS}})
        rows.append({"person": "pooled", **{f: f"{getattr(idea, f):.3g}" for f in FIELDS}})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption(
            f"Their own scores differ **{idea.disagreement:.2g}×**. Pooled: likelihood by mean log-odds, "
            "hours and impact by geometric mean, complexity by upper median."
        )
    mine = idea.people.get(me(), {})
    with st.form(f"estimate_{idea.id}"):
        st.markdown(f"**Your estimate** ({md_text(me() or 'set “You are” in the sidebar')})")
        cols = st.columns(4)
        raw = {f: cols[i].text_input(f"{f} {BOUNDS[f].describe()}", value=f"{mine[f]:g}" if f in mine else "",
                                     key=f"mine_{f}_{idea.id}") for i, f in enumerate(FIELDS)}  # fmt: skip
        note = st.text_input("Why (kept with your estimate)", key=f"mine_note_{idea.id}")
        if st.form_submit_button("Save my estimate", type="primary"):
            try:
                if not me():
                    raise EstimateError("set “You are” in the sidebar first: estimates are per person")
                given = {f: check_field(f, v) for f, v in raw.items() if v.strip()}
                if not given:
                    raise EstimateError("give at least one of " + ", ".join(FIELDS))
                update_idea(s, idea.id, changes=given, source="board", note=note, author=me())
            except EstimateError as exc:
                st.error(str(exc))
            else:
                wrote()
                st.rerun(scope="app")


def _comments(s: Store, idea, comments: list) -> None:
    st.markdown(f"**Comments** ({len(comments)})")
    for c in comments:
        when = dt.datetime.fromtimestamp(c.time_ms / 1000).strftime("%Y-%m-%d %H:%M")
        with st.container(border=True):
            st.caption(f"{md_text(c.author)} · {when}")
            st.markdown(inert(c.text))
    with st.form(f"comment_{idea.id}", clear_on_submit=True):
        text = st.text_area("Add a comment", key=f"comment_text_{idea.id}", height=80)
        if st.form_submit_button("Post"):
            try:
                add_comment(s, idea.id, text, author=me() or None)
            except EstimateError as exc:
                st.error(str(exc))
            else:
                wrote()
                st.rerun(scope="app")


def disagreements(ranked: pd.DataFrame, top: int = 3) -> None:
    """The Ideas page's flag: the ideas whose people's own scores are furthest apart."""
    split = ranked[ranked["disagreement"] >= DISAGREEMENT_FLAG].nlargest(top, "disagreement")
    if split.empty:
        return
    lines = [
        f"- **{md_text(r.title)}**: {r.people} people, their own scores {r.disagreement:.2g}× apart"
        for r in split.itertuples()
    ]
    st.warning(
        "**The team disagrees most on** (talk before spending a week on it; the Idea page shows "
        "who said what):\n" + "\n".join(lines),
        icon=":material/forum:",
    )
