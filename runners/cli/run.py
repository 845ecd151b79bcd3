"""`idealoop run STAGE`: one rung of the ladder (`runners/stages/run.py`), or `--resume RUN_ID`."""

from __future__ import annotations

from runners.cli.common import UsageError, pairs, say, store_of


def cmd_run_stage(args) -> int:
    from runners.stages import STAGES
    from runners.stages.config import resolve
    from runners.stages.run import announcement, run_stage
    from tracker.ideas import target_for

    stage = STAGES[args.stage]
    if args.force and not args.resume:
        raise UsageError("--force goes with --resume RUN_ID")
    store = store_of(args)
    if args.resume:
        cfg, target = _resumed(args, stage, store)
    else:
        flags = {"task": args.task, "seed": args.seed, "seeds": getattr(args, "seeds", None)}  # over --set
        overrides = {**pairs(args.set), **{k: v for k, v in flags.items() if v is not None}}
        cfg = resolve(stage.config, args.config, overrides)
        target = target_for(store, args.idea)  # the one idea lookup; fails before any run exists
    idea, name = target.idea_id, stage.entry_point
    run = run_stage(
        target,
        stage,
        cfg,
        progress=not args.no_progress,
        run_id=args.resume or None,
        started=lambda run: say(announcement(stage, run.run_id, target, resumed=bool(args.resume))),
    )
    print(run.run_id)
    gates = ", ".join(f"{k} {v}" for k, v in run.gates.items()) or "no gate"
    say(f"{name}: {gates}" + (f"; see `idealoop idea show {idea}`" if idea else ""))
    return 0


def _resumed(args, stage, store) -> tuple:
    """(config, target) of the run `--resume RUN_ID` continues: its own, as it logged them (its
    idea is the full id the run was tagged with: nothing to look up)."""
    from runners.stages.config import resolve
    from tracker.resume import check_resumable, saved_config
    from tracker.store import TAG_IDEA, Target

    given = [f"--{k}" for k in ("idea", "task", "seed", "seeds", "config", "set") if getattr(args, k, None)]
    if given:
        raise UsageError(f"--resume continues the run with its own config and idea; drop {', '.join(given)}")
    run = check_resumable(store, args.resume, stage.name, force=args.force)
    cfg = resolve(stage.config, None, saved_config(store, args.resume))
    if getattr(cfg, "processes", 1) > 1:
        raise UsageError(f"run {args.resume} trained data-parallel (processes>1): it cannot be resumed")
    return cfg, Target(store, run.data.tags.get(TAG_IDEA, ""))
