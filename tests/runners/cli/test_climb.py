"""`idealoop climb`: one idea from stage 0 to its verdict in one process, on real MLflow and a
real local Ray: every rung's run under the idea, the sweep and the accepted proposal; a failed
gate stops the climb (exit 1); bad input is one line, exit 2, nothing run."""

from __future__ import annotations

import json

import pytest

from runners.cli import main
from tracker.ideas import get_idea
from tracker.store import TAG_IDEA, TAG_KIND, TAG_STAGE

BROKEN = "tests.runners.tasks.broken_tasks"


def _runs(store, stage: str) -> list:
    return store.search_all(f"tags.`{TAG_STAGE}` = '{stage}' and tags.`{TAG_KIND}` = 'stage'")


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_climb_runs_every_rung_a_sweep_and_accepts_the_verdict(store, make_idea, tmp_path, capsys):
    import ray

    space = tmp_path / "space.yaml"
    space.write_text("lr: {choice: [0.003, 0.01]}\nhist_every: 0\nn_samples: 0\n")
    idea = make_idea(title="climb me", impact=0.02)
    args = ["climb", "--idea", idea, "--space", str(space), "--num-samples", "2", "--max-iterations", "2"]
    assert main([*args, "--seeds", "2", "--accept", "--json", "--no-progress"]) == 0
    out = _json(capsys)
    assert [s["stage"] for s in out["steps"]] == ["check", "baseline", "overfit", "generalize", "sweep"]
    assert out["stopped_at"] is None and not ray.is_initialized()  # the climb shut its Ray down
    for step in out["steps"][:4]:  # each rung's run, under the idea, as `idealoop run` makes it
        run = store.client.get_run(step["run_id"])
        assert run.data.tags[TAG_IDEA] == idea and run.data.tags[TAG_STAGE] == step["stage"]
        assert run.info.status == "FINISHED" and "failed" not in step["gates"].values()
    assert out["steps"][3]["gates"] == {"generalize": "passed"}
    sweep = store.client.get_run(out["steps"][4]["run_id"])
    assert sweep.data.tags[TAG_KIND] == "sweep" and sweep.data.tags[TAG_IDEA] == idea
    trials = store.search_all(f"tags.`mlflow.parentRunId` = '{sweep.info.run_id}'")
    assert len(trials) == 2 and {t.data.params["seeds"] for t in trials} == {"2"}
    verdict = out["assessment"]["verdict"]["verdict"]
    assert verdict in ("succeeded", "failed", "inconclusive")
    _, revisions, _ = get_idea(store, idea)
    assert out["accepted_revision"] == len(revisions) - 1 and revisions[-1].source == "evidence"

    # A second idea of the same task reuses the project's baseline: it is the task's, not the idea's.
    other = make_idea(title="second")
    assert main(["climb", "--idea", other, "--json", "--no-progress"]) == 0
    steps = _json(capsys)["steps"]
    assert [s["stage"] for s in steps] == ["check", "baseline", "overfit", "generalize"]
    assert steps[1]["run_id"] == out["steps"][1]["run_id"] and "reused" in steps[1]["note"]
    assert len(_runs(store, "baseline")) == 1


def test_a_failed_gate_stops_the_climb_exit_1(store, make_idea, capsys):
    idea = make_idea()
    assert main(["climb", "--idea", idea, "--task", f"{BROKEN}:wide_output", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("stage_check") and "FAILED check_outputs" in out
    assert "stopped at stage_check" in out
    assert _runs(store, "check") and not _runs(store, "baseline") and not _runs(store, "overfit")


@pytest.mark.gpu
def test_climb_device_cuda_puts_every_rung_on_the_gpu(store, make_idea, capsys):
    idea = make_idea()
    assert main(["climb", "--idea", idea, "--device", "cuda", "--json", "--no-progress"]) == 0
    steps = {s["stage"]: s for s in _json(capsys)["steps"]}
    for stage in ("check", "overfit", "generalize"):
        params = store.client.get_run(steps[stage]["run_id"]).data.params
        assert params["device"] == "cuda", stage  # the flag reached every rung that has the key
    for stage in ("overfit", "generalize"):  # and they trained there
        assert store.client.get_run(steps[stage]["run_id"]).data.params["device_resolved"] == "cuda"
    assert "failed" not in steps["check"]["gates"].values()  # stage_check's checks hold on the GPU too


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--num-samples", "2"], "--num-samples go with --space FILE"),
        (["--space", "SPACE", "--num-samples", "0"], "num_samples=0 is out of range"),
        (["--space", "BADSPACE"], "nosuchkey"),
        (["--to", "overfit"], "invalid choice: 'overfit'"),
        (["--device", "gpu"], "device='gpu' is not allowed"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_runs(store, make_idea, tmp_path, capsys, extra, says):
    import ray

    (tmp_path / "space.yaml").write_text("lr: {loguniform: [0.0001, 0.01]}\n")
    (tmp_path / "bad.yaml").write_text("nosuchkey: {choice: [1, 2]}\n")
    paths = {"SPACE": str(tmp_path / "space.yaml"), "BADSPACE": str(tmp_path / "bad.yaml")}
    extra = [paths.get(a, a) for a in extra]
    try:
        code = main(["climb", "--idea", make_idea(), *extra, "--no-progress"])
    except SystemExit as exc:  # argparse's own mistakes (--to) exit from the parser
        code = exc.code
    assert code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("idealoop:")]
    assert len(lines) == 1 and says in lines[0], lines
    assert not store.search_all(f"tags.`{TAG_KIND}` = 'stage'") and not ray.is_initialized()
