"""`idealoop queue …`: the overnight queue's command line (add, list, remove, priority, start,
stop, report) and `queue exec`, what each of the queue's Ray jobs runs.

Everything is checked when an item is added (the idea, the stage, the task, the config
overrides, a sweep's space and settings), so a queued item does not fail at 3 a.m. on a
typo. The queue itself lives in MLflow (`tracker/queue_items.py`); the driver is
`runners/queue/driver.py`. Ray and MLflow load only when a command runs.
"""

from __future__ import annotations

import json
import re
import sys
import time

from runners.cli.common import UsageError, pairs, say
from runners.cli.queue_exec import cmd_exec

UNTIL_HELP = "deadline: HH:MM (the next such time, local), or +N[s|m|h] from now"
ITEM_FIELDS = ("id", "state", "what", "stage", "task", "cpus", "gpus", "minutes", "priority", "reason")


def add_parsers(sub, common) -> None:
    q = sub.add_parser("queue", help="the overnight queue: ranked items as Ray jobs until a deadline")
    qs = q.add_subparsers(dest="queue_command", required=True)

    add = qs.add_parser("add", parents=[common], help="queue an idea's stage, sweep or climb; prints its id")
    add.add_argument("--idea", required=True, help="idea id (or a unique prefix)")
    add.add_argument("--stage", default="", help="stage to run: baseline | overfit | generalize | scale")
    add.add_argument("--sweep", default="", metavar="SPACE.yaml", help="a sweep over this space instead")
    add.add_argument("--sweep-stage", default="generalize", help="the stage a sweep's trials run")
    add.add_argument("--climb", action="store_true", help="the ladder from stage 0 up to a failed gate")
    add.add_argument("--to", default="generalize", choices=("generalize", "scale"), help="a climb's top rung")
    add.add_argument("--num-samples", default="", help="sweep: configs sampled (default 8)")
    add.add_argument("--max-concurrent", default="", help="sweep: trials at once (default 2)")
    add.add_argument("--max-iterations", default="", help="sweep: epochs of a trial never stopped")
    add.add_argument("--task", default="", help="task (default: the stage's, digits)")
    add.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key")
    add.add_argument("--cpus", default="1", help="Ray CPUs it holds (a sweep: per trial); default 1")
    add.add_argument("--gpus", default="0", help="Ray GPUs it holds, fractions share a GPU; default 0")
    add.add_argument("--minutes", default="", help="estimated minutes (default: from the stage's history)")
    add.add_argument("--priority", default="", help="explicit priority, higher first (default: by rank)")
    add.set_defaults(func=cmd_add)

    ls = qs.add_parser("list", parents=[common], help="queued items in the order they will run")
    ls.add_argument("--all", action="store_true", help="also items that ran, failed, were skipped")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    rm = qs.add_parser("remove", parents=[common], help="take a queued item out")
    rm.add_argument("id")
    rm.set_defaults(func=cmd_remove)

    pr = qs.add_parser("priority", parents=[common], help="set an item's priority (none: back to rank)")
    pr.add_argument("id")
    pr.add_argument("priority", help="a number, higher runs first; `none` for the rank order")
    pr.set_defaults(func=cmd_priority)

    st = qs.add_parser("start", parents=[common], help="run the queue on Ray until a deadline")
    st.add_argument("--until", required=True, help=UNTIL_HELP)
    st.add_argument("--budget-gpu-hours", default="", help="stop starting (and stop) GPU items past this")
    st.add_argument("--address", default="", help="Ray cluster: http://HEAD:8265 (env RAY_ADDRESS)")
    st.add_argument("--num-cpus", type=int, help="a local Ray head's CPUs (default: all)")
    st.add_argument("--num-gpus", type=int, help="a local Ray head's GPUs (default: detected)")
    st.add_argument("--poll", type=float, default=2.0, help="seconds between looks at Ray (default 2)")
    st.set_defaults(func=cmd_start)

    sp = qs.add_parser("stop", parents=[common], help="stop the queue: running items end KILLED")
    sp.add_argument("--wait", type=float, default=120.0, help="seconds to wait for it (default 120)")
    sp.set_defaults(func=cmd_stop)

    rp = qs.add_parser("report", parents=[common], help="the morning report of the newest session")
    rp.add_argument("--session", default="", help="another session's id")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_report)

    ex = qs.add_parser("exec", parents=[common], help="run one queue item here (what each Ray job runs)")
    ex.add_argument("id")
    ex.set_defaults(func=cmd_exec)


def parse_until(text: str, now: float | None = None) -> int:
    """`HH:MM` (the next such local time) or `+N[s|m|h]` → ms since the epoch."""
    now = time.time() if now is None else now
    text = text.strip()
    if m := re.fullmatch(r"\+(\d+(?:\.\d+)?)([smh]?)", text):
        return int((now + float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "": 60}[m.group(2)]) * 1000)
    if m := re.fullmatch(r"(\d{1,2}):(\d{2})", text):
        hh, mm = int(m.group(1)), int(m.group(2))
        if hh < 24 and mm < 60:
            t = time.localtime(now)
            at = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, hh, mm, 0, 0, 0, -1))
            return int((at if at > now else at + 86400) * 1000)  # DST shifts an hour at most
    raise UsageError(f"--until {text[:40]!r} is not HH:MM or +N[s|m|h]")


def _store(args):
    from runners.cli.common import store_of

    return store_of(args)


def cmd_add(args) -> int:
    from runners.stages import STAGES
    from runners.stages.config import resolve
    from runners.tasks.base import load_task
    from tracker.ideas import target_for
    from tracker.queue_items import add_item, check_number

    store = _store(args)
    if sum(map(bool, (args.stage, args.sweep, args.climb))) != 1:
        raise UsageError("queue add needs --stage NAME, --sweep SPACE.yaml or --climb (one of them)")
    overrides = pairs(args.set)
    if args.task:
        overrides["task"] = args.task
    check_number("cpus", args.cpus), check_number("gpus", args.gpus)
    check_number("minutes", args.minutes, optional=True)
    priority = _priority(args.priority) if args.priority else None
    sweep, space = {}, {}
    if args.sweep:
        import yaml

        from runners.sweeps.driver import prepare

        stage = args.sweep_stage
        sweep = {"num_samples": args.num_samples, "max_concurrent": args.max_concurrent}
        sweep.update({"max_iterations": args.max_iterations, "cpus_per_trial": args.cpus})
        sweep["gpus_per_trial"] = args.gpus
        sweep = {k: v for k, v in sweep.items() if v not in ("", None)}
        task = overrides.pop("task", None)
        settings = {**sweep, "stage": stage}
        checked, _, _, _, target = prepare(
            store, idea=args.idea, space_file=args.sweep, settings=settings, task=task, overrides=overrides
        )
        sweep["max_concurrent"] = checked.max_concurrent
        with open(args.sweep, encoding="utf-8") as f:
            space = yaml.safe_load(f) or {}
        if task:
            overrides["task"] = task
        what = "sweep"
    elif args.climb:
        stage = args.to
        what = "climb"
        _check_climb(overrides, args.to)
        target = target_for(store, args.idea)
    else:
        if args.stage not in STAGES:
            raise UsageError(f"--stage {args.stage!r} is not a stage; allowed: {', '.join(STAGES)}")
        stage = what = args.stage
        cfg = resolve(STAGES[stage].config, None, overrides)
        load_task(cfg.task, seed=cfg.seed)  # a task that cannot load fails now, not at night
        target = target_for(store, args.idea)
    task_name = overrides.get("task") or "digits"
    item = add_item(
        store,
        idea_id=target.idea_id,
        what=what,
        stage=stage,
        task=task_name,
        overrides=overrides,
        space=space,
        sweep=sweep,
        cpus=args.cpus,
        gpus=args.gpus,
        minutes=args.minutes or None,
        priority=priority,
    )
    print(item)
    return 0


def _check_climb(overrides: dict, to: str) -> None:
    """A climb takes what every rung takes (task, seed, seeds, device), checked as each rung's
    config, and its task must load: refused now, not at night."""
    from runners.climb import CLIMB_KEYS, rungs
    from runners.stages import STAGES
    from runners.stages.config import resolve
    from runners.tasks.base import load_task

    other = sorted(set(overrides) - set(CLIMB_KEYS))
    if other:
        allowed = ", ".join(CLIMB_KEYS)
        raise UsageError(f"a climb takes {allowed}, not {', '.join(other)} (use --stage for those)")
    cfg = None
    for name in rungs(to):
        fields = STAGES[name].config.__dataclass_fields__
        cfg = resolve(STAGES[name].config, None, {k: v for k, v in overrides.items() if k in fields})
    load_task(cfg.task, seed=cfg.seed)


def _priority(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"priority {text[:40]!r} is not a number (or `none`)") from None


def cmd_list(args) -> int:
    from dataclasses import asdict

    from tracker.queue_items import list_items
    from tracker.queue_report import queue_rows

    store = _store(args)
    rows = queue_rows(store)
    others = [i for i in list_items(store) if i.state != "queued"] if args.all else []
    if args.json:
        out = [{**{k: asdict(r.item)[k] for k in ITEM_FIELDS}, "idea": r.item.idea_id, "title": r.title,
                "estimated_minutes": r.minutes, "estimate_from": r.minutes_from, "order": n + 1}
               for n, r in enumerate(rows)]  # fmt: skip
        out += [{k: asdict(i)[k] for k in ITEM_FIELDS} | {"idea": i.idea_id} for i in others]
        print(json.dumps(out, indent=1))
        return 0
    if not rows and not others:
        say("the queue is empty: `idealoop queue add --idea ID --stage generalize`")
    for n, r in enumerate(rows, 1):
        it = r.item
        what = f"{it.what} {it.task}"
        prio = f"priority {it.priority:g}" if it.priority is not None else f"{r.rank_value:.3g}/GPU-h"
        held = f"{it.held[0]:g} CPU {it.held[1]:g} GPU"
        est = (
            f"~{r.minutes:.3g} min ({r.minutes_from})"
            if r.minutes >= 1
            else f"~{r.minutes * 60:.0f} s ({r.minutes_from})"
        )
        print(f"{n:3} {it.id[:8]}  {r.title[:36]:36}  {what:22} {held:16} {est}, {prio}")
    for it in others:
        print(f"  - {it.id[:8]}  {it.state:8} {it.what} {it.task}  {it.reason[:80]}")
    return 0


def cmd_remove(args) -> int:
    from tracker.queue_items import remove_item

    item = remove_item(_store(args), args.id)
    say(f"queue: removed {item.id}")
    return 0


def cmd_priority(args) -> int:
    from tracker.queue_items import get_item, set_priority

    store = _store(args)
    item = get_item(store, args.id)
    set_priority(store, item.id, _priority(args.priority))
    return 0


def cmd_start(args) -> int:
    from runners.queue.control import open_or_continue
    from runners.queue.driver import Driver, run
    from tracker.queue_items import QueueError

    store = _store(args)
    until = parse_until(args.until)
    budget = None
    if args.budget_gpu_hours:
        try:
            budget = float(args.budget_gpu_hours)
        except ValueError:
            raise UsageError(f"--budget-gpu-hours {args.budget_gpu_hours!r} is not a number") from None
        if budget <= 0:
            raise UsageError(f"--budget-gpu-hours={budget:g} is out of range; allowed: > 0")
    if until <= time.time() * 1000:
        raise QueueError(f"--until {args.until} is already past")
    if args.address:  # a wrong address is one line before any session is opened
        from runners.queue.ray_head import job_client

        job_client(args.address)
    session, continued = open_or_continue(store, until, budget)
    say(f"queue: {'continues' if continued else 'opens'} session {session}")
    print(session)
    sys.stdout.flush()
    driver = Driver(
        store, session, address=args.address or None, num_cpus=args.num_cpus, num_gpus=args.num_gpus, say=say
    )
    try:
        run(driver, args.poll)
    except KeyboardInterrupt:
        say("queue: driver stopped; running jobs go on — `idealoop queue start` again continues them, "
            "`idealoop queue stop` stops them")  # fmt: skip
        return 130
    return 0


def cmd_stop(args) -> int:
    from runners.queue.control import stop_queue

    said = stop_queue(_store(args), wait_s=args.wait, say=say)
    return 0 if said else 1


def cmd_report(args) -> int:
    import os

    from tracker.queue_report import build_report, render

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # log tails: no bars on stderr
    report = build_report(_store(args), args.session or None)
    if args.json:
        from dataclasses import asdict

        out = {"session": asdict(report.session) if report.session else None, "usage": report.usage,
               "items": [{**asdict(f.item), "title": f.title, "runs": [asdict(r) for r in f.runs],
                          "log_tail": f.log_tail} for f in report.fates],
               "proposals": report.proposals, "still_queued": report.still_queued}  # fmt: skip
        print(json.dumps(out, indent=1, default=str))
    else:
        print(render(report))
    return 0
