"""Stage-run lifecycle: nesting under the idea, never RUNNING, why a run ended, `mlflow run` launchers."""

from __future__ import annotations

import pytest

from tracker.ideas import IdeaNotFound, target_for
from tracker.runs import NonFiniteLoss, stage_run
from tracker.store import TAG_END_REASON, TAG_ERROR, TAG_IDEA, TAG_KIND, TAG_PARENT, TAG_REDIRECT, Target


def _runs(store):
    return store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'stage'")


def test_stage_run_is_nested_under_its_idea_and_finished(store, make_idea):
    idea = make_idea()
    with stage_run(Target(store, idea), stage="overfit") as run:
        run.set_gate("overfit_one", True)
    got = store.client.get_run(run.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.tags[TAG_PARENT] == idea
    assert got.data.tags["idealoop.gate.overfit_one"] == "passed"
    assert got.data.tags[TAG_END_REASON] == "completed"


def test_exception_marks_run_failed_with_reason(store, make_idea):
    with pytest.raises(ValueError):
        with stage_run(Target(store, make_idea()), stage="overfit") as run:
            run.writer.log("train/loss", 1.0, 0)
            raise ValueError("shape mismatch")
    got = store.client.get_run(run.run_id)
    assert got.info.status == "FAILED"
    assert got.data.tags[TAG_END_REASON] == "failed"
    assert got.data.tags[TAG_ERROR] == "ValueError: shape mismatch"
    assert len(store.client.get_metric_history(run.run_id, "train/loss")) == 1  # flushed anyway


def test_nan_loss_is_its_own_reason(store):
    with pytest.raises(NonFiniteLoss):
        with stage_run(Target(store), stage="overfit") as run:
            raise NonFiniteLoss("train loss became nan at step 3")
    tags = store.client.get_run(run.run_id).data.tags
    assert tags[TAG_END_REASON] == "nan_loss"


def test_unknown_idea_fails_at_the_boundary_before_any_run_exists(store):
    with pytest.raises(IdeaNotFound):
        target_for(store, "f" * 32)
    assert _runs(store) == []


def test_the_idea_is_resolved_once_at_the_boundary_and_never_again(store, make_idea, monkeypatch):
    idea = make_idea()
    target = target_for(store, idea[:8])  # a unique prefix, as typed
    assert target.idea_id == idea

    get_run = store.client.get_run

    def no_idea_lookup(run_id):  # every idea lookup (tracker.ideas.resolve_id) starts with get_run
        assert run_id not in (idea, idea[:8]), "the idea was looked up again downstream"
        return get_run(run_id)

    monkeypatch.setattr(store.client, "get_run", no_idea_lookup)
    with stage_run(target, stage="overfit") as run:
        pass
    tags = store.client.get_run(run.run_id).data.tags
    assert tags[TAG_IDEA] == idea and tags[TAG_PARENT] == idea  # the full id, never the prefix


def test_launcher_in_another_experiment_becomes_a_pointer(store, make_idea, monkeypatch):
    idea = make_idea()
    other = store.client.create_experiment(f"{store.project}-elsewhere")
    launcher = store.client.create_run(other).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", launcher)
    with stage_run(Target(store, idea), stage="overfit") as run:
        pass
    assert run.run_id != launcher
    assert store.client.get_run(run.run_id).info.experiment_id == store.experiment_id
    tags = store.client.get_run(launcher).data.tags
    assert tags[TAG_KIND] == "launcher" and tags[TAG_REDIRECT] == run.run_id


def test_launcher_in_the_project_is_adopted(store, make_idea, monkeypatch):
    idea = make_idea()
    launcher = store.client.create_run(store.experiment_id).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", launcher)
    with stage_run(Target(store, idea), stage="overfit") as run:
        pass
    assert run.run_id == launcher
    assert store.client.get_run(launcher).data.tags[TAG_PARENT] == idea
