"""`idealoop project`: the project's target (`project target`) and its weak classes (`project weak`).

    idealoop project target --task digits --metric accuracy --value 0.99   # set (a new revision)
    idealoop project target                                                # show, with history and gap
    idealoop project weak [--json]                                         # weakest classes of the best run

The target's metric must be the task's target metric (the one every run's `best/<metric>`
holds), and its direction is the task's: both come from loading the task, once, here.
"""

from __future__ import annotations

import json
import os
import sys

from runners.cli.common import UsageError, say


def add_arguments(p, common) -> None:
    sub = p.add_subparsers(dest="project_command", required=True)
    target = sub.add_parser("target", parents=[common], help="set or show the project's target")
    target.add_argument("--task", help="built-in task or package.module:function")
    target.add_argument("--metric", help="the task's target metric, e.g. accuracy")
    target.add_argument("--value", help="the score that is sufficient, e.g. 0.99")
    target.add_argument("--json", action="store_true")
    target.set_defaults(func=cmd_target)
    weak = sub.add_parser("weak", parents=[common], help="the best run's weakest classes, as idea seeds")
    weak.add_argument("--top", type=int, default=3, help="classes listed (default 3)")
    weak.add_argument("--json", action="store_true")
    weak.set_defaults(func=cmd_weak)


def cmd_target(args) -> int:
    from runners.cli.common import store_of
    from tracker import project

    store = store_of(args)
    given = [args.task, args.metric, args.value]
    if any(given) and not all(given):
        raise UsageError("setting a target needs --task, --metric and --value together")
    if all(given):
        new = project.set_target(store, **_checked(args.task, args.metric, args.value))
        say(f"project {store.project!r}: target {new.describe()} (revision {new.revision})")
    target = project.current_target(store)
    if target is None:
        raise UsageError(
            "no target set; set one: idealoop project target --task digits --metric accuracy --value 0.99"
        )
    from tracker.queries import project_runs

    rows, _ = project_runs(store)
    best = project.best_so_far(rows, target)
    remaining = project.gap(best[0] if best else None, target)
    out = {
        "target": target.__dict__,
        "best": best[0] if best else None,
        "best_run": best[1].id if best else None,
        "gap": remaining,
        "history": [t.__dict__ for t in project.target_history(store)],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"target  {target.describe()}  (set by {target.author or '?'}, revision {target.revision})")
    if best is None:
        print("best    no run on this task has the metric yet")
    else:
        state = "reached" if remaining <= 0 else f"{remaining:.4g} to go"
        print(f"best    {best[0]:.4g} by run {best[1].id} ({best[1].name}); {state}")
    for t in out["history"][:-1]:
        print(f"earlier revision {t['revision']}: {t['task']} {t['metric']} {t['value']:g}")
    return 0


def _checked(task_spec: str, metric: str, value: str) -> dict:
    from runners.tasks.base import target_direction

    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"--value {value!r} is not a number") from None
    higher = target_direction(task_spec, metric)
    return {"task": task_spec, "metric": metric, "value": number, "higher_is_better": higher}


def cmd_weak(args) -> int:
    from runners.cli.common import store_of
    from tracker import project, weak
    from tracker.queries import project_runs

    store = store_of(args)
    target = project.current_target(store)
    if target is None:
        raise UsageError("no target set: the weak classes are read from the best run on the target's task")
    rows, _ = project_runs(store)
    best = weak.source_run(rows, target)
    if best is None:
        raise UsageError(f"no run on task {target.task!r} has {target.metric!r} yet")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stderr is for our lines
    source, found = weak.weak_of_run(store, best[1].id, args.top)
    if args.json:
        print(
            json.dumps({"run": best[1].id, "source": source, "weak": [w.__dict__ for w in found]}, indent=2)
        )
        return 0
    run = f"run {best[1].id} ({best[1].name}, {target.metric} {best[0]:.4g})"
    print(f"weakest classes of {run}, from its {source}:")
    if not found:
        print("  none below the mean")
    for w in found:
        support = f", {w.support} samples" if w.support else ""
        print(
            f"  {w.name:>10}  {w.metric} {w.value:.3f} vs mean {w.mean:.3f}, {w.share:.1%} of val{support}: "
            f"impact ~{w.gain:.4f} {target.metric} if it rose to the mean"
        )
    print(
        "turn one into an idea on the board (Ideas page, Weak spots) or with `idealoop idea add`",
        file=sys.stderr,
    )
    return 0
