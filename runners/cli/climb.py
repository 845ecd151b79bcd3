"""`idealoop climb`: one idea from stage 0 to its verdict in one command (`runners/climb.py`).

    idealoop climb --idea ID [--space space.yaml --num-samples 8 --seeds 4] [--device cuda] [--accept]

Prints one line per rung (its gates, seconds and run), then the verdict and the proposed
estimates, as `idea outcome` does; `--json` prints all of it as JSON instead. Exit 0 when the
idea climbed to the top, 1 when a gate stopped it (the runs are there to look at), 2 for bad
input (nothing run). Only the standard library at import: the parser is built on every call.
"""

from __future__ import annotations

import json
import sys

from runners.cli.common import EXIT_FAILED, UsageError, say, store_of

SWEEP_KEYS = ("num-samples", "max-concurrent", "max-iterations", "cpus-per-trial", "gpus-per-trial")


def add_arguments(p) -> None:
    p.add_argument("--idea", required=True, help="idea id (or a unique prefix): every run is nested under it")
    p.add_argument("--task", help="built-in task (digits, shapes, denoise) or package.module:function")
    p.add_argument("--seed", help="random seed (default 0)")
    p.add_argument(
        "--seeds", help="seeds trained packed in each stage and trial (default 1); gates on the mean"
    )
    p.add_argument(
        "--device",
        help="auto | cpu | cuda | cuda:N for every rung that trains, stage_check too (default: each's own)",
    )
    p.add_argument(
        "--to",
        default="generalize",
        choices=("generalize", "scale"),
        help="the last rung (default generalize)",
    )
    p.add_argument(
        "--space", default="", help="YAML search space: sweep the idea's variants after the last rung"
    )
    for key in SWEEP_KEYS:
        p.add_argument(f"--{key}", default="", help="with --space: as for `idealoop tune`")
    p.add_argument(
        "--address", default="", help="with --space: the Ray cluster (env RAY_ADDRESS; default local Ray)"
    )
    p.add_argument("--accept", action="store_true", help="append the proposed estimates as a revision")
    p.add_argument(
        "--author", help="who accepts (env IDEALOOP_USER; else the server's user, else the OS user)"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="the climb as JSON on stdout")


def cmd_climb(args) -> int:
    import contextlib

    from runners.climb import climb
    from tracker.ideas import target_for

    sweep_given = [f"--{k}" for k in (*SWEEP_KEYS, "address") if getattr(args, k.replace("-", "_"))]
    if sweep_given and not args.space:
        raise UsageError(f"{', '.join(sweep_given)} go with --space FILE (the sweep after the last rung)")
    store = store_of(args)
    target = target_for(store, args.idea)  # the one idea lookup; fails before any run exists
    overrides = {"task": args.task, "seed": args.seed, "seeds": args.seeds, "device": args.device}
    settings = {k.replace("-", "_"): getattr(args, k.replace("-", "_")) for k in SWEEP_KEYS}
    # stdout is for the result; stage progress, Ray's banners and the sweep's lines go to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        result = climb(
            target,
            overrides=overrides,
            to=args.to,
            space_file=args.space or None,
            sweep_settings={**settings, "stage": args.to},
            accept=args.accept,
            author=args.author,
            progress=not args.no_progress,
            say=say,
            address=args.address or None,
        )
    if args.json:
        print(json.dumps(_as_dict(result), indent=2, default=str))
    else:
        _print(result, accept=args.accept)
    return EXIT_FAILED if result.stopped_at else 0


def _print(result, *, accept: bool) -> None:
    from runners.cli.ideas import print_assessment
    from runners.stages import STAGES

    for step in result.steps:
        label = STAGES[step.name].entry_point if step.name in STAGES else step.name
        if step.failed:
            what = f"FAILED {', '.join(step.failed)}"
        elif step.gates:
            what = ", ".join(f"{k} {v}" for k, v in step.gates.items())
            if len(step.gates) > 2:
                what = f"{len(step.gates)} gates passed"
        else:
            what = step.note or "done"
        took = f"{step.seconds:5.1f} s" if step.seconds else " " * 7
        print(f"{label:<17} {what[:70]:<70} {took}  run {step.run_id}")
    if result.stopped_at:
        print(f"stopped at {STAGES[result.stopped_at].entry_point}: fix what failed, then climb again")
        return
    a = result.assessment
    if a is None or a.proposal is None:
        print("no verdict yet: nothing to compare with (no baseline on this task)")
        return
    print_assessment(a)
    if accept:
        say(f"accepted: revision #{result.accepted_revision} (source evidence)")
    else:
        say("not written: add --accept to append these estimates as a revision")


def _as_dict(result) -> dict:
    a = result.assessment
    return {
        "idea_id": result.idea_id,
        "steps": [
            {
                "stage": s.name,
                "run_id": s.run_id,
                "gates": s.gates,
                "seconds": round(s.seconds, 2),
                "note": s.note,
            }
            for s in result.steps
        ],
        "stopped_at": result.stopped_at or None,
        "assessment": a.as_dict() if a is not None else None,
        "accepted_revision": result.accepted_revision,
    }
