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


def _counts(store, idea_id):
    run = store.client.get_run(idea_id)
    history = store.client.get_metric_history(idea_id, "estimate/likelihood")
    return dict(run.data.params), dict(run.data.tags), len(history)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"note": "x" * 6_500}, "note is 6,500 characters long; at most 2,000 allowed"),
        ({"title": "t" * 201}, "title is 201 characters long; at most 200 allowed"),
        ({"category": "c" * 101}, "category is 101 characters long"),
        ({"description": "d" * 8_001}, "description is 8,001 characters long; at most 8,000"),
        ({"title": "   "}, "title is empty"),
    ],
)
def test_overlong_or_empty_text_on_update_is_refused_before_anything_is_written(
    store, make_idea, kwargs, message
):
    idea_id = make_idea("lr", likelihood=0.4)
    before = _counts(store, idea_id)
    with pytest.raises(EstimateError, match=message):
        update_idea(store, idea_id, changes={"likelihood": 0.45}, **kwargs)
    # A broken implementation writes the estimate (or a cut record) and only then complains.
    assert _counts(store, idea_id) == before
    idea, revisions, _ = get_idea(store, idea_id)
    assert len(revisions) == 1 and idea.likelihood == pytest.approx(0.4)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"category": "c" * 101}, "category is 101"), ({"description": "d" * 8_001}, "description is 8,001")],
)
def test_add_bounds_texts_like_update(store, make_idea, kwargs, message):
    with pytest.raises(EstimateError, match=message):
        make_idea("t" * 10, **kwargs)
    with pytest.raises(EstimateError, match="title is 201"):
        make_idea("t" * 201)
    assert list_ideas(store) == []


def test_a_long_non_ascii_note_at_the_limit_round_trips_whole(store, make_idea):
    idea_id = make_idea("lr")
    note = "改" * 2_000  # as \\uXXXX escapes this would be 12,000 characters and be cut by MLflow
    update_idea(store, idea_id, changes={"likelihood": 0.6}, note=note)
    _, revisions, _ = get_idea(store, idea_id)
    assert revisions[-1].note == note and not revisions[-1].damaged


def test_a_damaged_revision_record_leaves_the_idea_readable(store, make_idea):
    idea_id = make_idea("lr", likelihood=0.4)
    update_idea(store, idea_id, changes={"likelihood": 0.7})
    # What an older idealoop left behind: a record MLflow cut mid-JSON.
    store.client.log_param(idea_id, "revision.0002", '{"time": 1, "note": "xxxxx')
    idea, revisions, _ = get_idea(store, idea_id)
    assert [r.damaged for r in revisions] == [False, False, True]
    assert "damaged revision record" in revisions[2].note
    assert idea.likelihood == pytest.approx(0.7)  # estimates come from the metric history
    update_idea(store, idea_id, changes={"likelihood": 0.8})  # and it can still be revised
    assert [r.number for r in get_idea(store, idea_id)[1]] == [0, 1, 2, 3]
