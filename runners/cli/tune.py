"""`idealoop tune`'s command line: its arguments, and the command that runs or resumes a sweep.

Only the standard library at import (the parser is built on every `idealoop` call); Ray and
MLflow load when the command runs (`runners/sweeps/driver.py`).
"""

from __future__ import annotations

import sys
from dataclasses import fields

from runners.sweeps.driver import resume_sweep, run_sweep
from runners.sweeps.settings import SweepError, SweepSettings


def add_arguments(p) -> None:
    p.add_argument("--idea", default="", help="idea id: the sweep and its trials are nested under it")
    p.add_argument("--stage", default="", help="stage every trial runs: generalize (default) | scale")
    p.add_argument("--space", default="", help="YAML search space (see examples/space.yaml)")
    p.add_argument("--task", default="", help="built-in task (digits) or package.module:function")
    for name, what in (
        ("num-samples", "configs sampled from the space (default 8)"),
        ("max-concurrent", "trials running at once (default 2)"),
        ("cpus-per-trial", "Ray CPUs per trial (default 1)"),
        ("gpus-per-trial", "Ray GPUs per trial; fractions share a GPU (default 0)"),
        ("max-iterations", "epochs of a trial never stopped (default: the stage's epochs)"),
        ("grace-period", "epochs before ASHA may stop a trial (default 1)"),
        ("reduction-factor", "ASHA keeps 1/R of the trials at each rung (default 2)"),
    ):
        p.add_argument(f"--{name}", default="", help=what)
    p.add_argument(
        "--address", default="", help="Ray cluster to attach to (env RAY_ADDRESS; default: local Ray)"
    )
    p.add_argument("--storage-path", default="", help="where Ray keeps checkpoints (default ./ray_results)")
    p.add_argument("--resume", default="", metavar="SWEEP", help="finish the sweep whose driver died")
    p.add_argument("--config", default="", help="YAML/JSON file of fixed config overrides")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="fix one config key for every trial")
    p.add_argument(
        "--seeds", default="", help="seeds per trial, trained packed in its process; ASHA judges their mean"
    )


def cmd_tune(args, store, pairs: dict) -> int:
    import contextlib

    from tracker.store import TAG_IDEA  # mlflow: not on the --help path

    # stdout carries only the sweep id (`sweep=$(idealoop tune ...)`); Ray prints banners there.
    with contextlib.redirect_stdout(sys.stderr):
        sweep_id = _tune(args, store, pairs)
    print(sweep_id)
    idea = store.client.get_run(sweep_id).data.tags.get(TAG_IDEA, "")
    print(f"tune: see `idealoop idea show {idea}`", file=sys.stderr)
    return 0


def _tune(args, store, pairs: dict) -> str:
    if args.resume:
        sweep_id = resume_sweep(store, args.resume, address=args.address or None)
    else:
        if not args.idea or not args.space:
            raise SweepError("tune needs --idea ID and --space FILE (or --resume SWEEP)")
        from runners.stages.config import load_file

        overrides = {**(load_file(args.config) if args.config else {}), **pairs}
        if args.seeds:  # --seeds wins over --set seeds=, as --seed does on `run`
            overrides["seeds"] = args.seeds
        settings = {k: getattr(args, k) for k in (f.name for f in fields(SweepSettings))}
        sweep_id = run_sweep(
            store,
            idea=args.idea,
            space_file=args.space,
            settings=settings,
            task=args.task or None,
            overrides=overrides,
            address=args.address or None,
            storage_path=args.storage_path or None,
        )
    return sweep_id
