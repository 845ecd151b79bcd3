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


def store_of(args):
    """The store named by --tracking-uri / --project, else the environment, else the defaults."""
    from tracker.store import Store, project_name, tracking_uri

    return Store(project=project_name(args.project), uri=tracking_uri(args.tracking_uri))
