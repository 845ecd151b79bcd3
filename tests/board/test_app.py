"""The board's ideas page, rendered by Streamlit's AppTest against a real SQLite store."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tracker.ideas import update_idea
from tracker.runs import stage_run
from tracker.store import Target

APP = str(Path(__file__).resolve().parents[2] / "board" / "app.py")


def test_ideas_page_shows_ranked_ideas_with_runs(store, make_idea):
    slow = make_idea("slow idea", hours=8)
    fast = make_idea("fast idea", hours=1)
    with stage_run(Target(store, slow), stage="overfit"):
        pass
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["title"]) == ["fast idea", "slow idea"]
    assert list(df["id"]) == [fast, slow]
    assert list(df["runs"]) == [0, 1]
    assert df.loc[df["id"] == fast, "score"].item() > df.loc[df["id"] == slow, "score"].item()


def test_status_filter_hides_rows(store, make_idea):
    a = make_idea("a")
    make_idea("b")
    update_idea(store, a, status="abandoned")
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.multiselect[0].set_value(["proposed"]).run()
    assert list(at.dataframe[0].value["title"]) == ["b"]


def test_empty_project_says_how_to_start(store):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "idealoop demo" in at.info[0].value


def test_unreachable_store_is_one_message(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    # The store check at the boundary says so at once (before: whatever the first read raised).
    assert at.error[0].value.startswith(
        "Cannot read the tracking store: no tracking server answers at http://127.0.0.1:9"
    )
