"""What every `idealoop` command shares: the usage-error type, messages on stderr, the store.

Kept apart so the command modules (`cli`, `cli_ideas`) import it without importing each other.
"""

from __future__ import annotations

import os
import sys

EXIT_USAGE = 2  # bad input: nothing was written
EXIT_FAILED = 1  # the command ran and failed (a run it made is recorded FAILED)
MAX_LINE = 300  # an error line is for reading; the whole text is in the traceback artifact


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def say(msg: str) -> None:
    print(msg, file=sys.stderr)


def sigterm_as_interrupt() -> None:
    """SIGTERM (the board's cancel button, `kill`) acts like Ctrl-C: KeyboardInterrupt in the
    main thread, so a stage or sweep ends KILLED with reason `killed` and the CLI exits 130.
    Called at start-up, and again after `ray.init`, whose core worker installs a C++ handler
    that would abort the driver (exit 134) before any Python runs."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def store_of(args):
    """The store named by --tracking-uri / --project, else the environment, else the defaults.

    The boundary for the tracking URI: resolved (and made absolute) here, once per command;
    everything the command starts gets this `Store`, or a `Target` holding it.
    """
    from tracker.store import Store

    return Store.resolve(uri=args.tracking_uri, project=args.project)


def debugging(args) -> bool:
    """--debug or IDEALOOP_DEBUG=1: let a failure's traceback reach the terminal."""
    return bool(getattr(args, "debug", False)) or os.environ.get("IDEALOOP_DEBUG", "") not in ("", "0")


def failure_line(exc: BaseException) -> str:
    """One line for a failure nobody foresaw: what happened and where to look."""
    text = str(exc).strip().splitlines()
    what = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    if len(what) > MAX_LINE:
        what = what[: MAX_LINE - 1] + "…"
    run_id = getattr(exc, "idealoop_run_id", None)  # set by tracker.runs when a run recorded it
    saved = getattr(exc, "idealoop_traceback", None)
    where = f"run {run_id} is FAILED" if run_id else ""
    where += f", its traceback in artifact {saved}; " if saved else "; " if run_id else ""
    return f"{what} ({where}--debug or IDEALOOP_DEBUG=1 prints the traceback)"
