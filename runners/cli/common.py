"""What every `idealoop` command shares: the usage-error type, messages on stderr, the store.

Kept apart so the command modules (`cli`, `cli_ideas`) import it without importing each other.
"""

from __future__ import annotations

import sys

EXIT_USAGE = 2


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


def first_line(exc: BaseException | str) -> str:
    """An error as one line for the user: its first line, else its type's name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def store_of(args):
    """The store named by --tracking-uri / --project, else the environment, else the defaults.

    The boundary for the tracking URI: resolved (and made absolute) here, once per command;
    everything the command starts gets this `Store`, or a `Target` holding it.
    """
    from tracker.store import Store

    return Store.resolve(uri=args.tracking_uri, project=args.project)
