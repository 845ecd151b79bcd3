"""The Compare page in AppTest: per-metric scale, short distinct labels, x axes, baseline, final table."""

from __future__ import annotations

import json

import pytest

from tests.board.seed import seed_board, seed_sweep


@pytest.fixture
def sweep(store):
    seeded = seed_board(store)
    sweep_id, trials = seed_sweep(store, seeded.ideas["Tune learning rate"], n=4)
    return seeded, trials


def spec(at, i: int = 0) -> dict:
    return json.loads(at.get("vega_lite_chart")[i].proto.spec)


def y_scale(at) -> dict:
    return spec(at)["layer"][0]["encoding"]["y"]["scale"]


def test_scale_is_chosen_per_metric_and_the_toggle_never_carries_over(sweep, page):
    seeded, trials = sweep
    at = page("compare", runs=",".join(trials[:2]))
    assert not at.exception
    # a loss opens on a log axis
    assert at.selectbox(key="compare_key").value == "train/loss"
    assert at.toggle(key="compare_log:train/loss").value is True
    assert y_scale(at)["type"] == "log"
    # turned off for the loss ...
    at.toggle(key="compare_log:train/loss").set_value(False).run()
    assert "type" not in y_scale(at)
    # ... accuracy opens linear, zoomed to its data (no zero), not on the loss's setting
    at.selectbox(key="compare_key").set_value("val/accuracy").run()
    assert not at.exception
    assert [t.key for t in at.toggle if t.key.startswith("compare_log")] == ["compare_log:val/accuracy"]
    assert at.toggle(key="compare_log:val/accuracy").value is False
    scale = y_scale(at)
    assert scale["zero"] is False and "type" not in scale
    low, high = scale["domain"]
    assert 0.5 < low < 0.62 and 0.84 < high < 0.95  # the curves (0.6-0.8) and the baseline (0.85)
    # turned on for accuracy, then another loss: it opens log again, as its own default says
    at.toggle(key="compare_log:val/accuracy").set_value(True).run()
    at.selectbox(key="compare_key").set_value("val/loss").run()
    assert at.toggle(key="compare_log:val/loss").value is True and y_scale(at)["type"] == "log"


def test_runs_get_short_distinct_labels_distinct_hues_and_the_baseline(sweep, page):
    seeded, trials = sweep
    at = page("compare", runs=",".join(trials))
    at.selectbox(key="compare_key").set_value("val/accuracy").run()
    chart = spec(at)
    color = chart["layer"][0]["encoding"]["color"]
    labels = color["scale"]["domain"]
    assert color["scale"]["scheme"] == "tableau10"
    assert len(set(labels)) == 4 and all(len(label) <= 40 for label in labels)
    assert all(label.startswith("lr=") for label in labels), labels  # named by the differing config
    assert chart["layer"][1]["mark"]["strokeDash"] == [6, 4]  # the baseline's dashed rule, labelled:
    assert b"baseline 0.85" in at.get("vega_lite_chart")[0].proto.SerializeToString()


def test_x_by_epoch_and_time(sweep, page):
    seeded, trials = sweep
    at = page("compare", runs=f"{seeded.runs['overfit']},{trials[0]}")
    at.segmented_control(key="compare_x").set_value("epoch").run()
    assert not at.exception
    assert spec(at)["layer"][0]["encoding"]["x"]["title"] == "epoch"
    # the overfit run logs no epochs: named, not drawn
    assert any("log no `epoch`" in c.value and "overfit" in c.value for c in at.caption)
    at.segmented_control(key="compare_x").set_value("time").run()
    assert not at.exception
    assert spec(at)["layer"][0]["encoding"]["x"]["title"] == "seconds since the run started"


def test_final_table_is_one_row_per_run_with_headlines_and_config(sweep, page):
    seeded, trials = sweep
    a, b = seeded.runs["overfit"], seeded.trials[1]
    at = page("compare", runs=f"{a},{b},{trials[0]}")
    assert not at.exception
    final = at.dataframe[0].value
    assert len(final) == 3
    assert list(final["ended"]) == ["completed", "stopped_by_asha at iteration 2", "completed"]
    assert final.loc[0, "overfit_one/final_loss"] == pytest.approx(0.004)
    assert {"accuracy", "best accuracy", "val/loss", "train/loss", "lr", "width"} <= set(final.columns)
    assert not [c for c in final.columns if c.startswith(("hist/", "val/f1/"))]
    assert final.loc[1, "lr"] == "0.03" and final.loc[1, "best accuracy"] == pytest.approx(0.62)
    assert any(c.value.startswith("Same in all: ") and "seed=0" in c.value for c in at.caption)
