"""One stage, run the way every command runs it: `idealoop run STAGE`, `idealoop climb`.

The task is loaded and checked, and the first batch pre-flighted, before the run exists, so a
broken task is one line in seconds and leaves no run behind; then the stage's code runs inside
a stage run nested under the idea.
"""

from __future__ import annotations

from runners.stages.table import Stage


def run_stage(
    target,
    stage: Stage,
    cfg,
    *,
    progress: bool = True,
    run_id: str | None = None,
    started=None,
    extra_tags=None,
):
    """One stage in a run nested under the target's idea (what `idealoop run STAGE` runs).

    The task is loaded and the stage's config checked against it, and the first batch
    pre-flighted, before any run exists: a broken task is one line in seconds. Returns the
    ended `StageRun` (its `gates`). `extra_tags` go on the run (a queue item's id)."""
    from runners.tasks.base import load_task
    from tracker.runs import stage_run

    task = load_task(cfg.task, seed=cfg.seed)  # a bad task fails here, before any run exists
    if hasattr(cfg, "check_task"):
        cfg.check_task(task)  # e.g. critic=true on a segmentation task: also before any run
    if stage.name != "check":  # stage_check records these as gates; the others stop here, in seconds
        from runners.stages.check import preflight_stage

        preflight_stage(cfg, task)
    named = {"run_name": stage.entry_point, "task": cfg.task, "run_id": run_id, "extra_tags": extra_tags}
    with stage_run(target, stage=stage.name, **named) as run:
        if started is not None:
            started(run)
        stage.function()(cfg, run, task=task, progress=progress)
    return run


def announcement(stage: Stage, run_id: str, target, *, resumed: bool = False) -> str:
    """The line a stage says when its run exists (stderr); the board's jobs find their run by it."""
    idea = target.idea_id
    what = "resumes run" if resumed else "run"
    project = target.store.project
    return f"{stage.entry_point}: {what} {run_id} in project {project!r}" + (f", idea {idea}" if idea else "")
