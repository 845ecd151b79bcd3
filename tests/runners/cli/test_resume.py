"""`idealoop run STAGE --resume RUN_ID` end to end on a real SQLite store.

A run is cut short — Ctrl-C in the middle of an epoch (in-process, at an exact step),
or `kill -9` of a real `idealoop run` process — and resumed. The resumed run must hold
exactly what an uninterrupted run holds: every step once, for every key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runners.training.trainer as trainer_module
from runners.cli import main
from tracker.artifacts import load_per_class

ROOT = Path(__file__).resolve().parents[3]
SMALL = ["--set", "epochs=4", "--set", "hist_every=10", "--set", "hist_budget=0", "--set", "n_samples=4"]
SMALL += ["--set", "check_every=5", "--set", "width=32"]


def _interrupt_at(monkeypatch, step: int) -> None:
    """Ctrl-C right after the chunk that ends at `step` is logged (mid-epoch: not at a checkpoint)."""
    sync = trainer_module.Trainer.sync

    def interrupted(self):
        loss = sync(self)
        if self.step_count >= step:
            raise KeyboardInterrupt
        return loss

    monkeypatch.setattr(trainer_module.Trainer, "sync", interrupted)


def _history(store, run_id, key) -> dict[int, float]:
    return {m.step: m.value for m in store.client.get_metric_history(run_id, key)}


def _newest(store) -> str:
    """The stage run started last (an interrupted `idealoop run` prints no id on stdout)."""
    runs = store.client.search_runs([store.experiment_id], "", order_by=["attributes.start_time DESC"])
    return runs[0].info.run_id


def _run(capsys, *args) -> str:
    assert main(["run", *args, "--no-progress"]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.mark.parametrize("stage", ["generalize", "scale"])
def test_a_run_interrupted_mid_epoch_resumes_from_its_checkpoint_as_if_never_stopped(
    store, make_idea, capsys, monkeypatch, doubled, stage
):
    idea = make_idea()
    straight = _run(capsys, stage, "--idea", idea, *SMALL)

    with monkeypatch.context() as m:
        _interrupt_at(m, 50)  # digits: 20 batches an epoch, so mid-epoch 3 (checkpoint: epoch 2)
        assert main(["run", stage, "--idea", idea, *SMALL, "--no-progress"]) == 130
    killed = _newest(store)
    assert store.client.get_run(killed).info.status == "KILLED"
    assert max(_history(store, killed, "train/loss")) == 49
    # Cut short mid-epoch 3: the per-class file is the one stored after epoch 2, whole.
    assert sorted({r["epoch"] for r in load_per_class(store, killed)}) == [0, 1, 2]

    assert _run(capsys, stage, "--resume", killed) == killed
    got = store.client.get_run(killed)
    assert (got.info.status, got.data.tags["idealoop.end_reason"]) == ("FINISHED", "completed")
    assert "idealoop.error" not in got.data.tags
    # Every step once, for every key: a broken resume logs steps 40-49 (trained again) twice,
    # the epoch-3 metrics twice, or best/<target> twice at the last step.
    assert doubled(killed) == {}
    # The same metrics, step for step, as the run that was never stopped: the checkpoint restored
    # the model, optimizer, LR schedule, data order and dropout's RNG exactly.
    for key in ("train/loss", "val/loss", "epoch", "best/accuracy", "train/lr", "train/grad_norm"):
        assert _history(store, killed, key) == pytest.approx(_history(store, straight, key), rel=1e-5), key
    # The per-class file too: every epoch once (a broken resume drops epochs 0-2 or repeats one).
    resumed, whole = load_per_class(store, killed), load_per_class(store, straight)
    assert [(r["epoch"], r["class"]) for r in resumed] == [(r["epoch"], r["class"]) for r in whole]
    assert len(whole) == 5 * (10 + 2 * 4)  # 10 classes and 2 slices (accuracy, f1_macro, loss, share)
    assert [r["value"] for r in resumed] == pytest.approx([r["value"] for r in whole], rel=1e-5)
    reference = store.client.get_run(straight)
    assert set(got.data.metrics) == set(reference.data.metrics)
    gate = f"idealoop.gate.{stage}"
    assert got.data.tags[gate] == reference.data.tags[gate]


def test_resume_says_where_it_continues_from(store, make_idea, capsys, monkeypatch):
    with monkeypatch.context() as m:
        _interrupt_at(m, 30)
        assert main(["run", "generalize", *SMALL, "--no-progress"]) == 130
    killed = _newest(store)
    capsys.readouterr()
    assert main(["run", "generalize", "--resume", killed, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"stage_generalize: resumes run {killed}" in err
    assert f"resume: run {killed} continues after epoch 1, from its checkpoint" in err


def test_a_stage_without_checkpoints_is_replayed_from_the_start_logging_only_what_it_lacks(
    store, make_idea, capsys, monkeypatch, doubled
):
    cfg = ["--set", "hist_every=5", "--set", "hist_budget=0", "--set", "check_every=5"]
    straight = _run(capsys, "overfit", *cfg)
    with monkeypatch.context() as m:
        _interrupt_at(m, 15)
        assert main(["run", "overfit", *cfg, "--no-progress"]) == 130
    killed = _newest(store)
    capsys.readouterr()
    assert main(["run", "overfit", "--resume", killed, "--no-progress"]) == 0
    assert "has no epoch checkpoint: training again from the start" in capsys.readouterr().err
    assert doubled(killed) == {}
    for key in ("train/loss", "overfit_one/steps", "overfit_few/final_loss", "train/grad_norm"):
        assert _history(store, killed, key) == pytest.approx(_history(store, straight, key), rel=1e-5), key


@pytest.mark.parametrize(
    "extra, says",
    [
        (["--set", "epochs=9"], "--resume continues the run with its own config and idea; drop --set"),
        (["--task", "shapes"], "and idea; drop --task"),
    ],
)
def test_resume_refuses_a_changed_config(store, capsys, monkeypatch, extra, says):
    with monkeypatch.context() as m:
        _interrupt_at(m, 5)
        assert main(["run", "generalize", *SMALL, "--no-progress"]) == 130
    killed = _newest(store)
    assert main(["run", "generalize", "--resume", killed, *extra]) == 2
    assert says in capsys.readouterr().err
    assert store.client.get_run(killed).info.status == "KILLED"  # untouched


def test_resume_refuses_a_finished_run_and_another_stages_run(store, capsys):
    done = _run(capsys, "baseline")
    assert main(["run", "baseline", "--resume", done]) == 2
    assert "only KILLED or FAILED runs can be resumed" in capsys.readouterr().err
    assert main(["run", "generalize", "--resume", done]) == 2
    assert "ran stage 'baseline', not 'generalize'" in capsys.readouterr().err
    assert main(["run", "generalize", "--force"]) == 2
    assert "--force goes with --resume RUN_ID" in capsys.readouterr().err


def test_a_process_killed_with_sigkill_is_resumed_with_force(store, make_idea, doubled):
    """The hard case: no Python runs at `kill -9`, so the run stays RUNNING, the writer's buffer is
    lost, and the newest checkpoint may or may not have reached the store."""
    idea = make_idea()
    args = [
        "--idea",
        idea,
        "--task",
        "tests.runners.sweeps.tune_task:make_task",
        "--seed",
        "100",
        "--no-progress",
    ]
    # 8 epochs of ~0.5 s: room to kill it after epoch 2 even when a loaded machine flushes late.
    args += ["--set", "epochs=8", "--set", "batch_size=32", "--set", "hist_every=0", "--set", "check_every=2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "runners.cli", "run", "generalize", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, run_id = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:  # kill once epoch 2 is stored
            found = store.client.search_runs([store.experiment_id], "tags.`idealoop.stage` = 'generalize'")
            if found and found[0].data.metrics.get("epoch", 0) >= 2:
                run_id = found[0].info.run_id
                time.sleep(0.3)  # into epoch 3: steps past the checkpoint are stored
                break
            time.sleep(0.1)
        assert run_id, "the run never reached epoch 2 (or finished before the test saw it)"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert store.client.get_run(run_id).info.status == "RUNNING"
    assert main(["run", "generalize", "--resume", run_id]) == 2  # it might still be running elsewhere
    assert main(["run", "generalize", "--resume", run_id, "--force", "--no-progress"]) == 0
    got = store.client.get_run(run_id)
    assert (got.info.status, got.data.tags["idealoop.end_reason"]) == ("FINISHED", "completed")
    assert doubled(run_id) == {}
    assert sorted(_history(store, run_id, "train/loss")) == list(range(8 * 8))  # 256 samples / 32
    assert sorted(_history(store, run_id, "epoch").values()) == list(range(9))
