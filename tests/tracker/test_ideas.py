"""Ideas stored as MLflow runs: ranking, revisions that append, concurrent edits."""

from __future__ import annotations

import threading

import pytest

from tracker.estimates import EstimateError
from tracker.ideas import IdeaNotFound, get_idea, list_ideas, resolve_id, update_idea
from tracker.store import Store


def test_list_ranks_by_score_and_ideas_are_finished_runs(store, make_idea):
    slow = make_idea("slow", hours=10)
    fast = make_idea("fast", hours=1)
    mid = make_idea("mid", hours=3)
    ideas = list_ideas(store)
    assert [i.id for i in ideas] == [fast, mid, slow]
    # An idea run is never left RUNNING.
    assert store.client.get_run(fast).info.status == "FINISHED"


def test_update_appends_a_revision_and_keeps_history(store, make_idea):
    idea_id = make_idea("lr", likelihood=0.4)
    update_idea(store, idea_id, changes={"likelihood": 0.7}, source="board", note="saw a paper")
    idea, revisions, _ = get_idea(store, idea_id)
    assert idea.likelihood == pytest.approx(0.7)
    assert [r.number for r in revisions] == [0, 1]
    assert revisions[1].source == "board" and revisions[1].changes == {"likelihood": 0.7}
    history = store.client.get_metric_history(idea_id, "estimate/likelihood")
    # The old value is still there: an update appends, it never overwrites.
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(0, 0.4), (1, 0.7)]


def test_bad_update_writes_nothing(store, make_idea):
    idea_id = make_idea("lr")
    with pytest.raises(EstimateError, match="likelihood=2"):
        update_idea(store, idea_id, changes={"hours": 3, "likelihood": 2})
    _, revisions, _ = get_idea(store, idea_id)
    assert len(revisions) == 1  # the valid `hours` change was not written either


def test_concurrent_updates_lose_nothing(store, make_idea):
    idea_id = make_idea("shared")
    errors = []

    def edit(value):
        try:
            update_idea(Store(project=store.project, uri=store.uri), idea_id, changes={"hours": value})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(h,)) for h in (2, 3, 4, 5, 6, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    _, revisions, _ = get_idea(store, idea_id)
    # Six editors raced for revision numbers; each got its own, none was lost.
    assert sorted(r.changes["hours"] for r in revisions[1:]) == [2, 3, 4, 5, 6, 7]
    assert len({r.number for r in revisions}) == 7


def test_resolve_accepts_unique_prefix_and_rejects_unknown(store, make_idea):
    idea_id = make_idea("x")
    assert resolve_id(store, idea_id[:8]) == idea_id
    with pytest.raises(IdeaNotFound, match="no idea"):
        resolve_id(store, "0123456789abcdef")


def test_non_idea_run_is_not_an_idea(store):
    run = store.client.create_run(store.experiment_id)
    with pytest.raises(IdeaNotFound, match="not an idea"):
        resolve_id(store, run.info.run_id)


def test_status_filter(store, make_idea):
    a = make_idea("a")
    make_idea("b")
    update_idea(store, a, status="in_progress")
    assert [i.id for i in list_ideas(store, status="in_progress")] == [a]
