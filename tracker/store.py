"""Where idealoop keeps everything: one MLflow tracking store, one experiment per project.

Two owners live here, each decided once at a boundary (the CLI, which the MLproject
entry points call; the board) and handed down as they are:
- `Store`: the tracking URI and the project. `Store.resolve` is the one place that reads
  `--tracking-uri` / `MLFLOW_TRACKING_URI` (else MLflow's default, SQLite `mlflow.db` in the
  working directory) and `--project` / `IDEALOOP_PROJECT` (else `idealoop`). It makes the
  URI absolute, so a pickled store names the same database in a telemetry shipper, a
  data-parallel rank or a Ray trial, whatever their working directory. Every other
  module asks `Store` for its client and experiment id, so the storage layout has one home.
- `Target`: a store plus the idea a run is for, its id already resolved to the idea's full
  run id (by `tracker.ideas.target_for`). Stage runs, sweeps and their trials, the
  data-parallel ranks and the board's jobs all take a `Target`; none looks the idea up again.

Also here: the SQLite URI helpers (`absolute_uri`, `sqlite_path`, `enable_sqlite_wal`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from functools import cached_property

import mlflow
from mlflow.tracking import MlflowClient

from tracker.redaction import redact_uri, server_refusal
from tracker.retry import PatientClient

DEFAULT_PROJECT = "idealoop"

# Tag keys: every tag idealoop writes is named here.
TAG_KIND = "idealoop.kind"  # idea | stage | sweep | trial | launcher | seed | queue_item | queue_session
TAG_SEED, TAG_PACKING = "idealoop.seed", "idealoop.seed_packing"  # a seed run's seed; "vmap" | "loop: <why>"
TAG_IDEA = "idealoop.idea_id"  # on every run made for an idea
TAG_STAGE = "idealoop.stage"  # overfit | generalize | ...
TAG_TASK = "idealoop.task"  # the task a stage run or trial trained on
TAG_TARGET = "idealoop.target_metric"  # the val metric that judges a run (e.g. accuracy, miou, l1)
TAG_HIGHER = "idealoop.higher_is_better"  # "true" | "false"
TAG_VERDICT = "idealoop.verdict"  # an idea's decided outcome: succeeded | failed | inconclusive
TAG_FLAGS = "idealoop.flags"  # comma-separated range-check flags raised by a run
TAG_FLAG_PREFIX = "idealoop.flag."  # idealoop.flag.<flag> = one-line detail
TAG_STATUS = "idealoop.status"  # an idea's status
TAG_CATEGORY, TAG_TITLE = "idealoop.category", "idealoop.title"
TAG_GATE_PREFIX = "idealoop.gate."  # idealoop.gate.<name> = passed | failed
TAG_CHECK_PREFIX = "idealoop.check."  # stage_check: idealoop.check.<name> = the check's one-line reason
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
# Experiment tags: idealoop.project_target.<NNNN> = one revision of the project's target (JSON).
TAG_PROJECT_TARGET_PREFIX = "idealoop.project_target."
TAG_DEMO = "idealoop.demo"  # ideas added by `idealoop demo`: "true"
# The overnight queue (tracker/queue_items.py; every tag in docs/telemetry.md): items and sessions
# in the experiment `<project>.queue`; the runs an item made carry TAG_QUEUE_ITEM.
TAG_QUEUE_ITEM, TAG_RAY_JOB = "idealoop.queue_item", "idealoop.ray_job"  # item id; its Ray submission id
TAG_QUEUE_STATE = "idealoop.queue_state"  # items: queued|submitted|running|done|failed|killed|skipped|removed
TAG_QUEUE_REASON, TAG_QUEUE_PRIORITY = "idealoop.queue_reason", "idealoop.queue_priority"
TAG_QUEUE_SESSION, TAG_QUEUE_STOPPING = "idealoop.queue_session", "idealoop.queue_stopping"
TAG_QUEUE_STARTED, TAG_QUEUE_ENDED = "idealoop.queue_started", "idealoop.queue_ended"  # ms
TAG_QUEUE_UNTIL, TAG_QUEUE_BUDGET = "idealoop.queue_until", "idealoop.queue_budget"  # ms; GPU-hours
TAG_QUEUE_DRIVER, TAG_QUEUE_HEARTBEAT = "idealoop.queue_driver", "idealoop.queue_heartbeat"  # host:pid; ms
TAG_QUEUE_STOP, TAG_QUEUE_CAPACITY = "idealoop.queue_stop", "idealoop.queue_capacity"  # "requested"; JSON
TAG_RAY_DASHBOARD, TAG_RAY_HEAD_PID = "idealoop.ray_dashboard", "idealoop.ray_head_pid"
TAG_PARENT = "mlflow.parentRunId"  # MLflow's own nesting tag
TAG_DESCRIPTION = "mlflow.note.content"  # shows as the run's description in the UI
TAG_RUN_NAME = "mlflow.runName"


class StoreError(RuntimeError):
    """The store cannot be reached or holds something unexpected (one line for the user)."""


@dataclass(frozen=True)
class Store:
    """A project inside a tracking store. Cheap to build; connects on first use.

    Pickles as (project, uri, experiment id once known), never its client: it travels
    to other processes (the shipper, data-parallel ranks, Ray trials) as it is.
    """

    project: str
    uri: str  # absolute (see `absolute_uri`): the same store from any process or node

    def __post_init__(self) -> None:
        path = sqlite_path(self.uri)
        if path is not None and not os.path.isabs(path):
            raise ValueError(
                f"uri={self.uri!r} is relative; build stores with Store.resolve, which makes it absolute"
            )

    @classmethod
    def resolve(cls, *, uri: str | None = None, project: str | None = None, create: bool = False) -> Store:
        """The boundary: explicit values, else MLFLOW_TRACKING_URI / IDEALOOP_PROJECT, else the
        defaults. The only place idealoop reads those variables. The URI is checked here
        (`check_uri`), so a typo is one line now, not a traceback or minutes of retries later."""
        project = project or os.environ.get("IDEALOOP_PROJECT") or DEFAULT_PROJECT
        resolved = absolute_uri(uri or mlflow.get_tracking_uri())
        check_uri(resolved, create=create)
        return cls(project=project, uri=resolved)

    def __getstate__(self) -> dict:
        state = {"project": self.project, "uri": self.uri}
        if "experiment_id" in self.__dict__:  # resolved here: the other process need not look again
            state["experiment_id"] = self.__dict__["experiment_id"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @cached_property
    def client(self) -> MlflowClient:
        """MLflow's client, patient through an outage of the store (tracker/retry.py)."""
        return PatientClient(MlflowClient(tracking_uri=self.uri))  # type: ignore[return-value]

    @cached_property
    def experiment_id(self) -> str:
        """The project's experiment, created on first use."""
        try:
            exp = self.client.get_experiment_by_name(self.project)
            if exp is not None:
                if exp.lifecycle_stage != "active":
                    raise StoreError(
                        f"project {self.project!r} is deleted in {redact_uri(self.uri)}; restore it "
                        "in the MLflow UI or pick another --project"
                    )
                return exp.experiment_id
            return self.client.create_experiment(self.project)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - surface any backend failure as one line
            if "already exists" in str(exc):  # created by a concurrent writer
                return self.client.get_experiment_by_name(self.project).experiment_id
            where = redact_uri(self.uri)
            why = server_refusal(exc) or _first_line(exc)
            raise StoreError(f"cannot open tracking store {where}: {why}") from exc

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


@dataclass(frozen=True)
class Target:
    """Where a run's records go: a project in a tracking store, and the idea the run is for.

    Built once at the boundary by `tracker.ideas.target_for` (which resolves an id or a
    prefix), or from an id the store itself holds (a sweep's idea tag, an idea just added);
    then handed down whole. Picklable: a Ray trial or a data-parallel rank gets it as is.
    """

    store: Store
    idea_id: str = ""  # the idea's full run id; "" for a run made for no idea


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- checking a tracking URI at the boundary ---------------------------------------------
SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "file", "databricks")
DRIVERS = {  # SQLAlchemy's default driver module per database, and per "+driver" suffix
    "postgresql": "psycopg",
    "postgresql+psycopg": "psycopg",
    "postgresql+psycopg2": "psycopg2",
    "mysql": "MySQLdb",
    "mysql+mysqldb": "MySQLdb",
    "mysql+pymysql": "pymysql",
}
DRIVER_HINTS = {  # how to get each driver: the `team` extra has psycopg 3 and PyMySQL
    "psycopg": "pip install 'idealoop[team]' (or 'psycopg[binary]')",
    "psycopg2": "pip install psycopg2-binary, or write postgresql:// and pip install 'idealoop[team]'",
    "MySQLdb": "pip install mysqlclient, or write mysql+pymysql:// and pip install 'idealoop[team]'",
    "pymysql": "pip install 'idealoop[team]' (or pymysql)",
}
DATABASES = ("postgresql", "mysql")  # servers the check connects to before anything runs
SERVER_TIMEOUT_S = 3.0  # a tracking server or database must answer this fast at start-up
URI_HINT = "(check --tracking-uri / MLFLOW_TRACKING_URI)"


def check_uri(uri: str, *, create: bool = False) -> None:
    """Raise StoreError, one line, if `uri` cannot be a tracking store: an unknown scheme, a
    database driver that is not installed (and which pip extra has it), a database server
    that does not answer within SERVER_TIMEOUT_S or has no such database, a SQLite file
    whose directory does not exist (a typo would silently start a new, empty project;
    `create=True` allows it) or that is not a SQLite database, a tracking server that does
    not answer within SERVER_TIMEOUT_S."""
    import importlib.util
    from urllib.parse import urlsplit

    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme.split("+")[0] not in SCHEMES:
        raise StoreError(
            f"tracking URI {redact_uri(uri)[:80]!r} has no known scheme; use sqlite:///PATH.db, "
            f"postgresql://..., mysql+pymysql://... or http(s)://SERVER {URI_HINT}"
        )
    module = DRIVERS.get(scheme)
    if module and importlib.util.find_spec(module) is None:
        raise StoreError(
            f"tracking URI {redact_uri(uri)[:80]!r} needs the Python module {module!r}, "
            f"which is not installed: {DRIVER_HINTS[module]}"
        )
    path = sqlite_path(uri)
    if path is not None:
        _check_sqlite(path, create)
    if scheme in ("http", "https"):
        _check_server(uri)
    if scheme.split("+")[0] in DATABASES:
        _check_database(uri)


def _check_database(uri: str) -> None:
    """Connect once (SERVER_TIMEOUT_S at most): an unreachable server or a missing database is
    one line now, instead of MLflow's ~100 s of connection retries and a traceback."""
    import sqlalchemy as sa

    shown = redact_uri(uri)
    try:
        url = sa.engine.make_url(uri)
        timeout = {"connect_timeout": int(SERVER_TIMEOUT_S)}  # psycopg, psycopg2, pymysql, MySQLdb alike
        if url.get_backend_name() == "mysql":  # and the handshake: a wrong port may accept, then stall
            timeout["read_timeout"] = int(SERVER_TIMEOUT_S)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=timeout)
    except ImportError as exc:
        raise StoreError(f"tracking URI {shown[:80]!r} needs a driver that is not installed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a malformed URL, an unknown dialect
        raise StoreError(f"{shown[:80]!r} is not a database URL: {_first_line(exc)} {URI_HINT}") from None
    try:
        with engine.connect():
            return
    except Exception as exc:  # noqa: BLE001 - whatever the driver says, one line
        error = getattr(exc, "orig", None) or exc
        said = _first_line(error)
        if error.args[:1] == (1049,) or f'database "{url.database}" does not exist' in said:  # MySQL, PG
            name = url.database
            raise StoreError(
                f"the database {name!r} does not exist on {redact_uri(str(url.set(database='')))}; create it "
                f"(CREATE DATABASE {name}) {URI_HINT}"
            ) from None
        raise StoreError(f"cannot reach the database {shown}: {said} {URI_HINT}") from None
    finally:
        engine.dispose()


def _check_sqlite(path: str, create: bool) -> None:
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        if not create:
            raise StoreError(
                f"the folder of the SQLite store {path} does not exist; create it, or pass --create "
                f"to start a new store there {URI_HINT}"
            )
        os.makedirs(folder, exist_ok=True)
    if os.path.isdir(path):
        raise StoreError(f"the SQLite store {path} is a directory, not a database file {URI_HINT}")
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        # Asked through SQLite itself, never a plain open(): closing a second descriptor on the
        # file would drop this process's POSIX locks on it, which corrupts a store it has open.
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
                conn.execute("PRAGMA schema_version").fetchone()
        except sqlite3.OperationalError:
            pass  # busy or locked: a database all the same; MLflow will wait for it
        except sqlite3.DatabaseError:
            raise StoreError(f"{path} is not a SQLite database {URI_HINT}") from None


def _check_server(uri: str) -> None:
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(uri)  # credentials in the URI are MLflow's to send (urllib cannot): not in the probe
    url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl().rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=SERVER_TIMEOUT_S):
            return
    except urllib.error.HTTPError:
        return  # it answered (an auth or proxy error is MLflow's to explain, with its own message)
    except (OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or exc
        raise StoreError(
            f"no tracking server answers at {redact_uri(uri)} within {SERVER_TIMEOUT_S:g} s ({why}); "
            f"is it running? {URI_HINT}"
        ) from None


# -- SQLite URIs -----------------------------------------------------------------------
SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_path(uri: str) -> str | None:
    """The database file of a `sqlite:///` URI (None for other stores and `:memory:`)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def absolute_uri(uri: str) -> str:
    """A SQLite URI with an absolute path; other URIs unchanged.

    Why: a relative `sqlite:///mlflow.db` names a different file in every working
    directory, and Ray runs each trial in its own.
    """
    if sqlite_path(uri) is None:
        return uri
    path, sep, query = uri[len("sqlite:///") :].partition("?")
    return "sqlite:///" + os.path.abspath(path) + sep + query


def enable_sqlite_wal(uri: str) -> bool:
    """Switch a SQLite store to WAL journaling (persistent in the file); True if it is WAL now.

    In WAL mode readers never block the writer and writers queue on a lock instead of
    failing at once, which is what concurrent trial processes need (8 of them writing
    per-batch telemetry into one file: bench/sqlite_concurrency.py). Other URIs: no-op.
    """
    path = sqlite_path(uri)
    if path is None:
        return False
    with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000) as conn:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    return str(mode).lower() == "wal"
