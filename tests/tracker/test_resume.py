"""Resuming a run: what may be resumed, and a resumed run's writer storing no step twice."""

from __future__ import annotations

import pytest

from tracker.resume import SkipStored, check_resumable, stored_steps
from tracker.runs import stage_run
from tracker.store import TAG_END_REASON, TAG_ERROR, TAG_FLAGS, StoreError, Target
from tracker.telemetry import NullWriter


class _Record(NullWriter):
    def __init__(self) -> None:
        self.points: list[tuple[str, int]] = []

    def log(self, key, value, step, timestamp_ms=None):
        self.points.append((key, step))

    def log_series(self, key, values, first_step):
        self.points += [(key, first_step + i) for i in range(len(values))]

    def log_dict(self, values, step):
        self.points += [(k, step) for k in values]


def test_skip_stored_drops_exactly_the_steps_each_key_holds():
    inner = _Record()
    writer = SkipStored(inner, {"train/loss": 12, "epoch": 10, "val/loss": 0})
    writer.log_series("train/loss", [1.0] * 10, 8)  # steps 8..17: 8..12 are stored
    writer.log_series("train/loss", [1.0] * 3, 0)  # all stored
    writer.log_dict({"epoch": 1, "val/loss": 0.5}, 10)  # epoch holds 10, val/loss only 0
    writer.log("best/accuracy", 0.9, 10)  # a key the run does not hold yet
    writer.log("epoch", 2, 20)
    assert inner.points == [
        *(("train/loss", s) for s in range(13, 18)),
        ("val/loss", 10),
        ("best/accuracy", 10),
        ("epoch", 20),
    ]
    assert writer.written == 0  # anything else reaches the run's own writer


def test_a_resumed_stage_run_continues_without_storing_a_step_twice(store, make_idea, doubled):
    idea = make_idea()
    with pytest.raises(KeyboardInterrupt):
        with stage_run(Target(store, idea), stage="generalize") as run:
            run.log_params({"lr": 0.1, "device_resolved": "cuda"})
            run.flag("slow_batch", "batch at step 3 took 2 s")
            run.writer.log_series("train/loss", [3.0, 2.0, 1.0], 0)
            raise KeyboardInterrupt
    first = store.client.get_run(run.run_id)
    assert (first.info.status, first.data.tags[TAG_END_REASON]) == ("KILLED", "killed")
    assert stored_steps(first) == {"train/loss": 2}
    with stage_run(Target(store, idea), stage="generalize", run_id=run.run_id) as again:
        assert again.run_id == run.run_id and again.resumed and again.last_stored("train/loss") == 2
        # Params are immutable: logging them again (device_resolved differs now) must not fail the run.
        again.log_params({"lr": 0.1, "device_resolved": "cpu", "new": 1})
        again.writer.log_series("train/loss", [3.0, 2.0, 1.0, 0.5, 0.25], 0)  # replayed from the start
        again.flag("dead_activations", "layer 1: 95% zero")
    got = store.client.get_run(run.run_id)
    assert got.info.status == "FINISHED" and got.data.tags[TAG_END_REASON] == "completed"
    assert TAG_ERROR not in got.data.tags
    assert got.data.params["device_resolved"] == "cuda" and got.data.params["new"] == "1"
    assert got.data.tags[TAG_FLAGS] == "slow_batch,dead_activations"  # the first attempt's flag is kept
    steps = [(m.step, m.value) for m in store.client.get_metric_history(run.run_id, "train/loss")]
    assert sorted(steps) == [(0, 3.0), (1, 2.0), (2, 1.0), (3, 0.5), (4, 0.25)]
    assert doubled(run.run_id) == {}


def _ended(store, make_idea, stage="generalize", status="KILLED", kind=None):
    extra = {"idealoop.kind": kind} if kind else None
    with stage_run(Target(store, make_idea()), stage=stage, extra_tags=extra) as run:
        pass
    store.client.set_terminated(run.run_id, status)
    return run.run_id


@pytest.mark.parametrize(
    "status, stage, kind, force, says",
    [
        ("FINISHED", "generalize", None, False, "ended FINISHED; only KILLED or FAILED runs can be resumed"),
        ("RUNNING", "generalize", None, False, "is RUNNING: another process may still be writing it"),
        ("KILLED", "overfit", None, False, "ran stage 'overfit', not 'generalize'"),
        ("KILLED", "generalize", "trial", False, "trials are resumed with `idealoop tune --resume SWEEP`"),
    ],
)
def test_only_a_killed_or_failed_run_of_the_stage_can_be_resumed(
    store, make_idea, status, stage, kind, force, says
):
    run_id = _ended(store, make_idea, stage=stage, status=status, kind=kind)
    with pytest.raises(StoreError, match=says):
        check_resumable(store, run_id, "generalize", force=force)


def test_killed_failed_and_with_force_running_runs_can_be_resumed(store, make_idea):
    for status in ("KILLED", "FAILED"):
        check_resumable(store, _ended(store, make_idea, status=status), "generalize")
    check_resumable(store, _ended(store, make_idea, status="RUNNING"), "generalize", force=True)
    with pytest.raises(StoreError, match="no run 'nosuchrun'"):
        check_resumable(store, "nosuchrun", "generalize")
