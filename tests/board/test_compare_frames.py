"""board/compare_frames.py: legend labels that tell runs apart, and the one-row-per-run table."""

from __future__ import annotations

from board.compare_frames import final_table, legend_labels
from tracker.queries import RunRow


def run(id: str, stage: str = "generalize", **params: object) -> RunRow:
    return RunRow(
        id=id * 8 + "rest", name=f"train_trial_{id}", kind="trial", stage=stage, status="FINISHED",
        params={k: str(v) for k, v in params.items()},
        metrics={"val/accuracy": 0.8, "best/accuracy": 0.82, "hist/weights/0/mean": 0.1},
        target="accuracy",
    )  # fmt: skip


def test_labels_name_the_first_differing_keys():
    runs = [
        run("a", lr=0.001, width=64, depth=2, seed=0, batch_size=32),
        run("b", lr=0.003, width=128, depth=3, seed=1, batch_size=64),
    ]
    labels = legend_labels(runs)
    # three keys (lr, width, depth first), not all five: a legend entry stays short
    assert labels == {runs[0].id: "lr=1e-3 width=64 depth=2", runs[1].id: "lr=3e-3 width=128 depth=3"}


def test_labels_take_more_keys_only_to_tell_runs_apart():
    runs = [run("a", lr=0.001, width=64, depth=2, seed=0), run("b", lr=0.001, width=64, depth=2, seed=1)]
    labels = legend_labels(runs)
    assert labels[runs[0].id].endswith("seed=0") and labels[runs[1].id].endswith("seed=1")


def test_labels_fall_back_to_the_stage_and_the_short_id():
    same = [run("a", lr=0.001), run("b", lr=0.001)]
    assert legend_labels(same) == {same[0].id: "aaaaaaaa", same[1].id: "bbbbbbbb"}
    mixed = [run("a", stage="overfit", lr=0.001), run("b", lr=0.001)]
    assert legend_labels(mixed) == {mixed[0].id: "overfit", mixed[1].id: "generalize"}
    twins = [run("a", stage="overfit"), run("b", stage="overfit"), run("c", stage="generalize")]
    assert list(legend_labels(twins).values()) == ["overfit · aaaaaaaa", "overfit · bbbbbbbb", "generalize"]


def test_final_table_keeps_headlines_and_drops_per_tensor_columns():
    runs = [run("a", lr=0.001, seed=0), run("b", lr=0.003, seed=0)]
    table, shared = final_table(runs, legend_labels(runs), {})
    assert list(table["run"]) == ["lr=1e-3", "lr=3e-3"]
    assert list(table.columns) == ["run", "stage", "ended", "accuracy", "best accuracy", "lr", "id"]
    assert shared == "seed=0"
