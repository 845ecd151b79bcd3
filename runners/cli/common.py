"""What every `idealoop` command shares: the usage-error type, messages on stderr, the store.

Kept apart so the command modules (`cli`, `cli_ideas`) import it without importing each other.
"""

from __future__ import annotations

import argparse
import os
import sys

EXIT_USAGE = 2  # bad input: nothing was written
EXIT_FAILED = 1  # the command ran and failed (a run it made is recorded FAILED)
MAX_LINE = 300  # an error line is for reading; the whole text is in the traceback artifact


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line like every other idealoop error (argparse's own
    prints the whole usage block first), with a pointer to the command's --help."""

    def error(self, message: str) -> None:
        if len(message) > MAX_LINE:
            message = message[: MAX_LINE - 1] + "…"
        say(f"idealoop: error: {message} (see `{self.prog} --help`)")
        raise SystemExit(EXIT_USAGE)


def say(msg: str) -> None:
    print(msg, file=sys.stderr)


def pairs(items: list[str] | None) -> dict[str, str]:
    """`--set KEY=VALUE` items as a dict (a malformed one is a UsageError)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def store_of(args):
    """The store named by --tracking-uri / --project, else the environment, else the defaults.

    The boundary for the tracking URI: resolved (and made absolute) here, once per command;
    everything the command starts gets this `Store`, or a `Target` holding it.
    """
    from tracker.store import Store

    return Store.resolve(uri=args.tracking_uri, project=args.project, create=getattr(args, "create", False))


def debugging(args) -> bool:
    """--debug or IDEALOOP_DEBUG=1: let a failure's traceback reach the terminal."""
    return bool(getattr(args, "debug", False)) or os.environ.get("IDEALOOP_DEBUG", "") not in ("", "0")


def error_line(exc: BaseException) -> str:
    """A foreseen error (bad input) as the one line the user reads, cut to MAX_LINE (no password:
    a URI in it is redacted before it is cut, so no part of one can show)."""
    from tracker.redaction import redact_uri

    text = " ".join(redact_uri(str(exc)).split()) or type(exc).__name__
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def failure_line(exc: BaseException) -> str:
    """One line for a failure nobody foresaw: what happened and where to look."""
    from tracker.redaction import redact_uri, server_refusal

    refused = server_refusal(exc)  # a tracking server's 401/403: which variable, or whose permission
    if refused:
        return refused
    text = redact_uri(str(exc)).strip().splitlines()
    what = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    if len(what) > MAX_LINE:
        what = what[: MAX_LINE - 1] + "…"
    step = getattr(exc, "idealoop_step", None)  # set by the trainer: the step it broke at
    if step is not None and " at step " not in what:
        what += f" (at step {step})"
    run_id = getattr(exc, "idealoop_run_id", None)  # set by tracker.runs when a run recorded it
    saved = getattr(exc, "idealoop_traceback", None)
    where = f"run {run_id} is FAILED" if run_id else ""
    where += f", its traceback in artifact {saved}; " if saved else "; " if run_id else ""
    return f"{what} ({where}--debug or IDEALOOP_DEBUG=1 prints the traceback)"


def port_number(text: str) -> int:
    """argparse type for --port: an integer in 0-65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a port number (0-65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range; allowed: 0-65535")
    return port


def free_port(host: str, port: int) -> int:
    """The port the board will serve on: `port`, checked free on `host` (an address this machine
    has), or any free one for 0, so the URL printed is the one that answers."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UsageError(f"--host {host!r} is not an address or a name this machine can resolve") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the servers themselves bind: a port a listener holds is refused, one in TIME_WAIT after
        # a restart is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
        return sock.getsockname()[1]
