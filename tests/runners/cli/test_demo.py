"""`idealoop demo`: the checklist ideas, the ladder for two of them, no duplicates on a rerun."""

from __future__ import annotations

from runners.cli.demo import BASELINE_IDEA, CHECKLIST, DEMO_IDEA, run_demo
from tracker.ideas import list_ideas


def test_demo_adds_checklist_and_climbs_the_ladder(store, capsys):
    assert run_demo(store, progress=False) == 0
    ideas = list_ideas(store)
    assert sorted(i.title for i in ideas) == sorted(t[0] for t in CHECKLIST)
    (demo,) = [i for i in ideas if i.title == DEMO_IDEA]
    assert len(demo.run_ids) == 3  # stage_check (stage 0), stage_overfit and stage_generalize
    stages = {store.client.get_run(r).data.tags["idealoop.stage"] for r in demo.run_ids}
    assert stages == {"check", "overfit", "generalize"}
    (base,) = [i for i in ideas if i.title == BASELINE_IDEA]
    assert len(base.run_ids) == 1
    assert "idealoop board" in capsys.readouterr().err
    run_demo(store, progress=False)
    assert len(list_ideas(store)) == len(CHECKLIST)  # matched by title, not added twice
