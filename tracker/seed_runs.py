"""Seed runs: one MLflow run per seed of a stage run or trial that trained K seeds packed.

A run with `seeds` = K > 1 trains K models in one process (`runners/training/pack.py`).
Each seed keeps its complete telemetry (per-batch `train/loss` and `val/loss_batch`, its
full-pass `val/*` metrics and `best/<target>`) in a run of its own, nested under the stage
run or trial (`mlflow.parentRunId`), kind `seed`, tag `idealoop.seed` = the seed: the
MLflow UI lists them as the run's children and overlays them in its chart view, with the
usual keys rather than K× more columns on one run. The parent run logs the mean over the
seeds under the usual keys and their standard deviation (`val_std/*`, `best_std/<target>`).

Seed runs carry no idea or stage tag: they are parts of one run, not runs made for an
idea, so no query of an idea's runs (the runs tree, the evidence, the gates, run counts)
counts them. They end with their parent's status and reason. A resumed parent adopts the
seed runs it already has (found by parent and seed) and stores no step twice in them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.entities import RunStatus

from tracker.resume import SkipStored, adopt, stored_steps
from tracker.runs import StageRun, end_run, ending
from tracker.store import TAG_KIND, TAG_PARENT, TAG_SEED, TAG_TASK, Store
from tracker.telemetry import TelemetryWriter

KIND = "seed"


def find_seed_runs(store: Store, parent_id: str) -> dict[int, object]:
    """seed -> run of the seed runs under `parent_id` (a stage run or trial)."""
    found = store.search_all(f"tags.`{TAG_PARENT}` = '{parent_id}' and tags.`{TAG_KIND}` = '{KIND}'")
    return {int(r.data.tags[TAG_SEED]): r for r in found if r.data.tags.get(TAG_SEED, "").isdigit()}


def _open(store: Store, parent: StageRun, seed: int, existing, task: str):
    tags = {TAG_KIND: KIND, TAG_PARENT: parent.run_id, TAG_SEED: str(seed)}
    if task:
        tags[TAG_TASK] = task
    if existing is not None:  # the parent is resumed: continue this seed's run, no step twice
        run = adopt(store, existing.info.run_id, tags)
        writer = TelemetryWriter(store, run.info.run_id, process=False)
        return run.info.run_id, SkipStored(writer, stored_steps(run))
    run_id = store.client.create_run(store.experiment_id, run_name=f"seed {seed}", tags=tags).info.run_id
    # A thread each, never a shipper process each: K processes would cost more than the training.
    return run_id, TelemetryWriter(store, run_id, process=False)


@contextmanager
def seed_runs(parent: StageRun, seeds: list[int], task: str = "") -> Iterator[list]:
    """Open a run per seed under `parent`; yields their telemetry writers, in the order of `seeds`.

    On the way out every writer is closed (drained) and every seed run ended with the status
    and reason the parent's own run will get from the same exception (or `completed`).
    """
    store = parent.store
    existing = find_seed_runs(store, parent.run_id) if parent.resumed else {}
    opened: list[tuple[str, object]] = []
    status, reason, error, extra = RunStatus.FINISHED, "completed", None, {}
    try:
        for seed in seeds:
            opened.append(_open(store, parent, seed, existing.get(seed), task))
        yield [writer for _, writer in opened]
    except BaseException as exc:
        status, reason, error, extra = ending(exc)
        raise
    finally:
        lost = None
        for run_id, writer in opened:
            try:
                writer.close()
            except Exception as exc:  # noqa: BLE001 - a lost point fails the seed run, loudly
                lost = lost or exc
            if lost is not None and error is None:
                end_run(store, run_id, RunStatus.FAILED, "failed", lost, extra)
            else:
                end_run(store, run_id, status, reason, error, extra)
        if lost is not None and error is None:
            raise lost
