"""The Idea page's runs table (config beside results) and sweep view, in AppTest on a seeded store."""

from __future__ import annotations

import json

import pytest

from board import sweep_view
from tests.board.seed import seed_board, seed_sweep
from tracker import queries


@pytest.fixture
def swept(store):
    seeded = seed_board(store)
    idea = seeded.ideas["Tune learning rate"]
    sweep_id, trials = seed_sweep(store, idea, n=6)
    return seeded, idea, sweep_id, trials


def runs_table(at):
    (table,) = [d.value for d in at.dataframe if "why it ended" in d.value.columns]
    return table


def test_runs_table_and_sweep_view_show_config_beside_scores_and_the_best_trials(swept, store, page):
    seeded, idea, sweep_id, trials = swept
    at = page("idea", id=idea, tab="Overview")
    assert not at.exception
    table = runs_table(at).set_index("id")
    # the keys that differ between the idea's runs, lr first; keys all runs share are one caption
    config_columns = [c for c in table.columns if c in ("lr", "width", "depth", "batch_size", "seed")]
    assert config_columns[:4] == ["lr", "width", "depth", "batch_size"]
    # ... right after the score, so at 1400 px they are in view; the long texts follow them
    columns = list(table.columns)
    assert columns.index("lr") == columns.index("best accuracy") + 1
    assert (
        max(columns.index(c) for c in config_columns)
        < columns.index("best trial")
        < columns.index("why it ended")
    )
    assert "seed" not in table.columns
    assert any(c.value.startswith("Same in every run:") and "seed=0" in c.value for c in at.caption)
    assert table.loc[seeded.trials[1], "lr"] == "0.03" and table.loc[seeded.trials[2], "lr"] == "3e-3"
    assert table.loc[seeded.trials[2], "best accuracy"] == "0.84"
    # each sweep names its best trial; that trial, and no other run, carries the star
    assert table.loc[seeded.runs["sweep"], "best trial"] == "trial_2 (accuracy 0.84)"
    sweep_row = queries.get_run_row(store, sweep_id)
    best = queries.get_run_row(store, sweep_row.best_trial)
    assert table.loc[sweep_id, "best trial"].startswith(best.name)
    assert sorted(table.index[table["★"] == "★"]) == sorted([seeded.trials[2], best.id])

    # -- the sweep view, below the table (same page: seeding and rendering it twice costs seconds)
    headers = [h.value for h in at.subheader]
    assert "Sweep tune_generalize" in headers and "Sweep sweep-generalize" in headers
    named = [m.value for m in at.markdown if m.value.startswith("**Best trial:**")]
    assert len(named) == 2 and "trial\\_2" in named[0] and f"`{best.id[:8]}`" in named[1]
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    titles = [s.get("title", "") for s in specs]
    # seed_board's sweep samples lr and width; the seeded one lr, width, depth and batch_size
    for key in ("lr", "width", "depth", "batch_size"):
        assert f"accuracy by {key}" in titles
    assert titles.count("parallel coordinates") == 2
    lr_chart = specs[titles.index("accuracy by lr")]
    assert lr_chart["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"  # sampled log-uniformly
    width_chart = specs[titles.index("accuracy by width")]
    assert width_chart["layer"][0]["encoding"]["x"]["type"] == "nominal"  # a choice: a column per value


def test_trials_frame_marks_the_best_and_keeps_only_varying_sampled_keys(swept, store):
    seeded, idea, sweep_id, trials = swept
    rows = queries.idea_runs(store, idea)
    sweep = next(r for r in rows if r.id == seeded.runs["sweep"])
    assert sweep_view.sampled_space(sweep) == {"lr": "loguniform", "width": "choice"}  # hist_every is fixed
    frame, varying = sweep_view.trials_frame(sweep, rows, "accuracy", True)
    assert varying == ["lr", "width"]
    assert list(frame["name"]) == ["trial_0", "trial_1", "trial_2"]
    assert list(frame["best"]) == [False, False, True]
    assert list(frame["score"]) == pytest.approx([0.75, 0.62, 0.84])


def test_an_idea_without_sweeps_has_no_sweep_view(store, page, make_idea):
    seeded = seed_board(store)
    at = page("idea", id=seeded.ideas["Wider model"])
    assert not at.exception
    assert not [h for h in at.subheader if h.value.startswith("Sweep ")]
