"""baseline: is deep learning needed at all? A non-deep-learning model on the same split.

"Implement non-deep learning baselines to make sure that deep learning is necessary
in the first place." The task's baseline (by default: logistic regression for
classification, the per-pixel majority class for segmentation, the identity for
image-to-image) is scored on the same val split with the same metrics. It records
the score to beat as `baseline/<metric>` (and `val/<metric>`), gate `recorded`; per-class
values (`f1/<class>`, `iou/<class>`) go to the `metrics/per_class.jsonl` artifact as
epoch 0, as a training run's do (tracker/artifacts.py), not into the run's metric keys.
"""

from __future__ import annotations

import sys
import time

from runners.stages.config import BaselineConfig, as_dict
from runners.stages.generalize import target_tags
from runners.tasks import kinds
from runners.tasks.base import Task, load_task
from runners.training.trainer import seed_everything
from tracker import keys
from tracker.artifacts import PER_CLASS_FILE, PerClassFile, split_per_class
from tracker.runs import StageRun
from tracker.store import TAG_BASELINE_SCORE, TAG_GATE_PREFIX

STAGE = "baseline"


def run_baseline(cfg: BaselineConfig, run: StageRun, *, task: Task | None = None, **_) -> dict[str, float]:
    seed_everything(cfg.seed)
    task = task or load_task(cfg.task, seed=cfg.seed)
    run.log_params({**as_dict(cfg), "stage": STAGE})
    run.log_dict(as_dict(cfg), "config.json")
    t0 = time.perf_counter()
    metrics = kinds.baseline_fn(task)(task, cfg.seed)
    seconds = time.perf_counter() - t0
    head, per = split_per_class(metrics)
    run.writer.log_dict(
        {
            **{f"{keys.BASELINE_PREFIX}{k}": v for k, v in head.items()},
            **{f"{keys.VAL_PREFIX}{k}": v for k, v in head.items()},
            keys.BASELINE_FIT_SECONDS: seconds,
        },
        0,
    )
    if per:
        per_class = PerClassFile()
        per_class.add(0, per)
        run.writer.log_artifact(per_class.writer(), PER_CLASS_FILE)
    target = task.target_metric
    score = metrics.get(target, float("nan"))
    run.set_tags(
        {f"{TAG_GATE_PREFIX}{STAGE}": "recorded", TAG_BASELINE_SCORE: f"{score:.6g}", **target_tags(task)}
    )
    run.gates[STAGE] = "recorded"
    print(f"baseline: val {target} {score:.4g} is the score to beat ({seconds:.1f} s)", file=sys.stderr)
    return metrics
