"""The board with three people: their estimates, spread and pool on the Idea page, hiding until
mine, an estimate and a comment from the page, the disagreement flag, one person's calibration."""

from __future__ import annotations

import pytest
import streamlit as st

from tests.tracker.decided import decide
from tracker.comments import add_comment
from tracker.estimates import Estimates
from tracker.ideas import add_idea, get_idea, update_idea


@pytest.fixture
def three(store):
    est = dict(hours=2, complexity=1, impact=0.01)
    idea = add_idea(store, "split", Estimates.parse(**est, likelihood=0.2), author="alice")
    update_idea(store, idea, changes={"likelihood": 0.8, "hours": 8}, author="bob")
    update_idea(store, idea, changes={"likelihood": 0.5}, author="carol")
    add_comment(store, idea, "**bold** <b>x</b>", author="bob")
    for i, ok in enumerate([True, False]):  # alice's record, for the Calibration page
        done = add_idea(store, f"done {i}", Estimates.parse(**est, likelihood=0.7), author="alice")
        decide(store, done, succeeded=ok)
    return idea


def test_idea_page_shows_each_person_the_spread_and_the_pool_unless_hidden(store, three, page):
    at = page("idea", id=three, tab="Overview", me="alice")
    assert not at.exception
    table = at.dataframe[1].value  # [0] is the revision history
    assert list(table["person"]) == ["alice", "bob", "carol", "spread", "pooled"]
    assert table.set_index("person").loc["pooled", "hours"] == "4"  # geometric mean of 2 and 8
    assert table.set_index("person").loc["pooled", "likelihood"] == "0.5"
    assert table.set_index("person").loc["spread", "hours"] == "2–8 (4× apart)"
    shown = "\n".join(m.value for m in at.markdown)
    assert r"\*\*bold\*\* \<b\>x\</b\>" in shown  # the comment is inert: no bold, no HTML
    # dave has not estimated: with hiding on, no number of the others', the pool or the score
    at = page("idea", id=three, tab="Overview", me="dave")
    at.toggle(key="hide_others").set_value(True).run()
    assert not [m for m in at.metric if m.label == "score"] and not at.dataframe  # no revisions, no table
    assert "Give your estimate first" in at.info[0].value
    at.text_input(key=f"mine_likelihood_{three}").input("0.6")
    at.button[0].click().run()  # "Save my estimate"
    assert not at.exception
    idea, revisions, _ = get_idea(store, three)
    assert revisions[-1].author == "dave" and idea.people["dave"] == {"likelihood": 0.6}
    assert [m.label for m in at.metric][:1] == ["score"]  # his own given, the numbers are back


def test_ideas_page_flags_disagreement_and_calibration_shows_one_person(store, three, page):
    at = page("ideas")
    assert not at.exception
    # alice's own score 0.2·0.01/2 = 0.001, bob's 0.8·0.01/8 = 0.001, carol's 0.5·0.01/4: 1.25×
    assert not at.warning  # below the 3× flag
    update_idea(store, three, changes={"likelihood": 0.05}, author="erin")  # 0.05·0.01/4, carol's 0.5·0.01/4
    st.cache_data.clear()  # as the board does after its own writes
    at = page("ideas")
    assert "**split**: 4 people, their own scores 10× apart" in at.warning[0].value
    at = page("calibration", person="alice")
    assert not at.exception
    assert [m.label for m in at.metric] == ["Brier score", "reliability", "resolution", "planning factor",
                                            "impact ratio"]  # fmt: skip
    assert at.metric[0].value == "0.290"  # (0.3² + 0.7²) / 2
