"""The finish line on the Ideas page and in `idealoop project`: target, gap, progress, weak classes."""

from __future__ import annotations

import json

from runners.cli import main
from tracker.store import TAG_IDEA, TAG_KIND, TAG_PARENT, TAG_STAGE, TAG_TASK

MATRIX = {"labels": ["0", "1", "2"], "matrix": [[8, 1, 1], [1, 17, 2], [0, 0, 10]]}


def best_run(store, idea: str, accuracy: float) -> str:
    tags = {TAG_KIND: "stage", TAG_STAGE: "generalize", TAG_TASK: "digits", TAG_IDEA: idea, TAG_PARENT: idea}
    run_id = store.client.create_run(store.experiment_id, run_name="stage_generalize", tags=tags).info.run_id
    store.client.log_metric(run_id, "best/accuracy", accuracy)
    store.client.log_dict(run_id, MATRIX, "samples/confusion_epoch_0003.json")
    store.client.log_text(run_id, "png", "samples/epoch_0003.png")
    store.client.set_terminated(run_id)
    return run_id


def test_target_gap_progress_and_weak_classes_on_the_board_and_the_cli(store, make_idea, page, capsys):
    idea = make_idea("wider", impact=0.05)
    make_idea("tiny tweak", impact=0.001)
    run_id = best_run(store, idea, 0.95)
    assert main(["project", "target", "--task", "digits", "--metric", "f1_macro", "--value", "0.99"]) == 2
    assert "judged by 'accuracy'" in capsys.readouterr().err
    assert main(["project", "target", "--task", "digits", "--metric", "accuracy", "--value", "0.99"]) == 0
    out = capsys.readouterr().out
    assert "best    0.95 by run" in out and "0.04 to go" in out
    assert main(["project", "weak", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["run"] == run_id and [w["name"] for w in found["weak"]] == [
        "0",
        "1",
    ]  # 8/10, 17/20 below mean

    at = page("ideas")
    assert not at.exception
    assert [m.value for m in at.metric] == ["≥ 0.99", "0.95", "0.04"]
    flagged = [m.value for m in at.markdown if "Would reach the target" in m.value]
    assert len(flagged) == 1 and "wider" in flagged[0] and "tiny tweak" not in flagged[0]  # 0.05 >= gap 0.04
    assert any("class 0" in m.value and "recall 0.800" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Turn into an idea").click().run()
    assert at.text_input(key="add_title").value.startswith("Improve class 0 (recall 0.80")
    assert at.text_input(key="add_category").value == "weak class"
    assert float(at.text_input(key="add_impact").value) == round(0.25 * ((0.8 + 0.85 + 1) / 3 - 0.8), 4)
