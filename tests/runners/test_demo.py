"""`idealoop demo`: the checklist ideas, one overfit run, and no duplicates on a second run."""

from __future__ import annotations

from runners.demo import CHECKLIST, DEMO_IDEA, run_demo
from tracker.ideas import list_ideas


def test_demo_adds_checklist_and_runs_overfit_once_per_call(store, capsys):
    assert run_demo(store, progress=False) == 0
    ideas = list_ideas(store)
    assert sorted(i.title for i in ideas) == sorted(t[0] for t in CHECKLIST)
    (demo,) = [i for i in ideas if i.title == DEMO_IDEA]
    assert len(demo.run_ids) == 1
    assert "idealoop board" in capsys.readouterr().err
    run_demo(store, progress=False)
    assert len(list_ideas(store)) == len(CHECKLIST)  # matched by title, not added twice
