"""What the stage tests share: readers of a run's metric history and artifact listing."""

from __future__ import annotations

import pytest

FAST = dict(epochs=2, hist_every=10, hist_budget=0, n_samples=8)  # exact cadence: the tests count snapshots


@pytest.fixture
def history(store):
    """`history(run_id, key)`: the key's points, in step order."""
    return lambda run_id, key: sorted(store.client.get_metric_history(run_id, key), key=lambda m: m.step)


@pytest.fixture
def artifacts(store):
    """`artifacts(run_id, path)`: the artifact paths under `path`, sorted."""
    return lambda run_id, path: sorted(f.path for f in store.client.list_artifacts(run_id, path))
