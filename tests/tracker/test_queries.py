"""tracker/queries.py: runs as rows and trees, ranked ideas, the project's best, on a real store."""

from __future__ import annotations

from tests.board.seed import seed_board
from tracker import queries
from tracker.ladder import ladder
from tracker.queries import RunRow


def row(id: str, stage: str, *, kind="stage", status="FINISHED", gates=None, start=0, **kw) -> RunRow:
    return RunRow(
        id=id, name=id, kind=kind, stage=stage, status=status, gates=gates or {}, start_time=start, **kw
    )


def colors(runs) -> list[str]:
    return [light.color for light in ladder(runs)]


def test_seeded_store_reads_back_per_the_contract(store):
    s = seed_board(store)
    rows = queries.idea_runs(store, s.ideas["Tune learning rate"])
    assert colors(rows) == ["grey", "green", "green", "green", "red", "grey"]  # no stage 0 (check) seeded
    by_id = {r.id: r for r in rows}
    gen = by_id[s.runs["generalize"]]
    assert gen.flags == {
        "exploding_grad": "grads/0.weight at step 120: max |g| 3.2e4",
        "slow_batch": "step 7 took 2.1 s",
    }
    assert by_id[s.trials[1]].why_ended == "stopped_by_asha at iteration 2"
    assert by_id[s.runs["sweep"]].best_trial == s.trials[2]
    tree = [(depth, r.name) for depth, r in queries.runs_tree(rows)]
    assert tree == [
        (0, "stage_baseline"),
        (0, "stage_overfit"),
        (0, "stage_generalize"),
        (0, "tune_generalize"),
        (1, "trial_0"),
        (1, "trial_1"),
        (1, "trial_2"),
    ]
    assert queries.baseline_value(rows, "val/accuracy") == (0.85, s.runs["baseline"])
    # the best final val/accuracy of any run: trial_2 (0.6 + 0.08 x 3), the best val/loss is min
    assert queries.project_best(rows, "val/accuracy") == (0.84, s.trials[2])
    assert queries.project_best(rows, "val/loss")[0] == 0.5


def test_orphan_trial_stays_visible():
    trial = row("t", "generalize", kind="trial", parent_id="gone")
    assert queries.runs_tree([trial]) == [(0, trial)]


def test_ranked_ideas_agree_with_list_ideas(store):
    from tracker.ideas import list_ideas

    seed_board(store)
    fast = queries.ranked_ideas(store)
    slow = list_ideas(store)
    # the board's one-query counts must match loading every linked run
    assert [(i.id, n) for i, n in fast] == [(i.id, len(i.run_ids)) for i in slow]
    assert [n for _, n in fast] == [7, 1, 0]


def test_project_best_follows_the_runs_target_direction():
    # `dice_error` reads like "lower is better" by name; the runs' tags say it is maximised here.
    tagged = dict(target="dice_error", higher_is_better=True)
    a = row("a", "generalize", metrics={"val/dice_error": 0.2}, **tagged)
    b = row("b", "generalize", metrics={"val/dice_error": 0.7}, **tagged)
    assert queries.project_best([a, b], "val/dice_error") == (0.7, "b")
    # And `miou` by name would be maximised; tagged lower-is-better, the minimum wins.
    c = row("c", "scale", metrics={"best/miou": 0.3}, target="miou", higher_is_better=False)
    d = row("d", "scale", metrics={"best/miou": 0.5}, target="miou", higher_is_better=False)
    assert queries.project_best([c, d], "best/miou") == (0.3, "c")
    # Untagged keys keep the name rule: losses and l1 are minimised.
    assert queries.project_best([a, b], "val/loss") is None
    e = row("e", "generalize", metrics={"val/l1": 0.05})
    f = row("f", "generalize", metrics={"val/l1": 0.02})
    assert queries.project_best([e, f], "val/l1") == (0.02, "f")
    assert queries.baseline_key("val/miou") == "baseline/miou"


def test_rows_carry_their_config_and_best_score(store):
    s = seed_board(store)
    by_id = {r.id: r for r in queries.idea_runs(store, s.ideas["Tune learning rate"])}
    trial = by_id[s.trials[2]]
    assert trial.config["lr"] == "0.003" and trial.config["width"] == "256"
    assert "trial.lr" not in trial.config and "stage" not in trial.config
    assert trial.best == 0.84  # best/accuracy, on its own target
    assert by_id[s.runs["overfit"]].best is None  # no target: nothing to judge
    sweep = by_id[s.runs["sweep"]]
    assert queries.best_score(sweep, "accuracy") == 0.84
    assert queries.best_trial(sweep, list(by_id.values()), "accuracy", True).id == s.trials[2]
    assert queries.judged_by(list(by_id.values())) == ("accuracy", True)
