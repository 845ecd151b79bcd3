"""Where idealoop keeps everything: one MLflow tracking store, one experiment per project.

The tracking URI is `MLFLOW_TRACKING_URI` when set, else MLflow's own embedded
default (SQLite `mlflow.db` in the working directory). The project name is
`IDEALOOP_PROJECT`, else `idealoop`. Every other module asks `Store` for its
client and experiment id, so the storage layout has one home.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

import mlflow
from mlflow.tracking import MlflowClient

DEFAULT_PROJECT = "idealoop"

# Tag keys: every tag idealoop writes is named here.
TAG_KIND = "idealoop.kind"  # idea | stage | sweep | trial | launcher
TAG_IDEA = "idealoop.idea_id"  # on every run made for an idea
TAG_STAGE = "idealoop.stage"  # overfit | generalize | ...
TAG_TASK = "idealoop.task"  # the task a stage run or trial trained on
TAG_TARGET = "idealoop.target_metric"  # the val metric that judges a run (e.g. accuracy, miou, l1)
TAG_HIGHER = "idealoop.higher_is_better"  # "true" | "false"
TAG_VERDICT = "idealoop.verdict"  # an idea's decided outcome: succeeded | failed | inconclusive
TAG_FLAGS = "idealoop.flags"  # comma-separated range-check flags raised by a run
TAG_FLAG_PREFIX = "idealoop.flag."  # idealoop.flag.<flag> = one-line detail
TAG_STATUS = "idealoop.status"  # an idea's status
TAG_CATEGORY = "idealoop.category"
TAG_TITLE = "idealoop.title"
TAG_GATE_PREFIX = "idealoop.gate."  # idealoop.gate.<name> = passed | failed
TAG_END_REASON = "idealoop.end_reason"  # completed | failed | nan_loss | killed | stopped_by_asha
TAG_ERROR = "idealoop.error"  # the exception that ended a run
TAG_ASHA_ITERATION = "idealoop.asha_iteration"  # trials: the iteration (rung) ASHA stopped it at
TAG_BEST_TRIAL = "idealoop.best_trial"  # sweeps: run id of the best trial
TAG_BEST_CONFIG = "idealoop.best_config"  # sweeps: JSON of the best trial's sampled config
TAG_SWEEP = "idealoop.sweep_id"  # trials: their sweep run
TAG_TRIAL = "idealoop.trial_id"  # trials: Ray Tune's trial id (a restored trial finds its run by it)
TAG_NODE = "idealoop.ray_node"  # trials: the Ray node (id) the trial ran on
TAG_RECONCILED = "idealoop.reconciled"  # trials: "true" when the driver, not the trial, ended the run
TAG_RAY_PATH = "idealoop.ray_experiment"  # sweeps: Ray Tune experiment path, for `tune --resume`
TAG_REDIRECT = "idealoop.stage_run_id"  # on an `mlflow run` launcher: the real stage run
TAG_BASELINE_SCORE = "idealoop.baseline_score"  # baseline runs: the val target score to beat
TAG_BASELINE_RUN = "idealoop.baseline_run"  # generalize runs: the baseline run the gap is measured to
TAG_SCALE_REFERENCE_RUN = "idealoop.scale_reference_run"  # scale runs: the generalize run it had to beat
TAG_PROCESSES = "idealoop.processes"  # scale runs with processes > 1: data-parallel world size
TAG_DEMO = "idealoop.demo"  # ideas added by `idealoop demo`: "true"
TAG_PARENT = "mlflow.parentRunId"  # MLflow's own nesting tag
TAG_DESCRIPTION = "mlflow.note.content"  # shows as the run's description in the UI
TAG_RUN_NAME = "mlflow.runName"


class StoreError(RuntimeError):
    """The store cannot be reached or holds something unexpected (one line for the user)."""


def project_name(name: str | None = None) -> str:
    return name or os.environ.get("IDEALOOP_PROJECT") or DEFAULT_PROJECT


def tracking_uri(uri: str | None = None) -> str:
    """The URI in effect: explicit, else MLFLOW_TRACKING_URI, else MLflow's default."""
    if uri:
        return uri
    return mlflow.get_tracking_uri()


@dataclass
class Store:
    """A project inside a tracking store. Cheap to build; connects on first use."""

    project: str = field(default_factory=project_name)
    uri: str = field(default_factory=tracking_uri)

    @cached_property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    @cached_property
    def experiment_id(self) -> str:
        """The project's experiment, created on first use."""
        try:
            exp = self.client.get_experiment_by_name(self.project)
            if exp is not None:
                if exp.lifecycle_stage != "active":
                    raise StoreError(
                        f"project {self.project!r} is deleted in {self.uri}; restore it "
                        "in the MLflow UI or pick another --project"
                    )
                return exp.experiment_id
            return self.client.create_experiment(self.project)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - surface any backend failure as one line
            if "already exists" in str(exc):  # created by a concurrent writer
                return self.client.get_experiment_by_name(self.project).experiment_id
            raise StoreError(f"cannot open tracking store {self.uri}: {_first_line(exc)}") from exc

    def search_all(self, filter_string: str, order_by: list[str] | None = None) -> list:
        """Every run in the project matching the filter (pages through MLflow's 1000-run limit)."""
        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string=filter_string,
                max_results=1000,
                order_by=order_by,
                page_token=token,
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
