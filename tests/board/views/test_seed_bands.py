"""A run that trained several seeds packed shows them as a band on the Idea page's Curves tab,
and each seed's histogram snapshots on its Histograms tab.

One real packed run (3 seeds, 2 short epochs) under an idea, rendered by AppTest; what the
charts are given is read back from the page: per epoch, the mean line with a mean ± std
area behind it; per batch, an area per series spanning the seeds; `best/<target>` with its
std beside it; the heatmaps of the seed picked.
"""

from __future__ import annotations

import statistics
from dataclasses import replace

import pandas as pd
import pytest

from board import idea_artifacts
from board.seed_bands import spread_band
from runners.stages.config import GeneralizeConfig
from runners.stages.generalize import run_generalize
from runners.tasks.base import load_task
from tests.board.views.test_idea_curves import charts
from tracker import artifacts
from tracker.runs import stage_run
from tracker.seed_runs import find_seed_runs
from tracker.store import Target


def test_spread_band_spans_the_lowest_to_the_highest_curve_per_bucket():
    a = pd.DataFrame({"step": [0, 1, 2, 3], "value": [1.0, 0.9, 0.8, 0.7]})
    b = pd.DataFrame({"step": [0, 2, 3], "value": [1.2, 0.5, 0.9]})  # downsampled: step 1 missing
    band = spread_band([a, b], buckets=4)
    assert list(band["lo"]) == [1.0, 0.9, 0.5, 0.7] and list(band["hi"]) == [1.2, 0.9, 0.8, 0.9]
    assert spread_band([a]).empty  # one seed: no band


@pytest.fixture
def packed(store, make_idea):
    idea = make_idea("three seeds")
    task = load_task("digits")
    task = replace(task, train=task.train.take(slice(0, 256)))
    cfg = GeneralizeConfig(epochs=2, hist_every=0, n_samples=0, seeds=3, check_every=2)
    with stage_run(Target(store, idea), stage="generalize", task="digits") as run:
        run_generalize(cfg, run, task=task, progress=False)
    return idea, run.run_id


def test_curves_show_the_seeds_as_a_band(store, page, packed):
    idea, run_id = packed
    at = page("idea", id=idea, run=run_id)
    assert not at.exception
    drawn = {c.title: c for c in charts(at)}
    # Per epoch: the area is mean ± std, the std being the seeds' own spread at that epoch.
    acc = drawn["val/accuracy"]
    (_, line), *_ = acc.layers("line")
    (_, area), *_ = acc.layers("area")
    seeds = [r.info.run_id for r in find_seed_runs(store, run_id).values()]
    last = [store.client.get_run(r).data.metrics["val/accuracy"] for r in seeds]
    spread = statistics.stdev(last)
    assert area["hi"].iloc[-1] - area["lo"].iloc[-1] == pytest.approx(2 * spread, rel=1e-6)
    assert (area["lo"] < line["value"].values).all() and (line["value"].values < area["hi"]).all()
    assert "mean of 3 seeds" in acc.spec["title"]["subtitle"]
    # Per batch: one area per series (train, val), as wide as the seeds disagree somewhere.
    batch = drawn[""]
    areas = batch.layers("area")
    assert len(areas) == 2
    assert all((a["hi"] >= a["lo"]).all() and (a["hi"] - a["lo"]).max() > 0 for _, a in areas)
    best = next(m for m in at.metric if m.label == "best/accuracy")
    assert "± " in best.proto.delta and "std across seeds" in best.proto.delta


def test_histograms_tab_shows_the_picked_seeds_snapshots(store, page, make_idea):
    idea = make_idea("two seeds, histograms")
    task = load_task("digits")
    task = replace(task, train=task.train.take(slice(0, 256)))
    cfg = GeneralizeConfig(epochs=1, hist_every=2, hist_budget=0, n_samples=0, seed=7, seeds=2)
    with stage_run(Target(store, idea), stage="generalize", task="digits") as run:
        run_generalize(cfg, run, task=task, progress=False)
    seeds = {s: r.info.run_id for s, r in find_seed_runs(store, run.run_id).items()}

    def subtitles(at) -> list[str]:
        return [c.spec["title"]["subtitle"] for c in charts(at)]

    def expected(run_id: str) -> str:  # the first act heatmap's last stats, from the seed's own file
        last = artifacts.load_histograms(store, run_id)[-1]
        name = next(n for n in last["tensors"] if n.startswith("acts/"))
        return idea_artifacts._last_stats([last], name)

    at = page("idea", id=idea, run=run.run_id, tab="Histograms")
    assert not at.exception
    pick = at.selectbox(key=f"hist_seed_{run.run_id}")
    assert pick.options == ["seed 7", "seed 8"] and pick.value == 7
    assert subtitles(at)[0] == expected(seeds[7])
    pick.set_value(8).run()
    # A picker that kept reading the run's own files (seed 7's) would draw the same numbers.
    assert subtitles(at)[0] == expected(seeds[8]) != expected(seeds[7])
