"""The store's owners: `Store.resolve` reads the environment once and makes the URI absolute;
a pickled `Store` / `Target` carries no client; the SQLite URI helpers."""

from __future__ import annotations

import pickle
import sqlite3

import pytest

from tracker.store import Store, Target, absolute_uri, enable_sqlite_wal


def test_resolve_reads_the_environment_and_makes_the_uri_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel").mkdir()  # the store check refuses a SQLite folder that does not exist
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///rel/mlflow.db")
    monkeypatch.setenv("IDEALOOP_PROJECT", "from-env")
    store = Store.resolve()
    assert (store.uri, store.project) == (f"sqlite:///{tmp_path}/rel/mlflow.db", "from-env")
    # Explicit values (--tracking-uri, --project) win over the environment.
    given = Store.resolve(uri="sqlite:///other.db", project="given")
    assert (given.uri, given.project) == (f"sqlite:///{tmp_path}/other.db", "given")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("IDEALOOP_PROJECT")
    default = Store.resolve()  # MLflow's default: mlflow.db in the working directory
    assert (default.uri, default.project) == (f"sqlite:///{tmp_path}/mlflow.db", "idealoop")


def test_a_store_refuses_a_relative_sqlite_uri():
    # Built downstream from a relative URI, a store would name another file in another directory.
    with pytest.raises(ValueError, match="uri='sqlite:///mlflow.db' is relative"):
        Store(project="p", uri="sqlite:///mlflow.db")
    Store(project="p", uri="http://mlflow.internal:5000")  # not a path: taken as it is


def test_a_pickled_target_carries_ids_not_a_client(store, make_idea):
    idea = make_idea()
    store.client  # noqa: B018 - connected and experiment known, as in a driver about to hand it on
    target = Target(store, idea)
    state = target.store.__getstate__()
    assert state == {"project": store.project, "uri": store.uri, "experiment_id": store.experiment_id}
    copy = pickle.loads(pickle.dumps(target))
    assert copy == target and copy.idea_id == idea
    assert "client" not in copy.store.__dict__  # a fresh client in the process that unpickles it
    assert copy.store.experiment_id == store.experiment_id


def test_relative_sqlite_uris_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path}/mlflow.db"
    assert absolute_uri("sqlite:///db/m.db?timeout=5") == f"sqlite:///{tmp_path}/db/m.db?timeout=5"
    assert absolute_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    assert absolute_uri("http://host:5000") == "http://host:5000"


def test_wal_is_switched_on_for_sqlite_only(tmp_path):
    db = tmp_path / "x.db"
    sqlite3.connect(db).close()
    assert enable_sqlite_wal(f"sqlite:///{db}")
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent
    assert not enable_sqlite_wal("http://mlflow.internal:5000")
