"""tracker/ladder.py: the traffic lights of an idea's ladder (pure), and one against a real store."""

from __future__ import annotations

from tests.board.seed import finish, make_run
from tracker import queries
from tracker.ladder import ladder
from tracker.queries import RunRow


def row(id: str, stage: str, *, kind="stage", status="FINISHED", gates=None, start=0, **kw) -> RunRow:
    return RunRow(
        id=id, name=id, kind=kind, stage=stage, status=status, gates=gates or {}, start_time=start, **kw
    )


def colors(runs) -> list[str]:
    return [light.color for light in ladder(runs)]


def test_no_runs_is_all_grey_with_commands():
    lights = ladder([])
    assert colors([]) == ["grey"] * 6
    assert [light.detail for light in lights][4] == "idealoop run generalize --idea ID"


def test_the_newest_stage_run_decides():
    old = row("a", "overfit", gates={"overfit_one": "failed", "overfit_few": "failed"}, start=1)
    new = row("b", "overfit", gates={"overfit_one": "passed", "overfit_few": "failed"}, start=2)
    lights = ladder([new, old])
    assert colors([new, old])[2:4] == ["green", "red"]
    assert lights[2].run_id == "b" and lights[3].run_id == "b"


def test_trials_do_not_decide_the_ladder():
    trial = row("t", "generalize", kind="trial", gates={"generalize": "passed"}, start=9)
    assert colors([trial])[4] == "grey"


def test_running_and_crashed_runs():
    running = row("r", "overfit", status="RUNNING", gates={"overfit_one": "passed"})
    assert colors([running])[2:4] == ["green", "yellow"]
    crashed = row("c", "generalize", status="FAILED", end_reason="nan_loss", error="NonFiniteLoss: nan at 12")
    light = ladder([crashed])[4]
    assert (light.color, light.verdict, light.detail) == ("red", "no verdict", "NonFiniteLoss: nan at 12")


def test_baseline_recorded_is_green():
    assert colors([row("b", "baseline", gates={"baseline": "recorded"})])[1] == "green"


def test_finished_run_turns_the_light(store, make_idea):
    idea = make_idea()
    run = make_run(store, idea_id=idea, status="RUNNING", gates={"overfit_one": "passed"})
    assert colors(queries.idea_runs(store, idea))[3] == "yellow"
    finish(store, run, {"overfit_few": "passed"})
    assert colors(queries.idea_runs(store, idea))[2:4] == ["green", "green"]


def test_stage_0_check_comes_first_and_a_failed_check_says_which_and_why():
    tags = {"idealoop.gate.check_outputs": "passed", "idealoop.gate.check_gradients": "failed"}
    tags |= {"idealoop.gate.check": "failed", "idealoop.check.gradients": "no gradient: side.weight"}
    failed = row("k", "check", gates={"check": "failed"}, check_reason=queries.failed_check(tags))
    light = ladder([failed])[0]
    assert (light.rung.label, light.color) == ("check", "red")
    assert light.detail == "gradients: no gradient: side.weight"
