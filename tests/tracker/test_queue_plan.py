"""The queue's decisions (tracker/queue_plan.py): order, estimates, what starts, what is skipped."""

from __future__ import annotations

import math

import pytest

from tracker.queue_plan import (
    DEFAULT_MINUTES,
    FALLBACK_MINUTES,
    START_MINUTES,
    Need,
    Planned,
    Running,
    estimate_minutes,
    order,
    plan,
    rank_value,
    sweep_rounds,
)

MIN = 60_000
CAP = {"CPU": 4.0, "GPU": 1.0}


def item(i, cpus=1.0, gpus=0.0, minutes=10.0, score=1.0, priority=None, created=0):
    return Planned(str(i), Need(cpus, gpus), minutes, priority, score, created)


def test_order_is_priority_then_score_per_gpu_hour_then_age():
    cheap = item("cheap", cpus=1, score=1.0)  # 1 CPU = 1/8 GPU
    gpu = item("gpu", gpus=1, score=4.0)  # 4x the score, 8x the cost
    better = item("better", cpus=1, score=2.0)
    old, new = item("old", score=1.0, created=1), item("new", score=1.0, created=2)
    forced = item("forced", score=0.0, priority=1)
    first = item("first", score=0.0, priority=9)
    got = [p.id for p in order([new, gpu, cheap, old, better, forced, first])]
    # priorities first (higher first) whatever the score; then gain per cluster cost; ties by age
    assert got == ["first", "forced", "better", "cheap", "old", "new", "gpu"]


def test_a_longer_item_of_the_same_idea_ranks_lower_and_a_nan_score_ranks_last():
    assert rank_value(item(1, minutes=10)) == pytest.approx(2 * rank_value(item(2, minutes=20)))
    assert rank_value(item(3, score=math.nan)) == 0.0


@pytest.mark.parametrize(
    ("given", "history", "what", "want"),
    [
        (12.0, [1.0, 2.0], "generalize", (12.0, "given")),  # the item's own estimate wins
        (None, [3.0, 1.0, 2.0], "generalize", (2.0 + START_MINUTES, "median of 3 runs")),
        (None, [5.0] * 3 + [100.0] * 20, "scale", (100.0 + START_MINUTES, "median of 10 runs")),  # newest 10
        (None, [], "sweep", (DEFAULT_MINUTES["sweep"], "default")),
        (None, [0.0], "overfit", (FALLBACK_MINUTES, "default")),  # a zero-length run says nothing
    ],
)
def test_estimate_comes_from_the_item_then_history_then_a_default(given, history, what, want):
    assert estimate_minutes(given, history, what) == want


def test_a_sweep_without_sweep_history_is_estimated_from_its_stage_runs():
    # 8 trials, 2 at a time: 4 rounds of trials as long as the stage's runs (median 2 min).
    rounds = sweep_rounds({"num_samples": 8, "max_concurrent": 2})
    got = estimate_minutes(None, [], "sweep", trials=[1.0, 2.0, 3.0], rounds=rounds)
    assert rounds == 4 and got == (8.0 + START_MINUTES, "4 rounds of trials, median of 3 runs")
    # The sweeps' own history wins; none of either: the default.
    assert estimate_minutes(None, [10.0], "sweep", trials=[1.0], rounds=4)[0] == 10.0 + START_MINUTES
    assert estimate_minutes(None, [], "sweep", trials=[], rounds=4) == (DEFAULT_MINUTES["sweep"], "default")
    assert sweep_rounds({"num_samples": 5, "max_concurrent": 2}) == 3 and sweep_rounds({}) == 4


def test_items_start_in_order_while_they_fit_and_never_beyond_capacity():
    queued = [item(1, cpus=2), item(2, cpus=1, gpus=0.5), item(3, cpus=1, gpus=0.5), item(4, cpus=1)]
    got = plan(0, 60 * MIN, queued, [], CAP)
    assert got.start == ["1", "2", "3"] and got.skip == {}  # 4 CPUs, 1 GPU: item 4 waits


def test_a_small_item_passes_a_blocked_big_one_only_if_it_delays_it_not():
    running = [Running("r", Need(3, 0), expected_end_ms=10 * MIN)]
    big = item("big", cpus=4, minutes=5)
    short = item("short", cpus=1, minutes=5)  # ends at 5 min, before the big one could start (10)
    long = item("long", cpus=1, minutes=30)  # would hold a CPU the big one needs at 10 min
    got = plan(0, 120 * MIN, [big, long, short], running, CAP)
    assert got.start == ["short"]
    # Beside the big one's reservation there is room: then a long small item may start too.
    roomy = {"CPU": 6.0, "GPU": 0.0}
    assert plan(0, 120 * MIN, [big, long], running, roomy).start == ["long"]


def test_items_that_cannot_finish_by_the_deadline_are_skipped_with_the_numbers():
    got = plan(0, 20 * MIN, [item("late", minutes=25), item("ok", minutes=15)], [], CAP)
    assert got.start == ["ok"]
    assert got.skip == {"late": "deadline: needs ~25 min, 20 min left"}
    # At the deadline nothing starts, everything left is skipped.
    assert plan(20 * MIN, 20 * MIN, [item("ok", minutes=1)], [], CAP).start == []


def test_an_item_bigger_than_the_cluster_is_skipped_not_left_waiting_forever():
    got = plan(0, 60 * MIN, [item("huge", gpus=2)], [], CAP)
    assert got.skip["huge"].startswith("too big: needs 1 CPUs 2 GPUs, the cluster has 4 CPUs 1 GPUs")


def test_the_gpu_budget_skips_what_would_overrun_it_and_waits_for_what_running_items_may_free():
    # 1 GPU-hour left: a 90-minute 1-GPU item would overrun it whatever happens: skipped.
    got = plan(0, 600 * MIN, [item("big", gpus=1, minutes=90)], [], CAP, budget_left_gpu_h=1.0)
    assert got.skip == {"big": "budget: needs ~1.5 GPU-hours, 1 left"}
    # A running item has 30 GPU-minutes promised: a 40-minute item waits (it may fit once that one
    # ends early), it is not skipped; CPU-only items cost no GPU budget.
    running = [Running("r", Need(0.5, 0.5), expected_end_ms=60 * MIN)]
    queued = [item("wait", gpus=0.5, cpus=0.5, minutes=80), item("cpu", cpus=1, minutes=600)]
    got = plan(0, 900 * MIN, queued, running, CAP, budget_left_gpu_h=1.0)
    assert got.start == ["cpu"] and got.skip == {}
    # Items started in one plan share the budget.
    two = [item("a", gpus=0.5, minutes=60), item("b", gpus=0.5, minutes=60)]
    got = plan(0, 600 * MIN, two, [], CAP, budget_left_gpu_h=0.6)
    assert got.start == ["a"]
