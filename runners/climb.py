"""One idea up the whole ladder in one process: stage 0 → baseline → overfit → generalize
(→ scale), stopping at the first failed gate; then, with a search space, an ASHA sweep of the
idea's variants; then the verdict and the proposed estimates (`idealoop climb`).

Why one process: every `idealoop` command pays its imports again (MLflow, torch and
scikit-learn: 4-6 s on 2 CPU cores, more than a digits stage trains), so climbing the ladder
as five commands spends most of its time starting up (`bench/turnaround.py` measures both).
Each step is exactly what `idealoop run STAGE` / `idealoop tune` run (`run_stage` is shared
with `idealoop run`), into the same runs nested under the idea.

The baseline is the project's for the task: one that already finished is reused, not rerun
(it is the score every idea of the task must beat, not a property of the idea).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runners.stages.run import announcement, run_stage
from runners.stages.table import STAGES
from tracker.ladder import stages_up_to

CLIMB_TO = ("generalize", "scale")  # where a climb may end: the rungs that judge the idea
CLIMB_KEYS = ("task", "seed", "seeds", "device")  # the config keys a climb passes to every rung
# What the stages import (torch, its optimizers' dynamo, scikit-learn: ~5 s on 2 CPU cores),
# loaded while Ray starts. None of them imports Ray (see `cluster.connect`).
STAGE_MODULES = (
    "torch", "torch._dynamo", "sklearn.datasets", "sklearn.linear_model", "runners.tasks.digits",
    "runners.stages.check", "runners.stages.baseline", "runners.stages.overfit", "runners.stages.generalize",
)  # fmt: skip


@dataclass
class Step:
    """One rung climbed: its run, its gates (name → passed/failed), its wall seconds."""

    name: str  # check, baseline, overfit, generalize, scale, sweep
    run_id: str
    gates: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""  # what else to say about it (a reused baseline, the sweep's best trial)

    @property
    def failed(self) -> list[str]:
        return [name for name, verdict in self.gates.items() if verdict == "failed"]


@dataclass
class Climb:
    """What a climb did: the rungs, where it stopped (a failed gate), the assessment."""

    idea_id: str
    steps: list[Step] = field(default_factory=list)
    stopped_at: str = ""  # the stage whose gate failed; "" when it climbed to the top
    assessment: object | None = None  # tracker.outcomes.Assessment, when there was evidence
    accepted_revision: int | None = None


def rungs(to: str = "generalize") -> list[str]:
    """The stages a climb runs, in order, up to and including `to`."""
    if to not in CLIMB_TO:
        raise ValueError(f"a climb ends at {' or '.join(CLIMB_TO)}, not {to!r}")
    return stages_up_to(to)


def climb(
    target,
    *,
    overrides: dict,
    to: str = "generalize",
    space_file: str | None = None,
    sweep_settings: dict | None = None,
    accept: bool = False,
    author: str | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
    address: str | None = None,
    extra_tags: dict | None = None,
) -> Climb:
    """Climb `target`'s idea up the ladder (see the module docstring).

    `overrides`: config keys every stage takes where it has them (task, seed, seeds, device).
    `space_file` + `sweep_settings`: the sweep after the last rung, on `address`'s Ray
    (RAY_ADDRESS; default a private local Ray, started before the stages). `extra_tags` go on
    the stage runs it makes (a queue item's id).
    """
    if not space_file:
        return _climb(target, overrides, to, None, {}, accept, author, progress, say, None, extra_tags)
    from runners.sweeps import cluster
    from runners.sweeps.driver import check_inputs

    fixed = {k: v for k, v in overrides.items() if k != "task" and v is not None}
    # A bad space or sweep setting: one line now, not after the stages have run.
    check_inputs(settings=dict(sweep_settings or {}), space_file=space_file, task=overrides.get("task"),
                 overrides=fixed)  # fmt: skip
    # Ray starts first, while the stages' imports load in a thread (`cluster.connect(preload=)`):
    # its seconds of start-up then cost nothing, where after the stages they would be waited for.
    started = cluster.connect(address, preload=STAGE_MODULES)
    try:
        settings = sweep_settings or {}
        return _climb(
            target, overrides, to, space_file, settings, accept, author, progress, say, address, extra_tags
        )
    finally:
        if started:
            cluster.shutdown()


def _climb(
    target, overrides, to, space_file, sweep_settings, accept, author, progress, say, address, extra_tags=None
) -> Climb:
    from runners.stages.config import resolve

    store, result = target.store, Climb(idea_id=target.idea_id)
    for name in rungs(to):
        stage = STAGES[name]
        fields = stage.config.__dataclass_fields__
        cfg = resolve(
            stage.config, None, {k: v for k, v in overrides.items() if k in fields and v is not None}
        )
        if name == "baseline":
            reused = _project_baseline(store, cfg.task)
            if reused:
                result.steps.append(Step(name, reused[1], note=f"the project's, reused: {reused[0]}"))
                say(f"climb: baseline: the project's for {cfg.task} ({reused[0]}, run {reused[1]}), reused")
                continue
        t0 = time.perf_counter()
        run = run_stage(
            target,
            stage,
            cfg,
            progress=progress,
            started=lambda r, s=stage: say(announcement(s, r.run_id, target)),
            extra_tags=extra_tags,
        )
        step = Step(name, run.run_id, dict(run.gates), time.perf_counter() - t0)
        result.steps.append(step)
        if step.failed:
            result.stopped_at = name
            say(f"climb: stopped at {stage.entry_point}: {', '.join(step.failed)} failed (run {run.run_id})")
            return result
    if space_file:
        result.steps.append(_sweep(target, overrides, space_file, sweep_settings, address))
    _judge(result, store, accept=accept, author=author)
    return result


def _project_baseline(store, task: str) -> tuple[str, str] | None:
    """("val accuracy 0.9442", run id) of the project's best finished baseline on `task`."""
    from runners.tasks.base import load_task
    from tracker import keys
    from tracker.runs import best_metric

    spec = load_task(task)
    metric = f"{keys.BASELINE_PREFIX}{spec.target_metric}"
    found = best_metric(store, "baseline", metric, task=task, higher_is_better=spec.higher_is_better)
    return (f"val {spec.target_metric} {found[0]:.4g}", found[1]) if found else None


def _sweep(target, overrides: dict, space_file: str, settings: dict, address: str | None) -> Step:
    from runners.sweeps.driver import run_sweep
    from tracker.store import TAG_BEST_TRIAL

    t0 = time.perf_counter()
    fixed = {k: v for k, v in overrides.items() if k != "task" and v is not None}
    sweep_id = run_sweep(
        target.store,
        idea=target.idea_id,
        space_file=space_file,
        settings=settings,
        task=overrides.get("task"),
        overrides=fixed,
        address=address,
    )
    best = target.store.client.get_run(sweep_id).data.tags.get(TAG_BEST_TRIAL)
    note = f"best trial run {best}" if best else "no trial finished"
    return Step("sweep", sweep_id, seconds=time.perf_counter() - t0, note=note)


def _judge(result: Climb, store, *, accept: bool, author: str | None) -> None:
    from tracker.outcomes import accept as accept_proposal
    from tracker.outcomes import assess

    result.assessment = assess(store, result.idea_id)
    if accept and result.assessment.proposal is not None:
        result.accepted_revision = accept_proposal(store, result.idea_id, result.assessment, author=author)
