"""The `idealoop` command line: ideas, stages, the demo and the board.

Conventions: results go to stdout (ids alone, so `id=$(idealoop idea add ...)`
works, or JSON with --json); messages and progress go to stderr. Bad input is
one line, `idealoop: error: ...`, and exit code 2, with nothing written.
Heavy imports (MLflow, torch) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys

from runners.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    debugging,
    error_line,
    failure_line,
    free_port,
    pairs,
    port_number,
    say,
    store_of,
)
from runners.cli.ideas import (
    cmd_calibration,
    cmd_idea_add,
    cmd_idea_list,
    cmd_idea_outcome,
    cmd_idea_show,
    cmd_idea_update,
)
from runners.cli.people import add_arguments as people_arguments
from runners.process import sigterm_as_interrupt

__all__ = ["EXIT_USAGE", "UsageError", "build_parser", "console", "main"]


# -- run ----------------------------------------------------------------------
def cmd_run_stage(args) -> int:
    from runners.cli.run import cmd_run_stage as run

    return run(args)


def cmd_tune(args) -> int:
    from runners.cli.tune import cmd_tune as tune

    return tune(args, store_of(args), pairs(args.set))


def cmd_climb(args) -> int:
    from runners.cli.climb import cmd_climb as climb

    return climb(args)


# -- demo / board -------------------------------------------------------------
def cmd_demo(args) -> int:
    from runners.cli.demo import run_demo

    return run_demo(store_of(args), progress=not args.no_progress)


def cmd_board(args) -> int:
    import subprocess
    from pathlib import Path

    app = Path(__file__).resolve().parents[2] / "board" / "app.py"
    port = free_port(args.host, args.port)  # checked before Streamlit starts; 0 = any free port
    store = store_of(args)
    # A Streamlit server takes no arguments of ours: the resolved store (absolute URI) goes in its
    # environment, which the board reads once per page (`board.common.store`).
    env = dict(os.environ, MLFLOW_TRACKING_URI=store.uri, IDEALOOP_PROJECT=store.project)
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--server.address",
        args.host,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",  # a board is not a dev server: no reloads, no inotify watchers
    ]
    say(f"idealoop board: http://{args.host}:{port}  (Ctrl-C to stop)")
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def cmd_server(args) -> int:
    from runners.cli.server import cmd_server as serve

    return serve(args)


# -- parser -------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project", help="MLflow experiment holding the ideas (env IDEALOOP_PROJECT; default idealoop)"
    )
    common.add_argument(
        "--tracking-uri", help="MLflow tracking URI (env MLFLOW_TRACKING_URI; default sqlite:///mlflow.db)"
    )
    common.add_argument(
        "--create", action="store_true", help="a SQLite store may be made in a folder that does not exist yet"
    )
    common.add_argument(
        "--debug", action="store_true", help="print the traceback of a failure (env IDEALOOP_DEBUG=1)"
    )

    p = OneLineParser(prog="idealoop", description="Run the research loop: ideas → stages → evidence.")
    sub = p.add_subparsers(dest="command", required=True)

    idea = sub.add_parser("idea", help="add, list, show and update ideas")
    isub = idea.add_subparsers(dest="idea_command", required=True)
    add = isub.add_parser("add", parents=[common], help="add an idea; prints its id")
    add.add_argument("--title", required=True)
    add.add_argument("--hours", required=True, help="time to implement, hours (> 0)")
    add.add_argument("--complexity", required=True, help="complexity added, integer 1-5")
    add.add_argument("--impact", required=True, help="expected gain in the target metric (> 0)")
    add.add_argument("--likelihood", required=True, help="probability of success, 0-1")
    add.add_argument("--category", default="")
    add.add_argument("--description", default="")
    add.set_defaults(func=cmd_idea_add)

    ls = isub.add_parser("list", parents=[common], help="ideas ranked by score")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--status", help="only ideas with this status (succeeded/failed included)")
    ls.add_argument(
        "--all", action="store_true", help="include decided ideas (succeeded/failed), left out by default"
    )
    ls.add_argument(
        "--calibrated",
        action="store_true",
        help="rank with the team's calibration (hours x planning factor, likelihood recalibrated; "
        "from 5 decided ideas on, shrunk towards the stated estimates)",
    )
    ls.set_defaults(func=cmd_idea_list)

    show = isub.add_parser("show", parents=[common], help="one idea: estimates, revisions, runs")
    show.add_argument("id", help="idea id (or a unique prefix of 6+ characters)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_idea_show)

    up = isub.add_parser("update", parents=[common], help="append a revision to an idea")
    up.add_argument("id")
    for name in ("hours", "complexity", "impact", "likelihood"):
        up.add_argument(f"--{name}")
    up.add_argument("--status", help="proposed | in_progress | succeeded | failed | abandoned")
    up.add_argument("--title")
    up.add_argument("--category")
    up.add_argument("--description")
    up.add_argument("--note", help="why the estimates changed")
    up.set_defaults(func=cmd_idea_update)

    from runners.stages import LADDER  # light: config classes only

    out = isub.add_parser(
        "outcome", parents=[common], help="judge an idea from its runs; propose new estimates"
    )
    out.add_argument("id")
    out.add_argument(
        "--reference",
        choices=("best", "baseline"),
        default="best",
        help="compare with the project's best other run (default) or the non-DL baseline",
    )
    out.add_argument("--threshold", type=float, default=0.0, help="smallest gain that counts as success")
    out.add_argument(
        "--hours",
        type=float,
        help="hours a person spent on the idea (without it the hours estimate is kept: the runs' "
        "duration is compute, not implementation time)",
    )
    out.add_argument("--accept", action="store_true", help="append the proposal as a revision")
    out.add_argument("--json", action="store_true")
    out.set_defaults(func=cmd_idea_outcome)

    cal = sub.add_parser("calibration", parents=[common], help="how well the team predicts")
    cal.add_argument("--json", action="store_true")
    cal.set_defaults(func=cmd_calibration)
    people_arguments(isub, common, author_for=[add, up, out], ranking=[ls, show], calibration=cal)

    run = sub.add_parser("run", help="run a stage of the ladder")
    rsub = run.add_subparsers(dest="stage", required=True)
    for stage in LADDER:
        sp = rsub.add_parser(stage.name, parents=[common], help=f"{stage.help} ({stage.entry_point})")
        sp.add_argument("--idea", default="", help="idea id: the run is nested under it")
        sp.add_argument("--task", help="built-in task (digits, shapes, denoise) or package.module:function")
        sp.add_argument("--seed", help="random seed (default 0)")
        if "seeds" in stage.config.__dataclass_fields__:  # the stages that can pack seeds
            sp.add_argument(
                "--seeds",
                help="train seeds SEED..SEED+K-1 packed in this process (default 1); gates on the mean",
            )
        sp.add_argument("--config", help="YAML/JSON file of config overrides")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key")
        sp.add_argument("--no-progress", action="store_true")
        sp.add_argument(
            "--resume", default="", metavar="RUN_ID",
            help="continue a KILLED or FAILED run of this stage from its last epoch checkpoint",
        )  # fmt: skip
        sp.add_argument(
            "--force", action="store_true",
            help="with --resume: also a run left RUNNING by a process that is gone (kill -9, out of memory)",
        )  # fmt: skip
        sp.set_defaults(func=cmd_run_stage)

    from runners.cli.tune import add_arguments as tune_arguments  # light: no Ray until it runs

    tune = sub.add_parser("tune", parents=[common], help="sweep an idea's variants with Ray Tune and ASHA")
    tune_arguments(tune)
    tune.set_defaults(func=cmd_tune)

    from runners.cli.climb import add_arguments as climb_arguments  # light: no torch until it runs

    climb = sub.add_parser(
        "climb", parents=[common], help="one idea up the whole ladder, an optional sweep, then its verdict"
    )
    climb_arguments(climb)
    climb.set_defaults(func=cmd_climb)

    from runners.cli.queue import add_parsers as queue_parsers  # light: no Ray until it runs

    queue_parsers(sub, common)
    from runners.cli.project import add_arguments as project_arguments  # light: no MLflow until it runs

    project_arguments(sub.add_parser("project", help="the project's target and its weak classes"), common)

    demo = sub.add_parser("demo", parents=[common], help="example ideas + one stage_overfit run")
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(func=cmd_demo)

    board = sub.add_parser("board", parents=[common], help="start the Streamlit idea board")
    board.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    board.add_argument("--port", type=port_number, default=8501, help="0-65535; 0 picks a free port")
    board.set_defaults(func=cmd_board)

    from runners.cli.server import add_arguments as server_arguments  # light: no MLflow until it runs

    server = sub.add_parser(
        "server", help="start the team's MLflow tracking server (database, auth, artifacts)"
    )
    server_arguments(server)
    server.set_defaults(func=cmd_server)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sigterm_as_interrupt()
    # Against a server MLflow writes "View run ... at: URL" to stdout on every run it ends: our
    # stdout is for results (ids), and that URL would carry a password put in the tracking URI.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        return args.func(args)
    except UsageError as exc:
        say(f"idealoop: error: {error_line(exc)}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say("idealoop: interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - one error path: every failure is one line
        if _is_user_error(exc) and not getattr(exc, "idealoop_run_id", None):  # else: a run recorded it
            say(f"idealoop: error: {error_line(exc)}")
            return EXIT_USAGE
        if debugging(args):
            raise
        say(f"idealoop: error: {failure_line(exc)}")
        return EXIT_FAILED


def console() -> None:
    """The `idealoop` console script and `python -m runners.cli`: `main`, then a quick exit
    (`runners.process.exit_now`: a second saved on every command)."""
    from runners.process import exit_now

    exit_now(exit_code(None))


def exit_code(argv: list[str] | None) -> int:
    """`main`'s exit status as a process would end with it (also a queue item's warm start)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # --help, a usage error
        code = exc.code
    if isinstance(code, str):  # sys.exit("message"): printed, exit 1, as Python does
        say(code)
        code = 1
    return code or 0


def _is_user_error(exc: Exception) -> bool:
    from runners.queue.ray_head import RayError
    from runners.stages.config import ConfigError
    from runners.sweeps.settings import SweepError
    from runners.tasks.base import TaskError
    from tracker.estimates import EstimateError
    from tracker.ideas import IdeaNotFound
    from tracker.project import TargetError
    from tracker.queue_items import QueueError
    from tracker.store import StoreError

    known = (ConfigError, TaskError, EstimateError, IdeaNotFound, StoreError, SweepError, TargetError)
    return isinstance(exc, (*known, QueueError, RayError))


if __name__ == "__main__":
    console()
