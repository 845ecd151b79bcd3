"""The Ideas page's ranking cannot be fooled: decided ideas leave it (a toggle brings them back),
and the calibrated ranking applies nothing below five decided ideas and a shrunk factor from there."""

from __future__ import annotations

import pytest

from tests.tracker.decided import decide


def titles(at) -> list[str]:
    return list(at.dataframe[0].value["title"])


def test_decided_ideas_leave_the_default_ranking_and_come_back_with_the_toggle(store, make_idea, page):
    won = make_idea("won", hours=0.5, likelihood=0.9)  # would rank first
    lost = make_idea("lost", hours=1, likelihood=0.6)
    make_idea("next", hours=2, likelihood=0.5)
    make_idea("later", hours=4, likelihood=0.5)
    decide(store, won, succeeded=True)
    decide(store, lost, succeeded=False)
    at = page("ideas")
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["title"]) == ["next", "later"] and list(df["rank"]) == [1, 2]
    assert any("2 decided not ranked" in c.value for c in at.caption)
    assert [o for o in at.selectbox(key="picked").options] == ["#1 · next", "#2 · later"]
    at.toggle(key="decided_too").set_value(True).run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["title"]) == ["won", "lost", "next", "later"] and list(df["rank"]) == [1, 2, 3, 4]
    at.selectbox(key="picked").set_value(won).run()
    at.toggle(key="decided_too").set_value(False).run()  # the picked idea leaves the ranking
    assert not at.exception and at.selectbox(key="picked").value != won


def test_every_idea_decided_says_how_to_see_them(store, make_idea, page):
    decide(store, make_idea("won"), succeeded=True)
    at = page("ideas")
    assert not at.exception and "Every idea is decided (1)" in at.info[0].value
    assert not at.dataframe


def test_calibration_below_five_decided_ideas_leaves_the_ranking_as_it_is(store, make_idea, page):
    # One idea logged 0.04 h for a 2 h estimate: a factor of 0.02 that must not divide every estimate.
    decide(store, make_idea("decided", hours=2), succeeded=True, actual_hours=0.04)
    make_idea("slow", hours=8, likelihood=0.5, impact=0.02)
    make_idea("fast", hours=1, likelihood=0.2, impact=0.01)
    at = page("ideas")
    plain = at.dataframe[0].value[["title", "hours", "likelihood", "score"]]
    at.toggle(key="calibrated").set_value(True).run()
    assert not at.exception
    calibrated = at.dataframe[0].value[["title", "hours", "likelihood", "score"]]
    assert calibrated.equals(plain)
    caption = "\n".join(c.value for c in at.caption)
    assert "Calibrated from 1 decided idea" in caption
    assert "planning factor 0.02 (n=1, 90% interval 0.00–∞) — not applied below 5 ideas" in caption
    assert "— not applied below 5 decided ideas" in caption


def test_calibration_from_five_decided_ideas_is_applied_shrunk(store, make_idea, page):
    for k in range(5):  # each took 3x its estimate
        decide(store, make_idea(f"done {k}", hours=2), succeeded=k == 0, actual_hours=6.0)
    make_idea("fast", hours=1, likelihood=0.2, impact=0.01)
    at = page("ideas")
    at.toggle(key="calibrated").set_value(True).run()
    assert not at.exception
    hours = at.dataframe[0].value.set_index("title")["hours"]
    assert hours["fast"] == pytest.approx(3**0.5)  # factor 3, weight 5 / (5 + 5)
    caption = "\n".join(c.value for c in at.caption)
    assert "planning factor 3.00 (n=5, 90% interval 3.00–3.00) — applied as 1.73 (weight 5/10" in caption
