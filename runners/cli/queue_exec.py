"""`idealoop queue exec ITEM`: what each of the queue's Ray jobs runs (started warm by
`runners/queue/warm.py`): the item's stage as `idealoop run` runs it, its sweep as `idealoop
tune`, or its climb as `idealoop climb` (without accepting the proposal: that waits for a person
in the morning report). Every run it makes carries the item's id.
"""

from __future__ import annotations

import sys

from runners.cli.common import say


def cmd_exec(args) -> int:
    from runners.cli.common import store_of
    from tracker.queue_items import get_item
    from tracker.store import TAG_QUEUE_ITEM, Target

    store = store_of(args)
    item = get_item(store, args.id)
    tags = {TAG_QUEUE_ITEM: item.id}
    target = Target(store, item.idea_id)
    if item.what == "sweep":
        print(_sweep(store, item, tags))
    elif item.what == "climb":
        _climb(target, item, tags)
    else:
        from runners.stages import STAGES
        from runners.stages.config import resolve
        from runners.stages.run import run_stage

        stage = STAGES[item.stage]
        cfg = resolve(stage.config, None, item.overrides)
        said = lambda run: say(f"queue exec: item {item.id} → run {run.run_id}")  # noqa: E731
        run = run_stage(target, stage, cfg, progress=False, started=said, extra_tags=tags)
        print(run.run_id)
    return 0


def _sweep(store, item, tags: dict) -> str:
    import contextlib
    import os
    import tempfile

    import yaml

    from runners.sweeps.driver import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        space = os.path.join(tmp, "space.yaml")
        with open(space, "w", encoding="utf-8") as f:
            yaml.safe_dump(item.space, f)
        overrides = dict(item.overrides)
        task = overrides.pop("task", None)
        with contextlib.redirect_stdout(sys.stderr):
            settings = {**item.sweep, "stage": item.stage}
            return run_sweep(store, idea=item.idea_id, space_file=space, settings=settings,
                             task=task, overrides=overrides, extra_tags=tags)  # fmt: skip


def _climb(target, item, tags: dict) -> None:
    """The ladder up to the item's stage; a gate that stops it is the evidence, not a failure."""
    import contextlib

    from runners.climb import climb

    with contextlib.redirect_stdout(sys.stderr):
        result = climb(target, overrides=dict(item.overrides), to=item.stage, progress=False, say=say,
                       extra_tags=tags)  # fmt: skip
    for step in result.steps:
        print(step.run_id)
