"""Continuing a run that ended early, without storing any step twice.

A stage run or a sweep trial is resumed by running its stage again in the same run:
from its last epoch checkpoint when it has one (`runners/training/checkpoint.py`),
else from the start — same seed, same data order. Either way the new attempt trains
through steps the earlier one already stored, and those must not be stored again
(a key with two values at one step is a curve that doubles back). So a resumed run
writes through `SkipStored`: for each metric key, a point at or before the last step
the run holds for that key is dropped. That is exact because the telemetry writer
stores each key's points in step order, a batch per transaction, and artifacts after
the metrics queued before them: whatever an attempt left behind, however it died, is
a prefix of what the replay logs again.

`check_resumable` is the CLI's gate (`idealoop run STAGE --resume RUN_ID`): a stage
run of that stage that ended KILLED or FAILED (or one left RUNNING by a process that
is gone, with `--force`). `adopt` turns the run back to RUNNING for the new attempt.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable

from mlflow.entities import RunTag

from tracker.store import (
    TAG_ASHA_ITERATION,
    TAG_END_REASON,
    TAG_ERROR,
    TAG_KIND,
    TAG_RECONCILED,
    TAG_STAGE,
    Store,
    StoreError,
    redact_uri,
)

RESUMABLE = ("KILLED", "FAILED")  # run statuses `--resume` continues without --force
CONFIG_ARTIFACT = "config.json"  # the resolved stage config every stage run logs first


def stored_steps(run) -> dict[str, int]:
    """The last step an MLflow run holds for each metric key (its latest metric is the highest step)."""
    return {m.key: int(m.step) for m in run.data.to_proto().metrics}


class SkipStored:
    """A telemetry writer for a resumed run: drops every point at or before the last stored step of
    its key, passes everything else (and every other call) to the run's own writer."""

    def __init__(self, writer, stored: dict[str, int]) -> None:
        self._writer = writer
        self._stored = stored

    def log(self, key: str, value: float, step: int, timestamp_ms: int | None = None) -> None:
        if step > self._stored.get(key, -1):
            self._writer.log(key, value, step, timestamp_ms)

    def log_series(self, key: str, values: Iterable[float], first_step: int) -> None:
        values = list(values)
        skip = max(0, self._stored.get(key, -1) - first_step + 1)
        if skip < len(values):
            self._writer.log_series(key, values[skip:], first_step + skip)

    def log_dict(self, values: dict[str, float], step: int) -> None:
        kept = {k: v for k, v in values.items() if step > self._stored.get(k, -1)}
        if kept:
            self._writer.log_dict(kept, step)

    def __getattr__(self, name: str):
        return getattr(self._writer, name)

    def __enter__(self) -> SkipStored:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_resumable(store: Store, run_id: str, stage: str, *, force: bool = False):
    """The run `idealoop run STAGE --resume RUN_ID` may continue, or a StoreError saying why not."""
    try:
        run = store.client.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - an unknown id is the user's to fix
        raise StoreError(f"no run {run_id!r} in {redact_uri(store.uri)}") from exc
    tags, status = run.data.tags, run.info.status
    if run.info.experiment_id != store.experiment_id:
        raise StoreError(f"run {run_id} is not in project {store.project!r}")
    if tags.get(TAG_KIND) != "stage":
        what = tags.get(TAG_KIND, "")
        hint = " (trials are resumed with `idealoop tune --resume SWEEP`)" if what == "trial" else ""
        raise StoreError(f"run {run_id} is not a stage run ({TAG_KIND}={what!r}){hint}")
    if tags.get(TAG_STAGE) != stage:
        raise StoreError(f"run {run_id} ran stage {tags.get(TAG_STAGE, '')!r}, not {stage!r}")
    if status == "RUNNING" and not force:
        raise StoreError(
            f"run {run_id} is RUNNING: another process may still be writing it; if that process is gone "
            "(kill -9, out of memory, a lost machine), add --force"
        )
    if status not in (*RESUMABLE, "RUNNING"):
        raise StoreError(f"run {run_id} ended {status}; only KILLED or FAILED runs can be resumed")
    return run


def saved_config(store: Store, run_id: str) -> dict:
    """The resolved config the run logged as `config.json` (a resumed run trains exactly that)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = store.client.download_artifacts(run_id, CONFIG_ARTIFACT, tmp)
        except Exception as exc:  # noqa: BLE001 - the run died before logging its config
            raise StoreError(f"run {run_id} has no {CONFIG_ARTIFACT}: it cannot be resumed") from exc
        with open(path) as f:
            return json.load(f)


def adopt(store: Store, run_id: str, tags: dict[str, str]):
    """Set the run RUNNING again for a new attempt, forgetting why the last one ended; returns it."""
    old = store.client.get_run(run_id).data.tags
    for key in (TAG_END_REASON, TAG_ERROR, TAG_ASHA_ITERATION, TAG_RECONCILED):
        if key in old:
            store.client.delete_tag(run_id, key)
    store.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    store.client.update_run(run_id, status="RUNNING")
    return store.client.get_run(run_id)
